package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned"
	wflisters "github.com/argoproj/argo-workflows/v4/pkg/client/listers/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// ErrNamespaceNotServed is returned by ReadWorkflow for a namespace outside the cache's list:
// the webhook has no permission there, and its configuration should not send such pods.
var ErrNamespaceNotServed = errors.New("namespace not served by this webhook")

// incompleteSelector keeps only Workflows that can still create pods: the controller labels a
// finished Workflow workflows.argoproj.io/completed=true, and the watch drops it from the cache
// when the label appears (and adds it back when `argo retry` removes it).
const incompleteSelector = common.LabelKeyCompleted + "!=true"

// WorkflowCache is a shared-informer cache of the Workflows that can still create pods, so that
// shaping a pod costs no API call. It keeps what the shaper reads (metadata, spec, stored
// templates and specs) and drops the node status, managed fields and kubectl's last-applied copy,
// which are the bulk of a running workflow's size. Its lists are paged from the apiserver (500
// per page) rather than one response with every Workflow.
type WorkflowCache struct {
	client     versioned.Interface
	namespaces []string // empty: every namespace
	informers  []cache.SharedIndexInformer
	listers    map[string]wflisters.WorkflowNamespaceLister
	all        wflisters.WorkflowLister
}

var (
	_ WorkflowGetter = (*WorkflowCache)(nil)
	_ WorkflowReader = (*WorkflowCache)(nil)
)

// NewWorkflowCache builds a cache of the Workflows in namespaces: one informer per namespace, so
// the webhook needs read access only there. No namespaces means every namespace (one
// cluster-wide informer, which needs a ClusterRole binding).
func NewWorkflowCache(client versioned.Interface, namespaces []string) (*WorkflowCache, error) {
	c := &WorkflowCache{client: client, namespaces: slices.Clone(namespaces), listers: map[string]wflisters.WorkflowNamespaceLister{}}
	if len(namespaces) == 0 {
		inf, err := c.newInformer(metav1.NamespaceAll)
		if err != nil {
			return nil, err
		}
		c.all = wflisters.NewWorkflowLister(inf.GetIndexer())
		return c, nil
	}
	for _, ns := range namespaces {
		if ns == "" {
			return nil, errors.New("workflow cache: empty namespace name in the list")
		}
		inf, err := c.newInformer(ns)
		if err != nil {
			return nil, err
		}
		c.listers[ns] = wflisters.NewWorkflowLister(inf.GetIndexer()).Workflows(ns)
	}
	return c, nil
}

func (c *WorkflowCache) newInformer(namespace string) (cache.SharedIndexInformer, error) {
	workflows := c.client.ArgoprojV1alpha1().Workflows(namespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return workflows.List(ctx, pagedListOptions(o))
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = incompleteSelector
			return workflows.Watch(ctx, o)
		},
	}
	// No periodic resync: the cache only serves lookups.
	inf := cache.NewSharedIndexInformer(lw, &wfv1.Workflow{}, 0,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	if err := inf.SetTransform(trimWorkflow); err != nil {
		return nil, fmt.Errorf("workflow informer: %w", err)
	}
	c.informers = append(c.informers, inf)
	return inf, nil
}

// pagedListOptions makes the informer's list select only incomplete Workflows and page through
// them. A list at resourceVersion "0" is answered from the apiserver's watch cache in one piece
// whatever the limit; an empty resourceVersion makes the limit and continue tokens apply.
func pagedListOptions(o metav1.ListOptions) metav1.ListOptions {
	o.LabelSelector = incompleteSelector
	if o.ResourceVersion == "0" {
		o.ResourceVersion = ""
	}
	if o.Limit <= 0 {
		o.Limit = 500
	}
	return o
}

// Start runs the informers until ctx is cancelled.
func (c *WorkflowCache) Start(ctx context.Context) {
	for _, inf := range c.informers {
		go inf.RunWithContext(ctx)
	}
}

// WaitForSync blocks until the first lists are in the cache or ctx ends.
func (c *WorkflowCache) WaitForSync(ctx context.Context) bool {
	synced := make([]cache.InformerSynced, len(c.informers))
	for i, inf := range c.informers {
		synced[i] = inf.HasSynced
	}
	return cache.WaitForCacheSync(ctx.Done(), synced...)
}

// Synced is the readiness check of the cache.
func (c *WorkflowCache) Synced() error {
	for _, inf := range c.informers {
		if !inf.HasSynced() {
			return errors.New("workflow informer not synced yet")
		}
	}
	return nil
}

// Serves reports whether namespace is one the cache covers.
func (c *WorkflowCache) Serves(namespace string) bool {
	return len(c.namespaces) == 0 || slices.Contains(c.namespaces, namespace)
}

// Workflow returns the cached Workflow namespace/name. The result is shared: do not modify it.
func (c *WorkflowCache) Workflow(namespace, name string) (*wfv1.Workflow, bool) {
	var (
		wf  *wfv1.Workflow
		err error
	)
	if c.all != nil {
		wf, err = c.all.Workflows(namespace).Get(name)
	} else if l, ok := c.listers[namespace]; ok {
		wf, err = l.Get(name)
	} else {
		return nil, false
	}
	if err != nil {
		return nil, false
	}
	return wf, true
}

// ReadWorkflow reads one Workflow from the apiserver, trimmed like the cached ones; for the
// Workflows the informer has not seen yet.
func (c *WorkflowCache) ReadWorkflow(ctx context.Context, namespace, name string) (*wfv1.Workflow, error) {
	if !c.Serves(namespace) {
		return nil, fmt.Errorf("%w: %s", ErrNamespaceNotServed, namespace)
	}
	wf, err := c.client.ArgoprojV1alpha1().Workflows(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	trimmed, _ := trimWorkflow(wf)
	return trimmed.(*wfv1.Workflow), nil
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
