package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/recovery"
)

// testProfiles is a profile set that shapes every Argo pod and workflow.
const testProfiles = `
default: standard
profiles:
  standard:
    placement: [label, nodeSelector]
    specs: auto
    fallbackSpecs: 2
    spot: {strategy: SpotAsPriceGo, fallback: true}
    failStrategy: fail-fast
    retry: {limit: 3, policy: Always}
    executorResources: ignore
    incompatible: deny
    agentPod: eci
`

// quietLogger drops log output unless the test fails verbosely.
func quietLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// realStore returns an EngineStore loaded with data.
func realStore(t testing.TB, data string) *EngineStore {
	t.Helper()
	s := &EngineStore{Logger: quietLogger(t)}
	if _, err := s.Load("file", "test", []byte(data)); err != nil {
		t.Fatalf("loading test profiles: %v", err)
	}
	return s
}

// testServer is a Server running on HTTPS at 127.0.0.1 with a self-signed certificate.
type testServer struct {
	*Server
	URL     string
	Client  *http.Client
	CertDir string
	CA      *x509.CertPool
	stop    context.CancelFunc // ends Serve's ctx
	done    chan error         // Serve's result (read once: by the test or by cleanup)
}

// startServer serves s over HTTPS until the test ends.
func startServer(t testing.TB, s *Server) *testServer {
	t.Helper()
	if s.Logger == nil {
		s.Logger = quietLogger(t)
	}
	if s.Metrics == nil {
		s.Metrics = NewMetrics()
	}
	dir := t.TempDir()
	caPEM, err := SelfSigned(dir, []string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA PEM does not parse")
	}
	ctx, cancel := context.WithCancel(context.Background())
	certs, err := WatchCertificates(ctx, dir, 100*time.Millisecond)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	s.Certificates = certs.GetCertificate
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return")
		}
	})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &testServer{Server: s, URL: "https://" + ln.Addr().String(), Client: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		CertDir: dir, CA: pool, stop: cancel, done: done}
}

// post sends body to path and returns the status and the decoded AdmissionReview (nil unless 200).
func (ts *testServer) post(t testing.TB, path string, body []byte) (int, *admissionv1.AdmissionReview, string) {
	t.Helper()
	resp, err := ts.Client.Post(ts.URL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, string(raw)
	}
	out := &admissionv1.AdmissionReview{}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("response is not an AdmissionReview: %v\n%s", err, raw)
	}
	if out.Response == nil {
		t.Fatalf("AdmissionReview without response: %s", raw)
	}
	return resp.StatusCode, out, string(raw)
}

// admitPod posts raw (a pod) to the pods webhook, expects it allowed with a patch and returns the
// pod with the patch applied.
func (ts *testServer) admitPod(t *testing.T, raw []byte) *corev1.Pod {
	t.Helper()
	status, out, body := ts.post(t, PathPods, podReview(t, "u-1", raw))
	if status != http.StatusOK || !out.Response.Allowed || out.Response.Patch == nil {
		t.Fatalf("status %d: %s", status, body)
	}
	shaped := &corev1.Pod{}
	if err := json.Unmarshal(applyPatch(t, raw, out.Response), shaped); err != nil {
		t.Fatal(err)
	}
	return shaped
}

// readPod loads a pod from a JSON file.
func readPod(t testing.TB, path string) (*corev1.Pod, []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{}
	if err := json.Unmarshal(raw, pod); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pod, raw
}

// typicalPod is the benchmark and test pod: the pod Argo's controller made for a container
// template with resources, captured into the emissary package's testdata, or the faithful one in
// webhook/testdata when that is absent. The JSON is re-encoded the way the kube-apiserver
// encodes request.object (Go field order, compact).
func typicalPod(t testing.TB) (*corev1.Pod, []byte) {
	t.Helper()
	path := "../emissary/testdata/argo-pods/container-resources.json"
	if _, err := os.Stat(path); err != nil {
		path = "testdata/argo-pod.json"
	}
	pod, _ := readPod(t, path)
	pod.UID, pod.ResourceVersion, pod.CreationTimestamp = "", "", metav1.Time{}
	pod.Spec.NodeName = ""
	pod.Status = corev1.PodStatus{}
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	return pod, raw
}

// review builds an AdmissionReview request for obj.
func review(t testing.TB, uid string, kind metav1.GroupVersionKind, op admissionv1.Operation, namespace, name string, raw []byte) []byte {
	t.Helper()
	in := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID(uid), Kind: kind, Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Namespace: namespace, Name: name, Operation: op, Object: runtime.RawExtension{Raw: raw},
		},
	}
	out, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var podKind = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}

func podReview(t testing.TB, uid string, raw []byte) []byte {
	pod := &corev1.Pod{}
	if err := json.Unmarshal(raw, pod); err != nil {
		t.Fatal(err)
	}
	return review(t, uid, podKind, admissionv1.Create, pod.Namespace, pod.Name, raw)
}

// fakeShaper lets tests choose the engine's answer.
type fakeShaper struct {
	pod func(*corev1.Pod, *wfv1.Workflow) (*emissary.PodResult, error)
	wf  func(runtime.Object) (runtime.Object, []emissary.Finding, error)
}

func (f *fakeShaper) ShapePodAt(pod *corev1.Pod, wf *wfv1.Workflow, _ time.Time, _ *recovery.Siblings) (*emissary.PodResult, error) {
	return f.pod(pod, wf)
}

func (f *fakeShaper) ShapeWorkflow(obj runtime.Object) (runtime.Object, []emissary.Finding, error) {
	if f.wf == nil {
		return nil, nil, errors.New("fakeShaper: no workflow function")
	}
	return f.wf(obj)
}

// mapWorkflows is a WorkflowGetter over a map keyed by namespace/name.
type mapWorkflows map[string]*wfv1.Workflow

func (m mapWorkflows) Workflow(namespace, name string) (*wfv1.Workflow, bool) {
	wf, ok := m[namespace+"/"+name]
	return wf, ok
}
