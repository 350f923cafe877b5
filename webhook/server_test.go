package webhook

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argo-eci/argo-eci/emissary"
)

// applyPatch applies a JSON patch from a response to the original object JSON.
func applyPatch(t *testing.T, original []byte, resp *admissionv1.AdmissionResponse) []byte {
	t.Helper()
	if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("patchType = %v, want JSONPatch", resp.PatchType)
	}
	patch, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatalf("patch does not decode: %v\n%s", err, resp.Patch)
	}
	out, err := patch.Apply(original)
	if err != nil {
		t.Fatalf("patch does not apply: %v\n%s", err, resp.Patch)
	}
	return out
}

// sameJSON compares two JSON documents by meaning: Kubernetes treats a null member as absent.
func sameJSON(t *testing.T, got []byte, want any) {
	t.Helper()
	wantRaw, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(wantRaw, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pruneNulls(g), pruneNulls(w)) {
		t.Errorf("patched object differs from the engine's\n got: %s\nwant: %s", got, wantRaw)
	}
}

func TestNonArgoPodUntouched(t *testing.T) {
	ts := startServer(t, &Server{Engines: realStore(t, testProfiles)})
	raw := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"ci","labels":{"app":"web"}},
		"spec":{"containers":[{"name":"nginx","image":"nginx","resources":{"limits":{"cpu":"1","memory":"2Gi"}}}]}}`)
	status, out, body := ts.post(t, PathPods, podReview(t, "u-1", raw))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	r := out.Response
	if string(r.UID) != "u-1" || !r.Allowed || r.Patch != nil || r.PatchType != nil || r.Result != nil || len(r.Warnings) != 0 {
		t.Errorf("non-Argo pod: got %s, want allowed with no patch", body)
	}
	if got := testutil.ToFloat64(ts.Metrics.reviews.WithLabelValues("pods", "ignored")); got != 1 {
		t.Errorf("ignored reviews = %v, want 1", got)
	}
}

func TestArgoPodsShaped(t *testing.T) {
	engines := realStore(t, testProfiles)
	ts := startServer(t, &Server{Engines: engines})
	typical, typicalRaw := typicalPod(t)

	agent := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "fanout-7xk2p-1340600742-agent", Namespace: "ci",
			Labels: map[string]string{"workflows.argoproj.io/workflow": "fanout-7xk2p", "workflows.argoproj.io/component": "agent"}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "quay.io/argoproj/argoexec:v4.0.7", Args: []string{"agent", "init"}}},
			Containers: []corev1.Container{
				{Name: "main", Image: "quay.io/argoproj/argoexec:v4.0.7", Args: []string{"agent", "main"}},
				{Name: "argo-eci-executor-plugin", Image: "argo-eci:dev", Args: []string{"plugin"},
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{}}},
			},
		},
	}
	gc := agent.DeepCopy()
	gc.Name = "fanout-7xk2p-artgc-wfcomp-2166136261"
	gc.Labels["workflows.argoproj.io/component"] = "artifact-gc"
	gc.Spec.InitContainers = nil
	gc.Spec.Containers = []corev1.Container{{Name: "main", Image: "quay.io/argoproj/argoexec:v4.0.7", Args: []string{"artifact", "delete"}}}
	mustJSON := func(p *corev1.Pod) []byte {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		raw  []byte
	}{
		{"workflow pod", typical, typicalRaw},
		{"agent pod", agent, mustJSON(agent)},
		{"artifact-GC pod", gc, mustJSON(gc)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, body := ts.post(t, PathPods, podReview(t, "u-"+tc.pod.Name, tc.raw))
			if status != http.StatusOK || !out.Response.Allowed {
				t.Fatalf("status %d: %s", status, body)
			}
			patched := applyPatch(t, tc.raw, out.Response)
			want, err := engines.Current().ShapePodAt(tc.pod, nil, time.Time{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want.Outcome != emissary.OutcomeShaped {
				t.Fatalf("engine outcome %s (%s): the test pod should be shaped", want.Outcome, want.Reason)
			}
			recordOwnAnnotations(tc.pod, want.Pod) // the webhook's note of what it added
			sameJSON(t, patched, want.Pod)
			got := &corev1.Pod{}
			if err := json.Unmarshal(patched, got); err != nil {
				t.Fatal(err)
			}
			if got.Annotations[emissary.AnnotationShapedBy] != "standard" {
				t.Errorf("shaped-by = %q, want standard", got.Annotations[emissary.AnnotationShapedBy])
			}
			if len(got.Spec.Containers) != len(tc.pod.Spec.Containers) {
				t.Errorf("containers changed: %d → %d", len(tc.pod.Spec.Containers), len(got.Spec.Containers))
			}
		})
	}
}

func TestPodUsesCachedWorkflow(t *testing.T) {
	var seen *wfv1.Workflow
	store := &EngineStore{}
	store.Set(&fakeShaper{pod: func(p *corev1.Pod, wf *wfv1.Workflow) (*emissary.PodResult, error) {
		seen = wf
		return &emissary.PodResult{Pod: p.DeepCopy(), Outcome: emissary.OutcomeSkipped}, nil
	}})
	pod, raw := typicalPod(t)
	cached := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: pod.Labels["workflows.argoproj.io/workflow"], Namespace: pod.Namespace}}
	ts := startServer(t, &Server{Engines: store, Workflows: mapWorkflows{cached.Namespace + "/" + cached.Name: cached}})

	status, out, body := ts.post(t, PathPods, podReview(t, "u-1", raw))
	if status != http.StatusOK || !out.Response.Allowed || out.Response.Patch != nil {
		t.Fatalf("skipped pod: status %d: %s", status, body)
	}
	if seen != cached {
		t.Errorf("engine got workflow %v, want the cached one", seen)
	}
	if got := testutil.ToFloat64(ts.Metrics.workflowMisses.WithLabelValues(missNoReader)); got != 0 {
		t.Errorf("cache misses = %v, want 0", got)
	}

	ts.Workflows = mapWorkflows{}
	ts.post(t, PathPods, podReview(t, "u-2", raw))
	if seen != nil {
		t.Errorf("engine got workflow %v on a cache miss, want nil", seen)
	}
	if got := testutil.ToFloat64(ts.Metrics.workflowMisses.WithLabelValues(missNoReader)); got != 1 {
		t.Errorf("cache misses = %v, want 1", got)
	}
}

func TestRefusals(t *testing.T) {
	ts := startServer(t, &Server{Engines: realStore(t, testProfiles)})
	typical, _ := typicalPod(t)

	hostPath := typical.DeepCopy()
	hostPath.Spec.Volumes = append(hostPath.Spec.Volumes, corev1.Volume{Name: "docker",
		VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/run/docker.sock"}}})
	unknownProfile := typical.DeepCopy()
	unknownProfile.Annotations["argo-eci.io/profile"] = "no-such-profile"

	for _, tc := range []struct {
		name    string
		pod     *corev1.Pod
		code    int32
		reason  metav1.StatusReason
		outcome outcome
	}{
		{"hostPath with incompatible: deny", hostPath, http.StatusForbidden, metav1.StatusReasonForbidden, outcomeDenied},
		{"unknown profile", unknownProfile, http.StatusBadRequest, metav1.StatusReasonBadRequest, outcomeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := json.Marshal(tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			before := testutil.ToFloat64(ts.Metrics.reviews.WithLabelValues("pods", string(tc.outcome)))
			status, out, body := ts.post(t, PathPods, podReview(t, "u-1", raw))
			if status != http.StatusOK {
				t.Fatalf("a refusal is an AdmissionReview answer, got HTTP %d: %s", status, body)
			}
			r := out.Response
			if r.Allowed || r.Patch != nil || r.Result == nil || r.Result.Code != tc.code || r.Result.Reason != tc.reason || r.Result.Message == "" {
				t.Errorf("got %s, want refused with %d %s and a message", body, tc.code, tc.reason)
			}
			if tc.outcome == outcomeInvalid && (r.Result == nil || r.Result.Details == nil || len(r.Result.Details.Causes) != 1 ||
				r.Result.Details.Causes[0].Field != `metadata.annotations["argo-eci.io/profile"]`) {
				t.Errorf("got %s, want one cause naming the profile annotation", body)
			}
			after := testutil.ToFloat64(ts.Metrics.reviews.WithLabelValues("pods", string(tc.outcome)))
			if after != before+1 {
				t.Errorf("%s reviews %v → %v, want +1", tc.outcome, before, after)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	ts := startServer(t, &Server{Engines: realStore(t, testProfiles), MaxRequestBytes: 64 << 10})
	_, raw := typicalPod(t)
	big := bytes.Repeat([]byte("x"), 100<<10)
	pod := &corev1.Pod{}
	if err := json.Unmarshal(raw, pod); err != nil {
		t.Fatal(err)
	}
	pod.Annotations["big"] = string(big)
	bigRaw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body []byte
		want int
	}{
		{"oversized body", podReview(t, "u-big", bigRaw), http.StatusRequestEntityTooLarge},
		{"empty body", nil, http.StatusBadRequest},
		{"malformed JSON", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":`), http.StatusBadRequest},
		{"not an object", []byte(`[1,2,3]`), http.StatusBadRequest},
		{"v1beta1 review", []byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"}}}`), http.StatusBadRequest},
		{"no request", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.StatusBadRequest},
		{"no uid", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"kind":{"version":"v1","kind":"Pod"}}}`), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := ts.post(t, PathPods, tc.body)
			if status != tc.want {
				t.Errorf("status %d (%s), want %d", status, strings.TrimSpace(body), tc.want)
			}
		})
	}
	t.Run("oversized chunked body", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, ts.URL+PathPods, io.MultiReader(bytes.NewReader(podReview(t, "u-big", bigRaw))))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ts.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if req.ContentLength != 0 || resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("content length %d, status %d, want a chunked request refused with 413", req.ContentLength, resp.StatusCode)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := ts.Client.Get(ts.URL + PathPods)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: %d, want 405", PathPods, resp.StatusCode)
		}
	})
	if got := testutil.ToFloat64(ts.Metrics.reviews.WithLabelValues("pods", "rejected")); got != 8 {
		t.Errorf("rejected reviews = %v, want 8", got)
	}
}

func TestWrongKindAllowedWithWarning(t *testing.T) {
	ts := startServer(t, &Server{Engines: realStore(t, testProfiles)})
	deploy := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"ci"},"spec":{}}`)
	_, podRaw := typicalPod(t)
	for _, tc := range []struct {
		name, path string
		body       []byte
	}{
		{"Deployment to the pod endpoint", PathPods,
			review(t, "u-1", metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, admissionv1.Create, "ci", "web", deploy)},
		{"Pod to the workflow endpoint", PathWorkflows, podReview(t, "u-2", podRaw)},
		{"ClusterWorkflowTemplate to the workflow endpoint", PathWorkflows,
			review(t, "u-3", metav1.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "ClusterWorkflowTemplate"}, admissionv1.Create, "", "t", []byte(`{}`))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, body := ts.post(t, tc.path, tc.body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			r := out.Response
			if !r.Allowed || r.Patch != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], tc.path) {
				t.Errorf("got %s, want allowed untouched with a warning naming %s", body, tc.path)
			}
		})
	}
}

