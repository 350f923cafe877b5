package webhook

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func servingLeaf(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// TestSelfSignedRenewsBeforeExpiry: a bootstrap run again (every start, and periodically) keeps
// a good certificate, renews one that is close to expiry or expired, and keeps the CA, so the
// registered caBundle stays valid.
func TestSelfSignedRenewsBeforeExpiry(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"argo-eci-webhook.ops.svc", "127.0.0.1"}
	now := time.Now()
	ca, err := selfSigned(dir, hosts, now, false)
	if err != nil {
		t.Fatal(err)
	}
	if life := servingLeaf(t, dir).NotAfter.Sub(now); life > 91*24*time.Hour {
		t.Errorf("serving certificate lives %v; want a short life with renewal", life)
	}
	for _, tc := range []struct {
		name  string
		at    func(current *x509.Certificate) time.Time
		renew bool
	}{
		{"fresh: kept", func(c *x509.Certificate) time.Time { return c.NotBefore.Add(10 * 24 * time.Hour) }, false},
		{"a third of its life left: renewed", func(c *x509.Certificate) time.Time { return c.NotAfter.Add(-bootstrapRenewBefore + time.Hour) }, true},
		{"expired: renewed", func(c *x509.Certificate) time.Time { return c.NotAfter.Add(24 * time.Hour) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := servingLeaf(t, dir)
			at := tc.at(before)
			got, err := selfSigned(dir, hosts, at, false)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, ca) {
				t.Error("the CA changed: the registered caBundle would stop verifying the webhook")
			}
			after := servingLeaf(t, dir)
			if renewed := after.SerialNumber.Cmp(before.SerialNumber) != 0; renewed != tc.renew {
				t.Errorf("renewed = %v, want %v", renewed, tc.renew)
			}
			if tc.renew && !after.NotAfter.After(at.Add(bootstrapRenewBefore)) {
				t.Errorf("renewed certificate expires %v, too soon after %v", after.NotAfter, at)
			}
		})
	}
	// A certificate that does not cover a requested host is replaced.
	if _, err := selfSigned(dir, append(hosts, "argo-eci-webhook.other.svc"), now, false); err != nil {
		t.Fatal(err)
	}
	if err := servingLeaf(t, dir).VerifyHostname("argo-eci-webhook.other.svc"); err != nil {
		t.Errorf("new host not covered: %v", err)
	}
}

// TestRotationUnderLoad renews the serving certificate three times while clients send reviews
// without pause: no request fails, and the expiry metric follows the certificate in use.
func TestRotationUnderLoad(t *testing.T) {
	ts := startServer(t, &Server{Engines: realStore(t, testProfiles)})
	_, raw := typicalPod(t)
	body := podReview(t, "u", raw)
	var stop atomic.Bool
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A fresh connection per request: every request is a new handshake.
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.CA, MinVersion: tls.VersionTLS12}, DisableKeepAlives: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for !stop.Load() {
				sent.Add(1)
				resp, err := client.Post(ts.URL+PathPods, "application/json", bytes.NewReader(body))
				if err != nil {
					failed.Add(1)
					t.Errorf("request during rotation: %v", err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					t.Errorf("request during rotation: status %d", resp.StatusCode)
				}
			}
		}()
	}
	var last *x509.Certificate
	for range 3 {
		time.Sleep(300 * time.Millisecond)
		if _, err := selfSigned(ts.CertDir, []string{"127.0.0.1", "localhost"}, time.Now(), true); err != nil {
			t.Fatal(err)
		}
		last = servingLeaf(t, ts.CertDir)
	}
	addr := strings.TrimPrefix(ts.URL, "https://")
	eventually(t, "the last certificate to be served", func() bool { return servedSerial(t, addr, ts.CA) == last.SerialNumber.String() })
	stop.Store(true)
	wg.Wait()
	if sent.Load() < 20 || failed.Load() != 0 {
		t.Errorf("%d requests, %d failed; want many and none failed", sent.Load(), failed.Load())
	}
	if got := testutil.ToFloat64(ts.Metrics.certExpiry); got != float64(last.NotAfter.Unix()) {
		t.Errorf("certificate expiry metric %v, want %d", got, last.NotAfter.Unix())
	}
}
