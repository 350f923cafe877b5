package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/recovery"
)

// retryPodAndWorkflow returns the typical pod as attempt 1 of a retried step, and its Workflow as
// the controller has it: the retry node, attempt 0 finished with phase and message, attempt 1
// pending, plus a steps node the cache drops. The Workflow goes through the cache's trimming.
func retryPodAndWorkflow(t *testing.T, phase wfv1.NodePhase, message string) (*corev1.Pod, []byte, *wfv1.Workflow) {
	t.Helper()
	pod, _ := typicalPod(t)
	name := pod.Labels[common.LabelKeyWorkflow]
	step := name + "[0].main"
	pod.Annotations[common.AnnotationKeyNodeName] = step + "(1)"
	pod.Annotations[common.AnnotationKeyNodeID] = name + "-3"
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: pod.Namespace},
		Status: wfv1.WorkflowStatus{Phase: wfv1.WorkflowRunning, Nodes: wfv1.Nodes{
			name:        {ID: name, Name: name, Type: wfv1.NodeTypeSteps, Phase: wfv1.NodeRunning, Children: []string{name + "-1"}},
			name + "-1": {ID: name + "-1", Name: step, Type: wfv1.NodeTypeRetry, Phase: wfv1.NodeRunning, Children: []string{name + "-2", name + "-3"}},
			name + "-2": {ID: name + "-2", Name: step + "(0)", Type: wfv1.NodeTypePod, Phase: phase, Message: message, TemplateName: "main"},
			name + "-3": {ID: name + "-3", Name: step + "(1)", Type: wfv1.NodeTypePod, Phase: wfv1.NodePending, TemplateName: "main"},
		}},
	}
	trimmed, err := trimWorkflow(wf)
	if err != nil {
		t.Fatal(err)
	}
	return pod, raw, trimmed.(*wfv1.Workflow)
}

