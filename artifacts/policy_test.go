package artifacts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/internal/osstest"
)

func TestPolicyCheck(t *testing.T) {
	base := "bucket: b-1\nregion: cn-hangzhou\n"
	cases := []struct {
		name   string
		policy Policy
		cfg    string
		fields []string
	}{
		{"default: OSS endpoint over https", Policy{}, "endpoint: oss-cn-hangzhou-internal.aliyuncs.com\n" + base, nil},
		{"default: OSS endpoint URL", Policy{}, "endpoint: https://oss-cn-beijing.aliyuncs.com\n" + base, nil},
		{"default: other host", Policy{}, "endpoint: https://evil.example.com\n" + base, []string{"endpoint"}},
		{"default: look-alike host", Policy{}, "endpoint: oss-cn-hangzhou.aliyuncs.com.evil.example\n" + base, []string{"endpoint"}},
		{"default: http refused", Policy{}, "endpoint: http://oss-cn-hangzhou.aliyuncs.com\n" + base, []string{"endpoint"}},
		{"http allowed", Policy{AllowHTTP: true}, "endpoint: http://oss-cn-hangzhou.aliyuncs.com\n" + base, nil},
		{"own endpoint", Policy{AllowedEndpoints: []string{"minio.storage.svc"}}, "endpoint: https://minio.storage.svc:9000\n" + base, nil},
		{"default prefix", Policy{}, "endpoint: oss-cn-hangzhou.aliyuncs.com\n" + base +
			"credentials: {accessKeyIdEnv: ARTIFACT_OSS_ID, accessKeySecretEnv: ARTIFACT_OSS_SECRET}\n", nil},
		{"default chain variables refused by name", Policy{}, "endpoint: oss-cn-hangzhou.aliyuncs.com\n" + base +
			"credentials: {accessKeyIdEnv: OSS_ACCESS_KEY_SECRET, accessKeySecretEnv: ARTIFACT_OSS_SECRET, sessionTokenEnv: AWS_SESSION_TOKEN}\n",
			[]string{"credentials.accessKeyIdEnv", "credentials.sessionTokenEnv"}},
		{"own prefix", Policy{CredentialEnvPrefix: "TEAM_"}, "endpoint: oss-cn-hangzhou.aliyuncs.com\n" + base +
			"credentials: {accessKeyIdEnv: TEAM_ID, accessKeySecretEnv: ARTIFACT_OSS_SECRET}\n", []string{"credentials.accessKeySecretEnv"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range tc.policy.Check(c, nil) {
				got = append(got, e.Field)
			}
			if !slices.Equal(got, tc.fields) {
				t.Fatalf("refused fields %q, want %q", got, tc.fields)
			}
		})
	}
	if errs := (Policy{AllowedEndpoints: []string{"a/b", "[", ""}, CredentialEnvPrefix: "bad prefix"}).Validate(nil); len(errs) != 4 {
		t.Fatalf("invalid policy: %v", errs)
	}
	if _, err := NewDriver(nil, Policy{AllowedEndpoints: []string{"["}}, nil); !errors.As(err, new(*badinput.Error)) {
		t.Fatalf("NewDriver with a bad pattern: %v", err)
	}
}

// TestCRCErrorsAreTyped: integrity failures are classified with errors.As/Is on the error's
// type, for uploads and downloads alike.
func TestCRCErrorsAreTyped(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "partSize: 100Ki\nmaxAttempts: 1\n")
	b := f.bucket(t, cfg)
	src := filepath.Join(t.TempDir(), "in")
	writeFile(t, src, randomBytes(2, 350<<10))
	for _, tc := range []struct {
		op   string
		kind osstest.FaultKind
	}{{"UploadPart", osstest.FaultCorruptRequest}, {"CompleteMultipartUpload", osstest.FaultWrongCRC}} {
		f.oss.Inject(osstest.Fault{Kind: tc.kind, Op: tc.op})
		err := b.Save(t.Context(), src, "typed/"+tc.op)
		f.oss.ClearFaults()
		var ce *CRCError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCRCMismatch) || ce.Computed == ce.Server {
			t.Errorf("%s: %v, want a *CRCError", tc.op, err)
		}
	}
	if err := b.Save(t.Context(), src, "typed/ok"); err != nil {
		t.Fatal(err)
	}
	f.oss.Inject(osstest.Fault{Kind: osstest.FaultCorrupt, Op: "GetObject"})
	err := b.Load(t.Context(), "typed/ok", filepath.Join(t.TempDir(), "out"))
	var ce *CRCError
	if !errors.As(err, &ce) {
		t.Fatalf("ranged load of corrupted bytes: %v, want a *CRCError", err)
	}
}

