package webhook

import (
	"context"
	"fmt"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned"
	"github.com/argoproj/argo-workflows/v4/pkg/client/informers/externalversions"
	wflisters "github.com/argoproj/argo-workflows/v4/pkg/client/listers/workflow/v1alpha1"
	"k8s.io/client-go/tools/cache"
)

// WorkflowCache is a shared-informer cache of Workflows, so that shaping a pod costs no API
// call. It keeps what the shaper reads (metadata, spec, stored templates and specs) and drops
// the node status, managed fields and kubectl's last-applied copy, which are the bulk of a
// running workflow's size.
type WorkflowCache struct {
	informer cache.SharedIndexInformer
	lister   wflisters.WorkflowLister
}

var _ WorkflowGetter = (*WorkflowCache)(nil)

// NewWorkflowCache builds a cache of the Workflows in namespace ("" = every namespace).
func NewWorkflowCache(client versioned.Interface, namespace string) (*WorkflowCache, error) {
	// No periodic resync: the cache only serves lookups.
	factory := externalversions.NewSharedInformerFactoryWithOptions(client, 0,
		externalversions.WithNamespace(namespace))
	workflows := factory.Argoproj().V1alpha1().Workflows()
	c := &WorkflowCache{informer: workflows.Informer(), lister: workflows.Lister()}
	if err := c.informer.SetTransform(trimWorkflow); err != nil {
		return nil, fmt.Errorf("workflow informer: %w", err)
	}
	return c, nil
}

// Start runs the informer until ctx is cancelled.
func (c *WorkflowCache) Start(ctx context.Context) {
	go c.informer.RunWithContext(ctx)
}

// WaitForSync blocks until the first list is in the cache or ctx ends.
func (c *WorkflowCache) WaitForSync(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), c.informer.HasSynced)
}

// Synced is the readiness check of the cache.
func (c *WorkflowCache) Synced() error {
	if !c.informer.HasSynced() {
		return fmt.Errorf("workflow informer not synced yet")
	}
	return nil
}

// Workflow returns the cached Workflow namespace/name. The result is shared: do not modify it.
func (c *WorkflowCache) Workflow(namespace, name string) (*wfv1.Workflow, bool) {
	wf, err := c.lister.Workflows(namespace).Get(name)
	if err != nil {
		return nil, false
	}
	return wf, true
}

// lastApplied is kubectl's copy of the whole object in an annotation.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// trimWorkflow drops what the shaper never reads before an object enters the cache.
func trimWorkflow(obj any) (any, error) {
	wf, ok := obj.(*wfv1.Workflow)
	if !ok {
		return obj, nil // tombstones and the like pass through
	}
	wf.ManagedFields = nil
	if _, ok := wf.Annotations[lastApplied]; ok {
		annotations := make(map[string]string, len(wf.Annotations)-1)
		for k, v := range wf.Annotations {
			if k != lastApplied {
				annotations[k] = v
			}
		}
		wf.Annotations = annotations
	}
	wf.Status.Nodes = nil
	wf.Status.Conditions = nil
	wf.Status.Outputs = nil
	return wf, nil
}
