package webhook

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
)

// File names in a TLS directory: the layout of a kubernetes.io/tls Secret (what cert-manager
// writes) plus the CA that signed the serving certificate.
const (
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
	CAFile   = "ca.crt"
)

// WatchCertificates loads dir/tls.crt and dir/tls.key and keeps them current: the watcher
// reloads them when the files change (fsnotify, plus a poll every interval; 0 means 10 s) until
// ctx is cancelled. Pass its GetCertificate to Server.Serve.
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

// SelfSigned generates, with client-go's certificate helpers, a CA and a serving certificate
// for hosts (DNS names or IPs; the first is the subject) and writes tls.crt (serving
// certificate then CA), tls.key and ca.crt into dir. When all three files already exist they
// are kept. It returns the CA certificate in PEM, the caBundle of the
// MutatingWebhookConfiguration.
//
// This is the bootstrap for local clusters and tests; in a real cluster let cert-manager issue
// the certificate into a Secret mounted at the TLS directory and inject the caBundle.
func SelfSigned(dir string, hosts []string) ([]byte, error) {
	if len(hosts) == 0 {
		return nil, errors.New("self-signed certificate: at least one host (DNS name or IP) is required")
	}
	certPath, keyPath, caPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile), filepath.Join(dir, CAFile)
	if ok, _ := cert.CanReadCertAndKey(certPath, keyPath); ok {
		if ca, err := os.ReadFile(caPath); err == nil {
			if _, err := cert.ParseCertsPEM(ca); err != nil {
				return nil, fmt.Errorf("existing %s: %w", caPath, err)
			}
			return ca, nil
		}
	}
	var ips []net.IP
	var names []string
	for _, h := range hosts[1:] {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			names = append(names, h)
		}
	}
	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey(hosts[0], ips, names)
	if err != nil {
		return nil, fmt.Errorf("generating a self-signed certificate: %w", err)
	}
	certs, err := cert.ParseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("parsing the generated certificate: %w", err)
	}
	var ca []*x509.Certificate
	for _, c := range certs {
		if c.IsCA {
			ca = append(ca, c)
		}
	}
	if len(ca) != 1 {
		return nil, fmt.Errorf("generated certificate chain has %d CA certificates, expected 1", len(ca))
	}
	caPEM, err := cert.EncodeCertificates(ca...)
	if err != nil {
		return nil, fmt.Errorf("encoding the CA certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	// Key first, certificate last: a watcher that sees the new certificate finds its key.
	if err := keyutil.WriteKey(keyPath, keyPEM); err != nil {
		return nil, fmt.Errorf("writing %s: %w", keyPath, err)
	}
	if err := cert.WriteCert(caPath, caPEM); err != nil {
		return nil, fmt.Errorf("writing %s: %w", caPath, err)
	}
	if err := cert.WriteCert(certPath, certPEM); err != nil {
		return nil, fmt.Errorf("writing %s: %w", certPath, err)
	}
	return caPEM, nil
}
