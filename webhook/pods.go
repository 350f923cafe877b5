package webhook

import (
	"context"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/argo-eci/argo-eci/recovery"
)

// KubePods lists a workflow's pods from the apiserver (RBAC: list pods).
type KubePods struct {
	Client kubernetes.Interface
}

// WorkflowPods lists the pods labelled workflows.argoproj.io/workflow=workflow in namespace.
func (k KubePods) WorkflowPods(ctx context.Context, namespace, workflow string) ([]corev1.Pod, error) {
	sel := labels.Set{common.LabelKeyWorkflow: workflow}.AsSelector().String()
	list, err := k.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// retrySiblings lists the other pods of a retry's workflow when wf's node status does not show all
// its earlier attempts yet; nil otherwise, without a lister, or when the list fails (the retry is
// then shaped from the node status alone).
func (s *Server) retrySiblings(ctx context.Context, pod *corev1.Pod, wf *wfv1.Workflow) *recovery.Siblings {
	name := pod.Labels[common.LabelKeyWorkflow]
	if s.Pods == nil || name == "" || !recovery.AttemptsUnknown(pod, wf) {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, s.directReadTimeout())
	defer cancel()
	pods, err := s.Pods.WorkflowPods(rctx, pod.Namespace, name)
	if err != nil {
		Logger(ctx).Warn("listing the workflow's pods failed; shaping the retry from its node status alone", "workflow", name, "error", err)
		return nil
	}
	return &recovery.Siblings{Pods: pods}
}
