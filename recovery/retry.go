package recovery

import (
	"sort"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/argo-eci/argo-eci/eci"
)

// RetryBackoff is the first wait before a retry; it doubles after each failed attempt.
const RetryBackoff = "5s"

// RetryStrategy is the retryStrategy argo-eci adds to templates that have none: up to limit
// retries, retryPolicy Always (evictions and some stock-outs reach Argo as Error),
// RetryExpression so only ECI's failures are retried, and a backoff. The backoff matters beyond
// stock-outs: without one Argo creates the retry's pod in the same reconciliation that saw the
// attempt fail, before the failure is written to the Workflow's node status, so the webhook would
// not see it when it shapes the retry.
func RetryStrategy(limit int) *wfv1.RetryStrategy {
	l := intstr.FromInt32(int32(limit))
	factor := intstr.FromInt32(2)
	return &wfv1.RetryStrategy{
		Limit:       &l,
		RetryPolicy: wfv1.RetryPolicyAlways,
		Expression:  RetryExpression(),
		Backoff:     &wfv1.Backoff{Duration: RetryBackoff, Factor: &factor},
	}
}

// ClassifyPod names the ECI failure of a finished pod from its own status: ProviderFailed and
// BidFailed pod reasons, the ContainerInstanceExpired condition, an OOMKilled main container.
func ClassifyPod(pod *corev1.Pod) Failure {
	if pod.Status.Phase != corev1.PodFailed {
		if pod.DeletionTimestamp != nil {
			return FailureEvicted
		}
		return FailureNone
	}
	switch pod.Status.Reason {
	case eci.ReasonProviderFailed:
		return FailureStockOut
	case eci.ReasonBidFailed:
		return FailureSpotReclaim
	case "Evicted":
		return FailureEvicted
	}
	for _, c := range pod.Status.Conditions {
		if string(c.Type) == eci.ConditionContainerInstanceExpired && c.Status == corev1.ConditionTrue {
			return FailureSpotReclaim
		}
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			return FailureEvicted // the apiserver's mark of an eviction or a preemption
		}
	}
	for _, st := range pod.Status.ContainerStatuses {
		if st.Name != common.MainContainerName || st.State.Terminated == nil {
			continue
		}
		switch {
		case st.State.Terminated.Reason == eci.ReasonOOMKilled:
			return FailureOOMKilled
		case st.State.Terminated.ExitCode == ExitCodeSIGTERM:
			return FailureEvicted
		}
	}
	return Classify(wfv1.NodeFailed, pod.Status.Message)
}

// AttemptsFromPods returns the earlier attempts of the step whose pod has node name nodeName
// from the step's other pods (same workflow, node names "<step>(<i>)" with a smaller i), for when
// the Workflow's node status does not show them yet. Deleted pods (evictions) are missing here;
// Attempts infers them.
func AttemptsFromPods(pods []corev1.Pod, nodeName string) []Attempt {
	step, attempt, ok := splitAttempt(nodeName)
	if !ok || attempt == 0 {
		return nil
	}
	var out []Attempt
	for i := range pods {
		p := &pods[i]
		s, n, ok := splitAttempt(p.Annotations[common.AnnotationKeyNodeName])
		if !ok || s != step || n >= attempt {
			continue
		}
		f := ClassifyPod(p)
		if f == FailureNone && p.Status.Phase != corev1.PodSucceeded && p.DeletionTimestamp == nil {
			continue // still running
		}
		out = append(out, Attempt{Index: n, NodeID: p.Annotations[common.AnnotationKeyNodeID],
			Phase: wfv1.NodePhase(p.Status.Phase), Message: p.Status.Message, Failure: f})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}
