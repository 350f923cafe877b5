package webhook

import (
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/emissary"
)

var workflowGVK = metav1.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Workflow"}

// admitSized reviews raw as a Workflow CREATE with the given MaxObjectBytes and returns the
// verdict and the object the apiserver would store.
func admitSized(t *testing.T, raw []byte, limit int) (verdict, []byte) {
	t.Helper()
	s := &Server{Engines: realStore(t, testProfiles), Logger: quietLogger(t), Metrics: NewMetrics(), MaxObjectBytes: limit}
	s.init()
	v := s.admitWorkflow(t.Context(), decodeRequest(t, review(t, "u", workflowGVK, admissionv1.Create, "ci", "", raw)))
	return v, applyJSONPatch(t, raw, v.patch)
}

// TestLargeWorkflowStaysUnderLimit: a 1 MiB fan-out Workflow, which shaping would take past
// etcd's 1.5 MiB request limit, is admitted as it came with a warning naming the size and the
// limit, so the apiserver stores it; lifting the limit shows the shaped size it avoided.
func TestLargeWorkflowStaysUnderLimit(t *testing.T) {
	raw := bigWorkflow(t, 1<<20)
	v, stored := admitSized(t, raw, 0)
	if len(stored) > emissary.DefaultMaxObjectBytes {
		t.Fatalf("stored object is %d bytes, above the %d-byte limit (outcome %s)", len(stored), emissary.DefaultMaxObjectBytes, v.outcome)
	}
	if v.outcome != outcomeSkipped || len(v.patch) != 0 {
		t.Fatalf("outcome %s with a %d-byte patch, want skipped without a patch", v.outcome, len(v.patch))
	}
	if len(v.warnings) == 0 || !strings.Contains(v.warnings[len(v.warnings)-1], "1468006 bytes") || !strings.Contains(v.warnings[len(v.warnings)-1], "left unshaped") {
		t.Errorf("warnings %q, want one naming the size, the limit and what happens", v.warnings)
	}
	unlimited, shaped := admitSized(t, raw, -1)
	if unlimited.outcome != outcomeShaped || len(shaped) <= emissary.DefaultMaxObjectBytes {
		t.Errorf("without a limit: outcome %s, %d bytes; the test workflow no longer exceeds the limit when shaped", unlimited.outcome, len(shaped))
	}
	n := templateCount(raw) - 1 // the DAG makes no pod
	t.Logf("%d pod templates: %d bytes; shaped %d bytes (+%d per template); stored %d bytes; warning: %s",
		n, len(raw), len(shaped), (len(shaped)-len(raw))/n, len(stored), v.warnings[len(v.warnings)-1])
}

// TestSizeLimitBoundary: a workflow whose shaped form fits is shaped; the same workflow with a
// limit just below its shaped size is left as it came.
func TestSizeLimitBoundary(t *testing.T) {
	raw := bigWorkflow(t, 64<<10)
	v, shaped := admitSized(t, raw, 0)
	if v.outcome != outcomeShaped {
		t.Fatalf("outcome %s: %s", v.outcome, v.message)
	}
	if v, _ := admitSized(t, raw, len(shaped)); v.outcome != outcomeShaped {
		t.Errorf("limit = shaped size: outcome %s, want shaped", v.outcome)
	}
	if again, _ := admitSized(t, shaped, 0); len(again.patch) != 0 {
		t.Errorf("second pass over the shaped workflow: %s with patch %.300s, want no patch", again.outcome, again.patch)
	}
	if !strings.Contains(string(shaped), `"podMetadata"`) {
		t.Errorf("shared settings did not move to spec.podMetadata")
	}
	v, stored := admitSized(t, raw, len(shaped)-1)
	if v.outcome != outcomeSkipped || string(stored) != string(raw) {
		t.Errorf("limit below the shaped size: outcome %s, want skipped and the object as it came", v.outcome)
	}
}
