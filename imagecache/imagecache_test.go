package imagecache

import (
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func cache(images []any, status map[string]any) *unstructured.Unstructured {
	ic := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"images": images}}}
	if status != nil {
		ic.Object["status"] = status
	}
	ic.SetGroupVersionKind(GVK)
	ic.SetName("alpine")
	return ic
}

func TestAssess(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	spec := &Spec{Name: "alpine", Images: []string{"alpine:latest"}}
	cases := []struct {
		name     string
		ic       *unstructured.Unstructured
		age      time.Duration
		phase    wfv1.NodePhase
		contains string
	}{
		{"no status", cache([]any{"alpine:latest"}, nil), time.Second, wfv1.NodeRunning, "not reported yet"},
		{"creating", cache([]any{"alpine:latest"}, map[string]any{"phase": "Creating", "progress": "45%"}), time.Minute, wfv1.NodeRunning, "phase: Creating"},
		{"ready", cache([]any{"alpine:latest", "busybox"}, map[string]any{"phase": "Ready", "imageCacheId": "imc-123"}), time.Minute, wfv1.NodeSucceeded, "imc-123"},
		{"failed with events", cache([]any{"alpine:latest"}, map[string]any{"phase": "Failed", "events": []any{
			map[string]any{"type": "Warning", "reason": "PullImageFailed", "message": "image not found"}}}), time.Minute, wfv1.NodeFailed, "Warning: PullImageFailed: image not found"},
		{"update failed", cache([]any{"alpine:latest"}, map[string]any{"phase": "UpdateFailed"}), time.Minute, wfv1.NodeFailed, "UpdateFailed: no events reported"},
		{"other images", cache([]any{"busybox"}, map[string]any{"phase": "Ready"}), time.Minute, wfv1.NodeFailed, "without image(s) alpine:latest"},
		{"timeout", cache([]any{"alpine:latest"}, map[string]any{"phase": "Creating"}), 31 * time.Minute, wfv1.NodeFailed, "timed out after 30m0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := assess(c.ic, spec, t0.Add(c.age), t0, 5*time.Second)
			if r.Node.Phase != c.phase || !strings.Contains(r.Node.Message, c.contains) {
				t.Fatalf("got %s %q", r.Node.Phase, r.Node.Message)
			}
			if (c.phase == wfv1.NodeRunning) != (r.GetRequeue() > 0) {
				t.Fatalf("requeue %v for %s", r.GetRequeue(), c.phase)
			}
			if c.phase == wfv1.NodeSucceeded {
				if p := r.Node.Outputs.Parameters; p[0].Name != "imageCacheId" || p[0].Value.String() != "imc-123" || p[1].Value.String() != "Ready" {
					t.Fatalf("outputs %+v", p)
				}
			}
		})
	}
	if got := parseProgress(cache(nil, map[string]any{"progress": "45%"})); got != "45/100" {
		t.Fatalf("progress %s", got)
	}
}

func TestValidateAndName(t *testing.T) {
	if errs := (&Spec{Images: []string{"alpine"}, Size: 20, RetentionDays: 7}).Validate(field.NewPath("x")); len(errs) != 0 {
		t.Fatal(errs)
	}
	a := (&Spec{Images: []string{"b", "a"}}).CacheName()
	b := (&Spec{Images: []string{"a", "b"}}).CacheName()
	if a != b || !strings.HasPrefix(a, "argo-eci-") {
		t.Fatalf("names %s %s", a, b)
	}
	if errs := (&Spec{Images: []string{"a b"}, Timeout: "soon"}).Validate(field.NewPath("x")); len(errs) != 2 {
		t.Fatalf("errs %v", errs)
	}
}