// TestPodPathRecovery: the pods webhook shapes a retry's pod from the earlier attempt that its
// cached Workflow's node status records.
func TestPodPathRecovery(t *testing.T) {
	tests := []struct {
		name, message string
		phase         wfv1.NodePhase
		check         func(t *testing.T, ann map[string]string, main corev1.Container)
		failure       recovery.Failure
	}{
		{name: "BidFailed: pay-as-you-go", phase: wfv1.NodeFailed, message: "BidFailed: spot instance released", failure: recovery.FailureSpotReclaim,
			check: func(t *testing.T, ann map[string]string, _ corev1.Container) {
				for _, k := range []string{eci.AnnotationSpotStrategy, eci.AnnotationSpotFallback, eci.AnnotationSpotReleaseStrategy} {
					if v, ok := ann[k]; ok {
						t.Errorf("%s = %q after a reclaim, want pay-as-you-go", k, v)
					}
				}
			}},
		{name: "OOMKilled: more memory", phase: wfv1.NodeFailed, message: "main: OOMKilled (exit code 137)", failure: recovery.FailureOOMKilled,
			check: func(t *testing.T, ann map[string]string, main corev1.Container) {
				if got := ann[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "1-4Gi,") {
					t.Errorf("eci-use-specs = %q, want 1-4Gi first (one memory step above 1-2Gi)", got)
				}
				if got := main.Resources.Limits[corev1.ResourceMemory]; got.String() != "4Gi" {
					t.Errorf("main memory limit = %s, want 4Gi", got.String())
				}
			}},
		{name: "ProviderFailed: rotated specs", phase: wfv1.NodeFailed, message: "ProviderFailed: no stock", failure: recovery.FailureStockOut,
			check: func(t *testing.T, ann map[string]string, _ corev1.Container) {
				if got := ann[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "1-4Gi,") || strings.Count(got, ",") != eci.MaxSpecs-1 {
					t.Errorf("eci-use-specs = %q, want rotated and filled to %d specs", got, eci.MaxSpecs)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod, raw, wf := retryPodAndWorkflow(t, tt.phase, tt.message)
			ts := startServer(t, &Server{Engines: realStore(t, testProfiles), Workflows: mapWorkflows{wf.Namespace + "/" + wf.Name: wf}})
			shaped := ts.admitPod(t, raw)
			if shaped.Annotations[recovery.AnnotationRecovery] == "" {
				t.Errorf("no %s on the retry's pod: %v", recovery.AnnotationRecovery, shaped.Annotations)
			}
			var main corev1.Container
			for _, c := range shaped.Spec.Containers {
				if c.Name == "main" {
					main = c
				}
			}
			tt.check(t, shaped.Annotations, main)
			if got := testutil.ToFloat64(ts.Metrics.cost.decisions.WithLabelValues(pod.Namespace, "standard", string(tt.failure))); got != 1 {
				t.Errorf("argo_eci_recovery_decisions_total{failure=%s} = %v, want 1", tt.failure, got)
			}

			// Reinvoked (a later webhook changed the pod): the same decision, no second memory step.
			again := shaped.DeepCopy()
			again.Spec.Containers = append(again.Spec.Containers, corev1.Container{Name: "fluid-fuse", Image: "fuse"})
			raw2, _ := json.Marshal(again)
			_, out2, body2 := ts.post(t, PathPods, podReview(t, "u-2", raw2))
			final := again
			if out2.Response.Patch != nil { // nothing to change is the expected answer
				final = &corev1.Pod{}
				if err := json.Unmarshal(applyPatch(t, raw2, out2.Response), final); err != nil {
					t.Fatalf("%v: %s", err, body2)
				}
			}
			if final.Annotations[eci.AnnotationUseSpecs] != shaped.Annotations[eci.AnnotationUseSpecs] {
				t.Errorf("reinvocation: eci-use-specs %q → %q", shaped.Annotations[eci.AnnotationUseSpecs], final.Annotations[eci.AnnotationUseSpecs])
			}
			if got := testutil.ToFloat64(ts.Metrics.cost.decisions.WithLabelValues(pod.Namespace, "standard", string(tt.failure))); got != 1 {
				t.Errorf("after a reinvocation argo_eci_recovery_decisions_total{failure=%s} = %v, want still 1", tt.failure, got)
			}
			for i := range final.Spec.Containers {
				if c := final.Spec.Containers[i]; c.Name == "main" && !c.Resources.Limits.Memory().Equal(*main.Resources.Limits.Memory()) {
					t.Errorf("reinvocation: main memory limit %s → %s", main.Resources.Limits.Memory(), c.Resources.Limits.Memory())
				}
			}
		})
	}
}

// TestPodPathNoRecoveryWithoutWorkflow: without its Workflow the retry is shaped like a first try.
func TestPodPathNoRecoveryWithoutWorkflow(t *testing.T) {
	_, raw, _ := retryPodAndWorkflow(t, wfv1.NodeFailed, "BidFailed")
	ts := startServer(t, &Server{Engines: realStore(t, testProfiles), Workflows: mapWorkflows{}})
	_, out, body := ts.post(t, PathPods, podReview(t, "u-1", raw))
	shaped := &corev1.Pod{}
	if err := json.Unmarshal(applyPatch(t, raw, out.Response), shaped); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if shaped.Annotations[eci.AnnotationSpotStrategy] == "" || shaped.Annotations[eci.AnnotationSpotReleaseStrategy] != eci.SpotReleaseAPIEvict {
		t.Errorf("first-try shaping expected (spot with api-evict): %v", shaped.Annotations)
	}
}

func TestTrimNodesKeepsAttempts(t *testing.T) {
	_, _, wf := retryPodAndWorkflow(t, wfv1.NodeFailed, "main: OOMKilled (exit code 137)")
	if len(wf.Status.Nodes) != 3 {
		t.Errorf("trimmed nodes %v: want the retry node and its two pods, not the steps node", wf.Status.Nodes)
	}
	attempts := recovery.PreviousAttempts(wf, wf.Name+"[0].main(1)")
	if len(attempts) != 1 || attempts[0].Failure != recovery.FailureOOMKilled {
		t.Errorf("attempts from the cached Workflow = %+v, want one OOMKilled", attempts)
	}
}

func finishedPod(spot bool, phase corev1.PodPhase, reason string, node string) *corev1.Pod {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ann := map[string]string{common.AnnotationKeyNodeName: node, common.AnnotationKeyNodeID: "n",
		eci.AnnotationInstanceSpec: "2.0-4.0Gi", emissary.AnnotationShapedBy: "standard"}
	if spot {
		ann[eci.AnnotationSpotStrategy] = "SpotAsPriceGo"
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ci", Labels: map[string]string{common.LabelKeyWorkflow: "wf"}, Annotations: ann},
		Status: corev1.PodStatus{Phase: phase, Reason: reason, StartTime: &metav1.Time{Time: start},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				StartedAt: metav1.Time{Time: start}, FinishedAt: metav1.Time{Time: start.Add(time.Hour)}}}}}},
	}
}