func TestPanicRecovered(t *testing.T) {
	store := &EngineStore{}
	store.Set(&fakeShaper{pod: func(*corev1.Pod, *wfv1.Workflow) (*emissary.PodResult, error) {
		var m map[string]string
		//lint:ignore SA5000 the nil map write is the panic this test recovers from
		m["boom"] = "x"
		return nil, nil
	}})
	ts := startServer(t, &Server{Engines: store})
	_, raw := typicalPod(t)
	status, out, body := ts.post(t, PathPods, podReview(t, "u-1", raw))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	r := out.Response
	if string(r.UID) != "u-1" || r.Allowed || r.Result == nil || r.Result.Code != http.StatusInternalServerError {
		t.Errorf("got %s, want an internal-error answer that does not let the pod through", body)
	}
	if got := testutil.ToFloat64(ts.Metrics.panics); got != 1 {
		t.Errorf("panics = %v, want 1", got)
	}
	if got := testutil.ToFloat64(ts.Metrics.reviews.WithLabelValues("pods", "denied")); got != 0 {
		t.Errorf("a panic counted as a denial")
	}
	// The server keeps serving.
	store.Set(&fakeShaper{pod: func(p *corev1.Pod, _ *wfv1.Workflow) (*emissary.PodResult, error) {
		return &emissary.PodResult{Pod: p.DeepCopy(), Outcome: emissary.OutcomeSkipped}, nil
	}})
	if status, out, body := ts.post(t, PathPods, podReview(t, "u-2", raw)); status != http.StatusOK || !out.Response.Allowed {
		t.Errorf("after a panic: status %d: %s", status, body)
	}
}

