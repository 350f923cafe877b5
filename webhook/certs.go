package webhook

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
)

// File names in a TLS directory: the layout of a kubernetes.io/tls Secret (what cert-manager
// writes) plus the CA that signed the serving certificate, and, for the self-signed bootstrap
// only, the CA's key.
const (
	CertFile  = "tls.crt"
	KeyFile   = "tls.key"
	CAFile    = "ca.crt"
	CAKeyFile = "ca.key"
)

// Lifetimes of the self-signed bootstrap: the CA (the caBundle registered with the apiserver)
// lives ten years, the serving certificate 90 days and is renewed, under the same CA, once
// less than a third of its life is left.
const (
	bootstrapCALifetime   = 10 * 365 * 24 * time.Hour
	bootstrapCertLifetime = 90 * 24 * time.Hour
	bootstrapRenewBefore  = bootstrapCertLifetime / 3
)

// WatchCertificates loads dir/tls.crt and dir/tls.key and keeps them current: the watcher
// reloads them when the files change (fsnotify, plus a poll every interval; 0 means 10 s) until
// ctx is cancelled. Use its GetCertificate as Server.Certificates.
func WatchCertificates(ctx context.Context, dir string, interval time.Duration) (*certwatcher.CertWatcher, error) {
	w, err := certwatcher.New(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("loading the serving certificate from %s: %w", dir, err)
	}
	if interval > 0 {
		w = w.WithWatchInterval(interval)
	}
	go func() { _ = w.Start(ctx) }() // Start logs its own errors and returns when ctx ends
	return w, nil
}

// SelfSigned makes sure dir holds a CA (ca.crt, ca.key) and a serving certificate signed by it
// for hosts (DNS names or IPs; the first is the subject) in tls.crt and tls.key, and returns
// the CA certificate in PEM, the caBundle of the MutatingWebhookConfiguration.
//
// What is there is kept while it is good: the CA while it is valid for longer than a serving
// certificate lives, the serving certificate while it covers hosts, chains to the CA and has
// more than a third of its life left. Otherwise it is renewed (the serving certificate under
// the same CA, so the caBundle does not change), which makes SelfSigned safe to call again on
// every start and periodically ([RenewSelfSigned]).
//
// This is the bootstrap for local clusters and tests; in a real cluster let cert-manager issue
// the certificate into a Secret mounted at the TLS directory and inject the caBundle.
func SelfSigned(dir string, hosts []string) ([]byte, error) {
	return selfSigned(dir, hosts, time.Now(), false)
}

// selfSigned is SelfSigned at time now; force renews the serving certificate even if it is good.
func selfSigned(dir string, hosts []string, now time.Time, force bool) ([]byte, error) {
	if len(hosts) == 0 {
		return nil, errors.New("self-signed certificate: at least one host (DNS name or IP) is required")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	ca, caKey, caPEM, err := loadOrCreateCA(dir, now)
	if err != nil {
		return nil, err
	}
	if !force && servingCertGood(dir, hosts, ca, now) {
		return caPEM, nil
	}
	certPEM, keyPEM, err := newServingCert(hosts, ca, caKey, now)
	if err != nil {
		return nil, err
	}
	// Key first, certificate last: a watcher that sees the new certificate finds its key.
	// Both are replaced by rename, so a reader never sees half a file.
	if err := writeFileAtomic(filepath.Join(dir, KeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, CertFile), certPEM, 0o644); err != nil {
		return nil, err
	}
	return caPEM, nil
}

// RenewSelfSigned calls SelfSigned for dir every interval until ctx ends, so a long-running
// bootstrap webhook never serves an expired certificate; errors are logged and retried.
func RenewSelfSigned(ctx context.Context, log *slog.Logger, dir string, hosts []string, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := SelfSigned(dir, hosts); err != nil {
				log.Error("renewing the self-signed certificate failed", "dir", dir, "error", err)
			}
		}
	}
}

func loadOrCreateCA(dir string, now time.Time) (*x509.Certificate, crypto.Signer, []byte, error) {
	caPath, caKeyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	if caPEM, err := os.ReadFile(caPath); err == nil {
		certs, perr := cert.ParseCertsPEM(caPEM)
		key, kerr := keyutil.PrivateKeyFromFile(caKeyPath)
		signer, ok := key.(crypto.Signer)
		if perr == nil && kerr == nil && ok && len(certs) == 1 && certs[0].IsCA &&
			certs[0].NotAfter.After(now.Add(bootstrapCertLifetime)) {
			return certs[0], signer, caPEM, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generating the CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "argo-eci-webhook-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(bootstrapCALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("creating the CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, nil, err
	}
	caPEM, err := cert.EncodeCertificates(ca)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := writeFileAtomic(caKeyPath, keyPEM, 0o600); err != nil {
		return nil, nil, nil, err
	}
	if err := writeFileAtomic(caPath, caPEM, 0o644); err != nil {
		return nil, nil, nil, err
	}
	return ca, key, caPEM, nil
}

// servingCertGood reports whether dir's serving certificate can stay: it loads with its key,
// chains to ca, names every host and has more than bootstrapRenewBefore left.
func servingCertGood(dir string, hosts []string, ca *x509.Certificate, now time.Time) bool {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil || len(pair.Certificate) == 0 {
		return false
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || now.Add(bootstrapRenewBefore).After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return false
	}
	if leaf.CheckSignatureFrom(ca) != nil {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func newServingCert(hosts []string, ca *x509.Certificate, caKey crypto.Signer, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(bootstrapCertLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range slices.Compact(slices.Clone(hosts)) {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the serving certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	// tls.crt is the serving certificate followed by its CA, as cert-manager writes it.
	if certPEM, err = cert.EncodeCertificates(leaf, ca); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// writeAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