func TestCostWatchCounts(t *testing.T) {
	m := NewMetrics()
	w := &CostWatch{Metrics: m}
	running := finishedPod(true, corev1.PodRunning, "", "wf")
	w.update(running, finishedPod(true, corev1.PodSucceeded, "", "wf"))
	w.update(finishedPod(true, corev1.PodSucceeded, "", "wf"), finishedPod(true, corev1.PodSucceeded, "", "wf")) // a resync: not counted again
	w.update(running, finishedPod(true, corev1.PodFailed, eci.ReasonBidFailed, "wf"))
	w.update(running, finishedPod(false, corev1.PodSucceeded, "", "wf"))

	c := m.cost
	if got := testutil.ToFloat64(c.attempts.WithLabelValues("ci", "standard", marketSpot, "Succeeded", "false")); got != 1 {
		t.Errorf("spot succeeded attempts = %v, want 1", got)
	}
	if got := testutil.ToFloat64(c.attempts.WithLabelValues("ci", "standard", marketSpot, "Failed", "false")); got != 1 {
		t.Errorf("spot failed attempts = %v, want 1", got)
	}
	if got := testutil.ToFloat64(c.seconds.WithLabelValues("ci", "standard", marketSpot, "2.0-4.0Gi")); got != 7200 {
		t.Errorf("spot billed seconds = %v, want 7200", got)
	}
	list := testutil.ToFloat64(c.cny.WithLabelValues("ci", "standard", marketOnDemand, priceList))
	billed := testutil.ToFloat64(c.cny.WithLabelValues("ci", "standard", marketOnDemand, priceBilled))
	spotBilled := testutil.ToFloat64(c.cny.WithLabelValues("ci", "standard", marketSpot, priceBilled))
	if list <= 0 || billed != list || spotBilled <= 0 || spotBilled >= 2*list {
		t.Errorf("cny: on-demand list %v billed %v, spot billed %v (two hours at the spot ratio)", list, billed, spotBilled)
	}
	wasted := testutil.ToFloat64(c.wasted.WithLabelValues("ci", "standard", string(recovery.FailureSpotReclaim)))
	if wasted <= 0 || wasted >= spotBilled {
		t.Errorf("wasted on the reclaimed attempt = %v, want its billed share of %v", wasted, spotBilled)
	}

	// Evicted (api-evict) while running: counted once as Deleted, billed until then, wasted.
	w.Now = func() time.Time { return time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC) }
	evicted := finishedPod(true, corev1.PodRunning, "", "wf")
	evicted.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Time{Time: evicted.Status.StartTime.Time}}}
	w.deleted(cache.DeletedFinalStateUnknown{Key: "ci/p", Obj: evicted})
	w.deleted(finishedPod(true, corev1.PodSucceeded, "", "wf")) // finished before: counted already
	if got := testutil.ToFloat64(c.attempts.WithLabelValues("ci", "standard", marketSpot, outcomeDeleted, "false")); got != 1 {
		t.Errorf("deleted attempts = %v, want 1", got)
	}
	if got := testutil.ToFloat64(c.wasted.WithLabelValues("ci", "standard", string(recovery.FailureEvicted))); got <= 0 {
		t.Errorf("wasted on the evicted attempt = %v, want its half hour", got)
	}
	if got := testutil.ToFloat64(c.attempts.WithLabelValues("ci", "standard", marketSpot, "Succeeded", "false")); got != 1 {
		t.Errorf("spot succeeded attempts = %v after a deletion of a finished pod, want still 1", got)
	}
}

