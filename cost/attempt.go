package cost

import (
	"strconv"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/eci"
)

// AgentTemplate is the template name given to Argo's executor-plugin agent pod, which ECI bills too.
const AgentTemplate = "(agent)"

// Attempt is one pod of a workflow step as ECI billed it.
type Attempt struct {
	Workflow string `json:"workflow"`
	Template string `json:"template"`
	Node     string `json:"node"`
	Pod      string `json:"pod"`
	// Spec is the billed spec as ECI wrote it back ("2.0-4.0Gi", "ecs.c6.large"); "" when no
	// instance was created (a stock-out), which ECI does not bill.
	Spec string `json:"spec,omitempty"`
	Spot bool   `json:"spot"`
	// Seconds billed: from the instance's creation to its last container's end (now if running).
	Seconds float64 `json:"seconds"`
	Phase   string  `json:"phase"`
	// Retry is the attempt's index in its retried step (0 = first try).
	Retry   int    `json:"retry"`
	Message string `json:"message,omitempty"`
}

// Failed reports whether the attempt ended without success.
func (a Attempt) Failed() bool {
	return a.Phase == string(corev1.PodFailed) || a.Phase == string(wfv1.NodeError)
}

// FromPod reads one workflow pod. wf may be nil (the Workflow was deleted): the template is then
// the pod's node name. now ends the billing of a pod still running.
func FromPod(pod *corev1.Pod, wf *wfv1.Workflow, now time.Time) Attempt {
	a := Attempt{
		Workflow: pod.Labels[common.LabelKeyWorkflow],
		Node:     pod.Annotations[common.AnnotationKeyNodeName],
		Pod:      pod.Name,
		Spec:     pod.Annotations[eci.AnnotationInstanceSpec],
		Spot:     pod.Annotations[eci.AnnotationSpotStrategy] != "",
		Phase:    string(pod.Status.Phase),
		Message:  pod.Status.Message,
	}
	a.Template = a.Node
	if pod.Labels[common.LabelKeyComponent] == "agent" {
		a.Template = AgentTemplate
	}
	if wf != nil {
		if n, ok := wf.Status.Nodes[pod.Annotations[common.AnnotationKeyNodeID]]; ok {
			a.Template = templateName(n)
			a.Node = n.Name
			if n.Message != "" {
				a.Message = n.Message
			}
		}
		a.Retry = retryIndex(wf, a.Node)
	}
	if a.Spec != "" {
		a.Seconds = billedSeconds(pod, now)
	}
	return a
}

func templateName(n wfv1.NodeStatus) string {
	if n.TemplateName != "" {
		return n.TemplateName
	}
	if n.TemplateRef != nil {
		return n.TemplateRef.Name + "/" + n.TemplateRef.Template
	}
	return n.DisplayName
}

// retryIndex is N for node "step(N)" whose parent "step" is a Retry node, else 0.
func retryIndex(wf *wfv1.Workflow, node string) int {
	open := strings.LastIndexByte(node, '(')
	if open <= 0 || !strings.HasSuffix(node, ")") {
		return 0
	}
	n, err := strconv.Atoi(node[open+1 : len(node)-1])
	if err != nil {
		return 0
	}
	for _, p := range wf.Status.Nodes {
		if p.Name == node[:open] && p.Type == wfv1.NodeTypeRetry {
			return n
		}
	}
	return 0
}

// billedSeconds runs from the instance's creation (condition ContainerInstanceCreated, else the
// pod's start) to the latest container end, or now while a container runs.
func billedSeconds(pod *corev1.Pod, now time.Time) float64 {
	var start time.Time
	for _, c := range pod.Status.Conditions {
		if string(c.Type) == eci.ConditionContainerInstanceCreated && c.Status == corev1.ConditionTrue {
			start = c.LastTransitionTime.Time
		}
	}
	if start.IsZero() && pod.Status.StartTime != nil {
		start = pod.Status.StartTime.Time
	}
	if start.IsZero() {
		return 0
	}
	var end time.Time
	for _, st := range append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		switch {
		case st.State.Running != nil:
			end = now
		case st.State.Terminated != nil && st.State.Terminated.FinishedAt.After(end):
			end = st.State.Terminated.FinishedAt.Time
		}
	}
	if end.IsZero() && pod.Status.Phase == corev1.PodRunning {
		end = now
	}
	if end.Before(start) {
		return 0
	}
	return end.Sub(start).Seconds()
}
