package recovery

import (
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRetryStrategy(t *testing.T) {
	rs := RetryStrategy(3)
	if rs.Limit.IntValue() != 3 || rs.RetryPolicy != wfv1.RetryPolicyAlways || rs.Expression != RetryExpression() || rs.Backoff == nil || rs.Backoff.Duration == "" {
		t.Errorf("%+v", rs)
	}
}

func failedPod(node string, mutate func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: node, Annotations: map[string]string{
		"workflows.argoproj.io/node-name": node, "workflows.argoproj.io/node-id": "id-" + node}},
		Status: corev1.PodStatus{Phase: corev1.PodFailed}}
	mutate(&p)
	return p
}

func TestClassifyPod(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name string
		pod  corev1.Pod
		want Failure
	}{
		{"provider failed", failedPod("a", func(p *corev1.Pod) { p.Status.Reason = "ProviderFailed" }), FailureStockOut},
		{"bid failed", failedPod("a", func(p *corev1.Pod) { p.Status.Reason = "BidFailed" }), FailureSpotReclaim},
		{"expired condition", failedPod("a", func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: "ContainerInstanceExpired", Status: corev1.ConditionTrue}}
		}), FailureSpotReclaim},
		{"oom", failedPod("a", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}}
		}), FailureOOMKilled},
		{"user exit", failedPod("a", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1}}}}
		}), FailureOther},
		{"being evicted", failedPod("a", func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning; p.DeletionTimestamp = &now }), FailureEvicted},
		{"ended by SIGTERM", failedPod("a", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 143}}}}
		}), FailureEvicted},
		{"disruption condition", failedPod("a", func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI"}}
		}), FailureEvicted},
		{"running", failedPod("a", func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }), FailureNone},
	}
	for _, tt := range tests {
		if got := ClassifyPod(&tt.pod); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestAttemptsFromPods(t *testing.T) {
	pods := []corev1.Pod{
		failedPod("s(1)", func(p *corev1.Pod) { p.Status.Reason = "ProviderFailed" }),
		failedPod("s(0)", func(p *corev1.Pod) { p.Status.Reason = "BidFailed" }),
		failedPod("s(2)", func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }), // the retry itself
		failedPod("other(0)", func(p *corev1.Pod) { p.Status.Reason = "BidFailed" }),
	}
	got := AttemptsFromPods(pods, "s(2)")
	if len(got) != 2 || got[0].Failure != FailureSpotReclaim || got[1].Failure != FailureStockOut {
		t.Errorf("attempts %+v", got)
	}
	if got := AttemptsFromPods(pods, "s(0)"); len(got) != 0 {
		t.Errorf("first attempt: %+v", got)
	}
}