// podList is a PodLister over fixed pods.
type podList []corev1.Pod

func (l podList) WorkflowPods(_ context.Context, _, _ string) ([]corev1.Pod, error) { return l, nil }

// TestPodPathRecoveryFromFailedPod: Argo creates a retry's pod before it saves the failed
// attempt's node status, so the Workflow still shows attempt 0 running. The webhook reads the
// failure from attempt 0's pod (its main container OOMKilled) and gives the retry more memory.
func TestPodPathRecoveryFromFailedPod(t *testing.T) {
	pod, raw, wf := retryPodAndWorkflow(t, wfv1.NodeRunning, "")
	name := pod.Labels[common.LabelKeyWorkflow]
	failed := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-main-2", Namespace: pod.Namespace, Labels: map[string]string{common.LabelKeyWorkflow: name},
			Annotations: map[string]string{common.AnnotationKeyNodeName: name + "[0].main(0)", common.AnnotationKeyNodeID: name + "-2"}},
		Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "main",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: eci.ReasonOOMKilled}}}}},
	}
	for _, tc := range []struct {
		name string
		pods PodLister
		want string
	}{
		{"with the pods", podList{failed, *pod}, "1-4Gi,"},
		{"node status alone", nil, "1-2Gi,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, &Server{Engines: realStore(t, testProfiles), Workflows: mapWorkflows{wf.Namespace + "/" + wf.Name: wf}, Pods: tc.pods})
			shaped := ts.admitPod(t, raw)
			if got := shaped.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, tc.want) {
				t.Errorf("eci-use-specs = %q, want %s first", got, tc.want)
			}
			if got := shaped.Annotations[recovery.AnnotationRecovery]; (got != "") != (tc.pods != nil) {
				t.Errorf("%s = %q", recovery.AnnotationRecovery, got)
			}
		})
	}
}

// TestPodPathRecoveryFromDeletedPod: a spot reclaim with api-evict deletes attempt 0's pod, and
// Argo creates the retry's pod before it saves "pod deleted" for attempt 0. Listed, the
// workflow's pods lack attempt 0: the retry leaves spot. Without the list it stays as it was.
func TestPodPathRecoveryFromDeletedPod(t *testing.T) {
	for _, tc := range []struct {
		name string
		pods PodLister
		spot bool
	}{
		{"attempt 0's pod gone", podList{}, false},
		{"node status alone", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, raw, wf := retryPodAndWorkflow(t, wfv1.NodeRunning, "")
			ts := startServer(t, &Server{Engines: realStore(t, testProfiles), Workflows: mapWorkflows{wf.Namespace + "/" + wf.Name: wf}, Pods: tc.pods})
			shaped := ts.admitPod(t, raw)
			if _, spot := shaped.Annotations[eci.AnnotationSpotStrategy]; spot != tc.spot {
				t.Errorf("spot strategy set %v, want %v: %v", spot, tc.spot, shaped.Annotations)
			}
			if got := shaped.Annotations[recovery.AnnotationRecovery]; (got != "") == tc.spot {
				t.Errorf("%s = %q", recovery.AnnotationRecovery, got)
			}
		})
	}
}

// noPods fails the test when the webhook lists pods.
type noPods struct{ t *testing.T }

func (n noPods) WorkflowPods(_ context.Context, _, _ string) ([]corev1.Pod, error) {
	n.t.Error("listed the workflow's pods although its node status shows every earlier attempt")
	return nil, nil
}

// TestPodPathNoListWhenNodeStatusKnows: a retry whose earlier attempt the node status already
// shows finished is shaped from it without listing the workflow's pods.
func TestPodPathNoListWhenNodeStatusKnows(t *testing.T) {
	_, raw, wf := retryPodAndWorkflow(t, wfv1.NodeFailed, "main: OOMKilled (exit code 137)")
	ts := startServer(t, &Server{Engines: realStore(t, testProfiles), Workflows: mapWorkflows{wf.Namespace + "/" + wf.Name: wf}, Pods: noPods{t}})
	shaped := ts.admitPod(t, raw)
	if got := shaped.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "1-4Gi,") {
		t.Errorf("eci-use-specs = %q, want 1-4Gi first", got)
	}
}
