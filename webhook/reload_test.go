package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	wffake "github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned/fake"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/emissary"
)

// eventually polls cond every 20 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// servedSerial dials the server and returns the serial number of the certificate it presents.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) string {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func TestCertificateReload(t *testing.T) {
	ts := startServer(t, &Server{Engines: realStore(t, testProfiles)})
	addr := strings.TrimPrefix(ts.URL, "https://")
	first := servedSerial(t, addr, ts.CA)

	// Rotate: a new CA and serving certificate replace the files, the way a Secret update does.
	next := t.TempDir()
	caPEM, err := SelfSigned(next, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	roots := ts.CA.Clone()
	roots.AppendCertsFromPEM(caPEM)
	for _, name := range []string{KeyFile, CertFile} {
		data, err := os.ReadFile(filepath.Join(next, name))
		if err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(ts.CertDir, "."+name+".tmp")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(ts.CertDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the new certificate to be served", func() bool { return servedSerial(t, addr, roots) != first })

	// The old CA no longer verifies the server.
	_, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: ts.CA, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("handshake with the old CA: %v, want an unknown-authority error", err)
	}
}

func TestSelfSignedKeepsExistingFiles(t *testing.T) {
	dir := t.TempDir()
	ca1, err := SelfSigned(dir, []string{"argo-eci-webhook.argo.svc", "127.0.0.1", "argo-eci-webhook"})
	if err != nil {
		t.Fatal(err)
	}
	ca2, err := SelfSigned(dir, []string{"argo-eci-webhook.argo.svc"})
	if err != nil {
		t.Fatal(err)
	}
	if string(ca1) != string(ca2) {
		t.Error("a second bootstrap replaced the existing certificate")
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca1)
	for _, host := range []string{"argo-eci-webhook.argo.svc", "argo-eci-webhook", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("certificate does not verify for %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "evil.example"}); err == nil {
		t.Error("certificate verifies for a host it was not issued for")
	}
	if _, err := SelfSigned(t.TempDir(), nil); err == nil {
		t.Error("no hosts: want an error")
	}
}

// shapedBy reviews the typical pod and returns its argo-eci.io/shaped-by after the patch.
func shapedBy(t *testing.T, ts *testServer) string {
	t.Helper()
	_, raw := typicalPod(t)
	_, out, body := ts.post(t, PathPods, podReview(t, "u", raw))
	if !out.Response.Allowed {
		t.Fatalf("refused: %s", body)
	}
	pod := &corev1.Pod{}
	if err := json.Unmarshal(applyPatch(t, raw, out.Response), pod); err != nil {
		t.Fatal(err)
	}
	return pod.Annotations[emissary.AnnotationShapedBy]
}

// profilesNamed is a profile set whose default profile is name.
func profilesNamed(name string) string {
	return strings.ReplaceAll(testProfiles, "standard", name)
}

// writeAtomic replaces path the way kubelet updates a mounted ConfigMap: a rename.
func writeAtomic(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestProfileFileReload(t *testing.T) {
	metrics := NewMetrics()
	store := &EngineStore{Metrics: metrics, Logger: quietLogger(t)}
	path := filepath.Join(t.TempDir(), "profiles.yaml")
	writeAtomic(t, path, profilesNamed("alpha"))
	pf := &ProfileFile{Path: path, Store: store, Interval: time.Hour} // events only: no poll can help
	if err := pf.Load(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pf.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	ts := startServer(t, &Server{Engines: store, Metrics: metrics})
	if got := shapedBy(t, ts); got != "alpha" {
		t.Fatalf("shaped-by %q, want alpha", got)
	}
	time.Sleep(50 * time.Millisecond) // let the watch settle before the first change

	writeAtomic(t, path, profilesNamed("beta"))
	eventually(t, "profile beta", func() bool { return shapedBy(t, ts) == "beta" })

	// A bad file keeps the engine in use and says so in the metrics.
	writeAtomic(t, path, profilesNamed("beta")+"    fallbackSpecs: [not, a, number]\n")
	eventually(t, "the failed load to be counted", func() bool {
		return testutil.ToFloat64(metrics.reloads.WithLabelValues("file", "error")) >= 1
	})
	if got := testutil.ToFloat64(metrics.reloadOK); got != 0 {
		t.Errorf("profile_last_load_ok = %v after a bad file, want 0", got)
	}
	// Other files changing in the directory neither reload nor re-report the bad file.
	for i := range 20 {
		writeAtomic(t, filepath.Join(filepath.Dir(path), fmt.Sprintf("other-%d", i)), "x")
	}
	time.Sleep(200 * time.Millisecond)
	if got := testutil.ToFloat64(metrics.reloads.WithLabelValues("file", "error")); got != 1 {
		t.Errorf("one bad file counted %v times, want 1", got)
	}
	if err := pf.Load(); err == nil {
		t.Error("loading the same bad file again: no error")
	}
	if got := shapedBy(t, ts); got != "beta" {
		t.Errorf("after a bad file: shaped-by %q, want beta (kept)", got)
	}

	writeAtomic(t, path, profilesNamed("gamma"))
	eventually(t, "profile gamma", func() bool { return shapedBy(t, ts) == "gamma" })
	if got := testutil.ToFloat64(metrics.reloadOK); got != 1 {
		t.Errorf("profile_last_load_ok = %v, want 1", got)
	}
}

func TestProfileFileLoadErrors(t *testing.T) {
	store := &EngineStore{Logger: quietLogger(t)}
	if err := (&ProfileFile{Path: filepath.Join(t.TempDir(), "missing.yaml"), Store: store}).Load(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
	path := filepath.Join(t.TempDir(), "profiles.yaml")
	writeAtomic(t, path, "default: nope\nprofiles: {}\n")
	err := (&ProfileFile{Path: path, Store: store}).Load()
	var fe *badinput.Error
	if !errors.As(err, &fe) || fe.Field() != "default" {
		t.Errorf("default naming no profile: %v, want a *badinput.Error on default", err)
	}
	if store.Current() != nil {
		t.Error("a bad first file installed an engine")
	}
	writeAtomic(t, path, "\n  \n")
	if err := (&ProfileFile{Path: path, Store: store}).Load(); !errors.As(err, &fe) {
		t.Errorf("empty file: %v, want a *badinput.Error", err)
	}
}

func TestProfileConfigMapReload(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "argo-eci-profiles", Namespace: "argo"},
		Data: map[string]string{"profiles.yaml": profilesNamed("alpha")}}
	client := fake.NewClientset(cm)
	metrics := NewMetrics()
	store := &EngineStore{Metrics: metrics, Logger: quietLogger(t)}
	src := &ProfileConfigMap{Client: client, Namespace: "argo", Name: "argo-eci-profiles", Key: "profiles.yaml", Store: store}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, &Server{Engines: store, Metrics: metrics, Ready: []ReadyCheck{src.Synced}})
	eventually(t, "the ConfigMap to load", func() bool { return store.Current() != nil && src.Synced() == nil })
	if got := shapedBy(t, ts); got != "alpha" {
		t.Fatalf("shaped-by %q, want alpha", got)
	}
	update := func(data map[string]string) {
		c := cm.DeepCopy()
		c.Data = data
		if _, err := client.CoreV1().ConfigMaps("argo").Update(ctx, c, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	update(map[string]string{"profiles.yaml": profilesNamed("beta")})
	eventually(t, "profile beta", func() bool { return shapedBy(t, ts) == "beta" })

	update(map[string]string{"profiles.yaml": "profiles: [1, 2]"})
	eventually(t, "the bad ConfigMap to be counted", func() bool {
		return testutil.ToFloat64(metrics.reloads.WithLabelValues("configmap", "error")) >= 1
	})
	update(map[string]string{"other.yaml": "x"})
	eventually(t, "the missing key to be counted", func() bool {
		return testutil.ToFloat64(metrics.reloads.WithLabelValues("configmap", "error")) >= 2
	})
	if err := client.CoreV1().ConfigMaps("argo").Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := shapedBy(t, ts); got != "beta" {
		t.Errorf("after bad, keyless and deleted ConfigMaps: shaped-by %q, want beta (kept)", got)
	}
}

func TestWorkflowCache(t *testing.T) {
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: "fanout-7xk2p", Namespace: "ci",
			Annotations:   map[string]string{"argo-eci.io/profile": "batch", lastApplied: `{"huge":"copy"}`},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec:   wfv1.WorkflowSpec{Entrypoint: "main", Templates: []wfv1.Template{{Name: "main"}}},
		Status: wfv1.WorkflowStatus{Phase: wfv1.WorkflowRunning, Nodes: wfv1.Nodes{"n": {ID: "n"}}},
	}
	done := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "finished", Namespace: "ci",
		Labels: map[string]string{"workflows.argoproj.io/completed": "true"}}}
	client := wffake.NewSimpleClientset(wf, done)
	c, err := NewWorkflowCache(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Synced() == nil {
		t.Error("synced before start")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.Start(ctx)
	if !c.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	got, ok := c.Workflow("ci", "fanout-7xk2p")
	if !ok {
		t.Fatal("cached workflow not found")
	}
	if got.Annotations["argo-eci.io/profile"] != "batch" || got.Spec.Entrypoint != "main" || got.Status.Phase != wfv1.WorkflowRunning {
		t.Errorf("cache lost what the shaper reads: %+v", got.ObjectMeta)
	}
	if got.Status.Nodes != nil || got.ManagedFields != nil || got.Annotations[lastApplied] != "" {
		t.Errorf("cache kept node status (other than retries and pods), managed fields or last-applied")
	}
	if _, ok := c.Workflow("ci", "other"); ok {
		t.Error("found a workflow that does not exist")
	}
	if _, ok := c.Workflow("ci", "finished"); ok {
		t.Error("a completed workflow (it creates no more pods) is in the cache")
	}
	if _, ok := c.Workflow("other", "fanout-7xk2p"); ok {
		t.Error("found a workflow in the wrong namespace")
	}
}
