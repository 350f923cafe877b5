package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/argoproj/argo-workflows/v4/pkg/apis/workflow"
	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// OutputsFunc decides the outputs the wait container would report for a workflow pod; nil
// reports none.
type OutputsFunc func(pod *corev1.Pod) *wfv1.Outputs

// TaskResults plays the part of Argo's wait container for every workflow pod in namespace ns
// until the test ends: when the controller creates a pod it creates the pod's WorkflowTaskResult
// (named after the node-id annotation, labelled report-outputs-completed=false, carrying
// outputs(pod)), and when kwok finishes the pod it sets the label to "true", exactly as argoexec
// does. The controller copies the outputs into the workflow's node.
//
// What Argo v4.0.7 does without it (workflow/controller/operator.go): every pod node starts
// task-result-synced, so a pod whose template declares no outputs completes without a result;
// but a Succeeded pod whose template declares output parameters, a result or required artifacts
// stays Running ("leaving phase un-changed: required outputs are not yet set") until a result
// brings them. Such workflows need TaskResults, started before the workflow is created.
func (c *Cluster) TaskResults(t testing.TB, ns string, outputs OutputsFunc) {
	t.Helper()
	r := &reporter{c: c, t: t, ns: ns, outputs: outputs, created: map[string]bool{}, done: map[string]bool{}}
	factory := informers.NewSharedInformerFactoryWithOptions(c.Kube, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = common.LabelKeyWorkflow }))
	informer := factory.Core().V1().Pods().Informer()
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.handle(obj) },
		UpdateFunc: func(_, obj any) { r.handle(obj) },
	})
	if err != nil {
		t.Fatalf("task-result reporter: %v", err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	t.Cleanup(func() {
		close(stop)
		factory.Shutdown()
	})
	if !cache.WaitForCacheSync(stop, informer.HasSynced) {
		t.Fatalf("task-result reporter: pod informer for %s never synced", ns)
	}
}

type reporter struct {
	c       *Cluster
	t       testing.TB
	ns      string
	outputs OutputsFunc

	mu      sync.Mutex
	created map[string]bool // node IDs with a result
	done    map[string]bool // node IDs whose result is complete
}

func (r *reporter) handle(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Labels[common.LabelKeyComponent] == "agent" {
		return
	}
	nodeID := pod.Annotations[common.AnnotationKeyNodeID]
	wfName := pod.Labels[common.LabelKeyWorkflow]
	if nodeID == "" || wfName == "" {
		return
	}
	finished := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx := context.Background()
	if !r.created[nodeID] {
		if err := r.create(ctx, pod, nodeID, wfName); err != nil {
			r.t.Errorf("task-result reporter: %v", err)
			return
		}
		r.created[nodeID] = true
	}
	if finished && !r.done[nodeID] {
		if err := r.complete(ctx, nodeID); err != nil {
			r.t.Errorf("task-result reporter: %v", err)
			return
		}
		r.done[nodeID] = true
	}
}

func (r *reporter) create(ctx context.Context, pod *corev1.Pod, nodeID, wfName string) error {
	result := &wfv1.WorkflowTaskResult{
		ObjectMeta: metav1.ObjectMeta{
			Name:      nodeID,
			Namespace: r.ns,
			Labels:    map[string]string{common.LabelKeyWorkflow: wfName, common.LabelKeyReportOutputsCompleted: "false"},
		},
	}
	for _, ref := range pod.OwnerReferences {
		if ref.Kind == workflow.WorkflowKind {
			result.OwnerReferences = []metav1.OwnerReference{{APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name, UID: ref.UID}}
		}
	}
	if r.outputs != nil {
		result.Outputs = r.outputs(pod)
	}
	_, err := r.c.Workflows.ArgoprojV1alpha1().WorkflowTaskResults(r.ns).Create(ctx, result, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create WorkflowTaskResult %s/%s: %w", r.ns, nodeID, err)
	}
	return nil
}

func (r *reporter) complete(ctx context.Context, nodeID string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{common.LabelKeyReportOutputsCompleted: "true"}}})
	if err != nil {
		return err
	}
	_, err = r.c.Workflows.ArgoprojV1alpha1().WorkflowTaskResults(r.ns).Patch(ctx, nodeID, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("complete WorkflowTaskResult %s/%s: %w", r.ns, nodeID, err)
	}
	return nil
}