func TestWorkflowsShaped(t *testing.T) {
	engines := realStore(t, testProfiles)
	ts := startServer(t, &Server{Engines: engines})
	tmpl := wfv1.Template{Name: "work", Container: &corev1.Container{Image: "alpine:3.20", Command: []string{"sh", "-c", "echo hi"},
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{}}}}
	wf := &wfv1.Workflow{
		TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: "hello-", Namespace: "ci"},
		Spec:       wfv1.WorkflowSpec{Entrypoint: "work", Templates: []wfv1.Template{tmpl}},
	}
	cron := &wfv1.CronWorkflow{
		TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "CronWorkflow"},
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ci"},
		Spec:       wfv1.CronWorkflowSpec{Schedules: []string{"0 1 * * *"}, WorkflowSpec: wf.Spec},
	}
	wt := &wfv1.WorkflowTemplate{
		TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "WorkflowTemplate"},
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "ci"},
		Spec:       wf.Spec,
	}
	for _, tc := range []struct {
		name string
		obj  runtime.Object
		kind string
		op   admissionv1.Operation
	}{
		{"Workflow create", wf, "Workflow", admissionv1.Create},
		{"CronWorkflow create", cron, "CronWorkflow", admissionv1.Create},
		{"WorkflowTemplate update", wt, "WorkflowTemplate", admissionv1.Update},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The apiserver prunes null members (status.startedAt: null) before calling webhooks.
			raw := withoutNullsJSON(t, tc.obj)
			gvk := metav1.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: tc.kind}
			status, out, body := ts.post(t, PathWorkflows, review(t, "u-1", gvk, tc.op, "ci", "", raw))
			if status != http.StatusOK || !out.Response.Allowed {
				t.Fatalf("status %d: %s", status, body)
			}
			if bytes.Contains(out.Response.Patch, []byte("null")) {
				t.Errorf("the patch puts back null members the apiserver pruned: %s", out.Response.Patch)
			}
			want, _, err := engines.Current().ShapeWorkflow(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, applyPatch(t, raw, out.Response), want)

			// Shaping the shaped object changes nothing.
			shaped := withoutNullsJSON(t, want)
			_, again, body := ts.post(t, PathWorkflows, review(t, "u-2", gvk, tc.op, "ci", "", shaped))
			if !again.Response.Allowed || again.Response.Patch != nil {
				t.Errorf("second pass over a shaped %s: %s, want no patch", tc.kind, body)
			}
		})
	}
	t.Run("running Workflow update left to the controller", func(t *testing.T) {
		running := wf.DeepCopy()
		running.Name = "hello-x2"
		running.Status.Phase = wfv1.WorkflowRunning
		raw, err := json.Marshal(running)
		if err != nil {
			t.Fatal(err)
		}
		gvk := metav1.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Workflow"}
		_, out, body := ts.post(t, PathWorkflows, review(t, "u-3", gvk, admissionv1.Update, "ci", running.Name, raw))
		if !out.Response.Allowed || out.Response.Patch != nil {
			t.Errorf("got %s, want allowed without patch", body)
		}
	})
}

