package webhook

import (
	"encoding/json"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/argo-eci/argo-eci/eci"
)

// TestReinvocationCoversSidecarsAddedLater: the pods webhook is registered with
// reinvocationPolicy IfNeeded. When a webhook that runs after it adds a container (Fluid's FUSE
// sidecar), the apiserver calls it again with the changed pod, and the spec it chooses then
// covers every container ECI bills. A pod nobody changed gets no second patch.
func TestReinvocationCoversSidecarsAddedLater(t *testing.T) {
	ts := startServer(t, &Server{Engines: realStore(t, testProfiles)})
	_, raw := typicalPod(t)

	status, out, body := ts.post(t, PathPods, podReview(t, "u-1", raw))
	if status != http.StatusOK || out.Response.Patch == nil {
		t.Fatalf("first call: %d %s", status, body)
	}
	first := applyJSONPatch(t, raw, out.Response.Patch)

	// Reinvoked with nothing changed in between: no patch.
	_, again, body := ts.post(t, PathPods, podReview(t, "u-2", first))
	if again.Response.Patch != nil {
		t.Errorf("reinvocation of an unchanged pod patched it again: %s", body)
	}

	// A later webhook adds a sidecar that needs more than the first spec offers.
	pod := &corev1.Pod{}
	if err := decodeObject(first, pod); err != nil {
		t.Fatal(err)
	}
	before := pod.Annotations["k8s.aliyun.com/eci-use-specs"]
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "fluid-fuse", Image: "fuse:1",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi")}}})
	withSidecar, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	_, third, body := ts.post(t, PathPods, podReview(t, "u-3", withSidecar))
	if !third.Response.Allowed {
		t.Fatalf("reinvocation with a sidecar refused: %s", body)
	}
	final := &corev1.Pod{}
	if err := decodeObject(applyJSONPatch(t, withSidecar, third.Response.Patch), final); err != nil {
		t.Fatal(err)
	}
	specs := final.Annotations["k8s.aliyun.com/eci-use-specs"]
	if specs == before {
		t.Fatalf("eci-use-specs stayed %q after an 8-vCPU sidecar was added", specs)
	}
	list, err := eci.ParseSpecList(specs)
	if err != nil || len(list) == 0 {
		t.Fatalf("eci-use-specs %q: %v", specs, err)
	}
	if !list[0].Covers(8000, 32*1024) {
		t.Errorf("first spec %s does not cover the sidecar (8 vCPU, 32 GiB)", list[0])
	}
}

// TestWebhookSetCannotDropArgoAnnotations: argo-eci.io/webhook-set is on the pod, where a
// workflow author can write it too; it never makes the webhook remove an annotation that is not
// one the engine writes.
func TestWebhookSetCannotDropArgoAnnotations(t *testing.T) {
	pod, _ := typicalPod(t)
	pod.Annotations[AnnotationWebhookSet] = "workflows.argoproj.io/node-id,kubectl.kubernetes.io/default-container"
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Engines: realStore(t, testProfiles), Logger: quietLogger(t), Metrics: NewMetrics()}
	s.init()
	v := s.admitPod(t.Context(), decodeRequest(t, podReview(t, "u", raw)))
	if v.outcome != outcomeShaped {
		t.Fatalf("outcome %s: %s", v.outcome, v.message)
	}
	got := &corev1.Pod{}
	if err := decodeObject(applyJSONPatch(t, raw, v.patch), got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"workflows.argoproj.io/node-id", "kubectl.kubernetes.io/default-container"} {
		if got.Annotations[k] != pod.Annotations[k] {
			t.Errorf("%s = %q, want %q kept", k, got.Annotations[k], pod.Annotations[k])
		}
	}
}