// TestProxyFromEnvironment runs the artifact server with HTTPS_PROXY/HTTP_PROXY set: requests
// to an OSS endpoint go through the proxy (Argo's built-in driver ignores it, argo#12313).
func TestProxyFromEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the argo-eci binary")
	}
	dir := shortTempDir(t)
	bin := buildArgoECI(t, dir)
	s := startOSS(t, osstest.Options{Remote: osstest.Remote{Off: true}})
	target, _ := url.Parse(s.URL)
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI, out.URL.Scheme, out.URL.Host = "", "http", target.Host
		res, err := (&http.Transport{}).RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	}))
	t.Cleanup(proxy.Close)
	socket := filepath.Join(dir, "socket")
	cmd := exec.Command(bin, "artifact-server", "--allow-http", socket)
	cmd.Env = append(os.Environ(), "HTTP_PROXY="+proxy.URL, "HTTPS_PROXY="+proxy.URL, "NO_PROXY=",
		EnvAccessKeyID+"="+s.AccessKeyID(), EnvAccessKeySecret+"="+s.AccessKeySecret())
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitForSocket(t, socket)
	client := connect(t, socket, stderr)
	cfg := fmt.Sprintf("endpoint: http://oss-%s.aliyuncs.com\nbucket: %s\npathStyle: true\n", s.Region(), osstest.DefaultBucket)
	src := filepath.Join(dir, "in")
	writeFile(t, src, []byte("through the proxy"))
	if err := client.Save(argoContext(), src, pluginArtifact(cfg, "proxy/file")); err != nil {
		t.Fatalf("save: %v\n%s", err, stderr.String())
	}
	if got, _ := s.Object(osstest.DefaultBucket, "proxy/file"); string(got) != "through the proxy" || proxied.Load() == 0 {
		t.Fatalf("stored %q, %d requests through the proxy", got, proxied.Load())
	}
	// The server logs before it replies, but the log reaches this process through a pipe that
	// os/exec copies on its own goroutine: wait for it.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "artifact operation done"); {
		if time.Now().After(deadline) {
			t.Fatalf("no completed operation logged:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedBuffer is a bytes.Buffer that a child process's output copier and the test may use at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestCompleteRefusesUnverifiedParts: a Complete that would commit a part whose CRC-64 was
// never verified is refused before it reaches OSS.
func TestCompleteRefusesUnverifiedParts(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	b := f.bucket(t, configFor(f.oss, ""))
	tr := newTransfer(b.client, "k", 1)
	f.oss.ResetCounts()
	_, err := tr.CompleteMultipartUpload(t.Context(), &oss.CompleteMultipartUploadRequest{Bucket: &b.cfg.Bucket, Key: oss.Ptr("k"),
		UploadId: oss.Ptr("id"), CompleteMultipartUpload: &oss.CompleteMultipartUpload{Parts: []oss.UploadPart{{PartNumber: 1, ETag: oss.Ptr("e")}}}})
	if !errors.Is(err, ErrMissingCRC) || f.oss.Requests("CompleteMultipartUpload") != 0 {
		t.Fatalf("Complete with an unverified part: %v, %d requests", err, f.oss.Requests("CompleteMultipartUpload"))
	}
}
