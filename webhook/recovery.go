package webhook

import (
	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/emissary"
)

// trimNodes keeps of a Workflow's node status what the pod path reads: the retry nodes and the
// pod nodes (their attempts), with the fields that name a failed attempt (phase, message) and the
// step's template (for the cost counters). The recovery of a retry's pod is decided from it
// (recovery.PreviousAttempts); everything else in the node status is dropped from the cache.
func trimNodes(nodes wfv1.Nodes) wfv1.Nodes {
	if len(nodes) == 0 {
		return nil
	}
	out := make(wfv1.Nodes)
	for id, n := range nodes {
		switch n.Type {
		case wfv1.NodeTypeRetry:
			out[id] = wfv1.NodeStatus{ID: n.ID, Name: n.Name, Type: n.Type, Phase: n.Phase, Children: n.Children}
		case wfv1.NodeTypePod:
			out[id] = wfv1.NodeStatus{ID: n.ID, Name: n.Name, DisplayName: n.DisplayName, Type: n.Type, Phase: n.Phase,
				Message: n.Message, TemplateName: n.TemplateName, TemplateRef: n.TemplateRef}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// recordRecovery counts the admission's recovery decisions: one per ECI failure of the step's
// earlier attempts that shaped a retry's pod. A reinvocation (the pod already carries
// AnnotationWebhookSet) repeats a decision already counted.
func (m *Metrics) recordRecovery(pod *corev1.Pod, res *emissary.PodResult) {
	if _, again := pod.Annotations[AnnotationWebhookSet]; again || m.cost == nil {
		return
	}
	for _, f := range res.Recovered {
		m.cost.decisions.WithLabelValues(pod.Namespace, res.Profile, string(f)).Inc()
	}
}
