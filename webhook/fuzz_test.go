package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FuzzAdmissionReview feeds arbitrary bodies through decoding and the pod and workflow
// handlers: every body is either rejected with a 4xx or answered with an AdmissionReview that
// echoes the request's uid, and nothing panics (not even a panic the server would recover).
// Seeds live in testdata/fuzz/FuzzAdmissionReview.
func FuzzAdmissionReview(f *testing.F) {
	_, raw := typicalPod(f)
	f.Add(podReview(f, "seed-argo-pod", raw))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":{"metadata":{"labels":{"workflows.argoproj.io/workflow":"w"}}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"argoproj.io","version":"v1alpha1","kind":"Workflow"},"operation":"CREATE","object":{"spec":{"templates":[{"name":"a","container":{"image":"x"}}]}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":null}}`))
	f.Add([]byte(`{"request":{}}`))
	gvk := metav1.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "CronWorkflow"}
	f.Add(review(f, "seed-v35-cron", gvk, admissionv1.Create, "ci", "", compact(f, v35CronWorkflow)))
	gvk.Kind = "Workflow"
	f.Add(review(f, "seed-v35-wf", gvk, admissionv1.Create, "ci", "", compact(f, v35Workflow)))
	f.Add([]byte(`null`))

	engines := realStore(f, testProfiles)
	s := &Server{Engines: engines, Logger: quietLogger(f), Metrics: NewMetrics(), Workflows: mapWorkflows{}}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		in, decodeErr := DecodeReview(body)
		for _, ep := range []struct {
			name  string
			admit admitFunc
		}{{"pods", s.admitPod}, {"workflows", s.admitWorkflow}} {
			status, out := s.review(ctx, ep.name, ep.admit, body)
			if decodeErr != nil {
				if status != http.StatusBadRequest {
					t.Fatalf("%s: undecodable body (%v) answered %d, want 400", ep.name, decodeErr, status)
				}
				continue
			}
			if status != http.StatusOK {
				t.Fatalf("%s: decodable review answered %d: %s", ep.name, status, out)
			}
			resp := &admissionv1.AdmissionReview{}
			if err := json.Unmarshal(out, resp); err != nil || resp.Response == nil {
				t.Fatalf("%s: answer is not an AdmissionReview (%v): %s", ep.name, err, out)
			}
			if resp.Response.UID != in.Request.UID {
				t.Fatalf("%s: uid %q, want %q", ep.name, resp.Response.UID, in.Request.UID)
			}
			if resp.Response.Allowed == (resp.Response.Result != nil) {
				t.Fatalf("%s: allowed=%v with result %v", ep.name, resp.Response.Allowed, resp.Response.Result)
			}
			if p := resp.Response.Patch; p != nil {
				// Every patch applies to the object exactly as the apiserver sent it.
				patch, err := jsonpatch.DecodePatch(p)
				if err == nil {
					_, err = patch.Apply(in.Request.Object.Raw)
				}
				if err != nil {
					t.Fatalf("%s: the patch does not apply to request.object: %v\n%s", ep.name, err, p)
				}
			}
		}
		if n := testutil.ToFloat64(s.Metrics.panics); n != 0 {
			// Run the handlers again without recovery so the failure shows the panic's stack.
			s.admitPod(ctx, in.Request)
			s.admitWorkflow(ctx, in.Request)
			t.Fatalf("a review panicked (recovered %v times)", n)
		}
	})
}

// TestFuzzSeedsPresent keeps the on-disk corpus from silently disappearing.
func TestFuzzSeedsPresent(t *testing.T) {
	seeds, err := filepath.Glob("testdata/fuzz/FuzzAdmissionReview/*")
	if err != nil || len(seeds) == 0 {
		t.Fatalf("no seeds in testdata/fuzz/FuzzAdmissionReview (%v)", err)
	}
	more, err := filepath.Glob("testdata/fuzz/FuzzChangePatch/*")
	if err != nil || len(more) == 0 {
		t.Fatalf("no seeds in testdata/fuzz/FuzzChangePatch (%v)", err)
	}
	seeds = append(seeds, more...)
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err != nil || len(b) == 0 {
			t.Errorf("seed %s unreadable or empty", s)
		}
	}
}