func TestHealthReadyMetrics(t *testing.T) {
	metrics := NewMetrics()
	store := &EngineStore{Metrics: metrics, Logger: quietLogger(t)}
	var informerErr error = errString("workflow informer not synced yet")
	ts := startServer(t, &Server{Engines: store, Metrics: metrics, Ready: []ReadyCheck{func() error { return informerErr }}})
	get := func(path string) (int, string) {
		resp, err := ts.Client.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(PathHealthz); code != http.StatusOK {
		t.Errorf("healthz %d", code)
	}
	if code, _ := get(PathReadyz); code != http.StatusServiceUnavailable {
		t.Errorf("readyz without profiles: %d, want 503", code)
	}
	if _, err := store.Load("file", "test", []byte(testProfiles)); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(PathReadyz); code != http.StatusServiceUnavailable {
		t.Errorf("readyz with an unsynced informer: %d, want 503", code)
	}
	informerErr = nil
	if code, body := get(PathReadyz); code != http.StatusOK {
		t.Errorf("readyz when ready: %d %s", code, body)
	}
	_, raw := typicalPod(t)
	ts.post(t, PathPods, podReview(t, "u-1", raw))
	code, body := get(PathMetrics)
	if code != http.StatusOK {
		t.Fatalf("metrics %d", code)
	}
	for _, want := range []string{
		`argo_eci_webhook_reviews_total{endpoint="pods",outcome="shaped"} 1`,
		`argo_eci_webhook_review_duration_seconds_count{endpoint="pods"} 1`,
		`argo_eci_webhook_profile_reloads_total{result="ok",source="file"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// withoutNullsJSON encodes obj as the apiserver hands it to webhooks: without null members.
func withoutNullsJSON(t *testing.T, obj any) []byte {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if raw, err = json.Marshal(pruneNulls(v)); err != nil {
		t.Fatal(err)
	}
	return raw
}

type errString string

func (e errString) Error() string { return string(e) }

func TestResponseMapping(t *testing.T) {
	for _, tc := range []struct {
		v       verdict
		allowed bool
		code    int32
		patch   bool
	}{
		{verdict{outcome: outcomeShaped, patch: []byte(`[]`)}, true, 0, true},
		{verdict{outcome: outcomeShaped}, true, 0, false},
		{verdict{outcome: outcomeSkipped}, true, 0, false},
		{verdict{outcome: outcomeIgnored}, true, 0, false},
		{verdict{outcome: outcomeDenied, message: "m"}, false, 403, false},
		{verdict{outcome: outcomeInvalid, message: "m"}, false, 400, false},
		{verdict{outcome: outcomeError, message: "m"}, false, 500, false},
		{verdict{outcome: "unforeseen"}, false, 500, false},
	} {
		r := response("u", tc.v)
		code := int32(0)
		if r.Result != nil {
			code = r.Result.Code
		}
		if r.Allowed != tc.allowed || code != tc.code || (r.PatchType != nil) != tc.patch || string(r.UID) != "u" {
			t.Errorf("%s: allowed %v code %d patch %v, want %v %d %v", tc.v.outcome, r.Allowed, code, r.PatchType != nil, tc.allowed, tc.code, tc.patch)
		}
	}
	long := strings.Repeat("w", 1000)
	if r := response("u", verdict{outcome: outcomeSkipped, warnings: []string{long}}); len(r.Warnings[0]) != maxWarningLen {
		t.Errorf("warning length %d, want %d", len(r.Warnings[0]), maxWarningLen)
	}
}

// A workflow created without metadata.namespace (kubectl create -n ci) is matched by a profile's
// namespace selector through the request's namespace.
func TestWorkflowNamespaceFromRequest(t *testing.T) {
	engines := realStore(t, `
profiles:
  ci:
    placement: [label]
    specs: auto
    selector: {namespaces: [ci]}
`)
	ts := startServer(t, &Server{Engines: engines})
	wf := &wfv1.Workflow{
		TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: "hello-"},
		Spec: wfv1.WorkflowSpec{Entrypoint: "work", Templates: []wfv1.Template{{Name: "work",
			Container: &corev1.Container{Image: "alpine:3.20", Command: []string{"true"}}}}},
	}
	raw := withoutNullsJSON(t, wf)
	gvk := metav1.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Workflow"}
	for _, tc := range []struct {
		ns     string
		shaped bool
	}{{"ci", true}, {"other", false}} {
		status, out, body := ts.post(t, PathWorkflows, review(t, "u-"+tc.ns, gvk, admissionv1.Create, tc.ns, "", raw))
		if status != http.StatusOK || !out.Response.Allowed {
			t.Fatalf("namespace %s: status %d: %s", tc.ns, status, body)
		}
		if got := bytes.Contains(out.Response.Patch, []byte("shaped-by")); got != tc.shaped {
			t.Errorf("namespace %s: shaped %v, want %v (patch %s)", tc.ns, got, tc.shaped, out.Response.Patch)
		}
	}
}
