package webhook

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	wffake "github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned/fake"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
)

// twoProfiles shapes with "standard" by default and with "batch" when a workflow asks for it.
const twoProfiles = `
default: standard
profiles:
  standard:
    placement: [label]
    specs: auto
  batch:
    placement: [label]
    specs: auto
    spot: {strategy: SpotAsPriceGo, fallback: true}
`

// lateInformerCache is a WorkflowCache whose watch never delivers: it has synced an empty list,
// and the Workflow created afterwards is only in the apiserver, as when a pod arrives before
// the informer has its Workflow.
func lateInformerCache(t *testing.T, wf *wfv1.Workflow) (*WorkflowCache, *wffake.Clientset) {
	t.Helper()
	client := wffake.NewSimpleClientset()
	client.PrependWatchReactor("workflows", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, watch.NewFake(), nil
	})
	c, err := NewWorkflowCache(client, []string{wf.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.Start(ctx)
	if !c.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	if _, err := client.ArgoprojV1alpha1().Workflows(wf.Namespace).Create(ctx, wf, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Workflow(wf.Namespace, wf.Name); ok {
		t.Fatal("test setup: the informer has the workflow already")
	}
	return c, client
}

func TestPodBeforeInformerHasWorkflow(t *testing.T) {
	pod, raw := typicalPod(t)
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: pod.Labels["workflows.argoproj.io/workflow"], Namespace: pod.Namespace,
		Annotations: map[string]string{"argo-eci.io/profile": "batch"}}}
	c, _ := lateInformerCache(t, wf)
	ts := startServer(t, &Server{Engines: realStore(t, twoProfiles), Workflows: c, WorkflowReader: c})

	status, out, body := ts.post(t, PathPods, podReview(t, "u-1", raw))
	if status != http.StatusOK || !out.Response.Allowed {
		t.Fatalf("status %d: %s", status, body)
	}
	shaped := applyJSONPatch(t, raw, out.Response.Patch)
	got := &corev1.Pod{}
	if err := decodeObject(shaped, got); err != nil {
		t.Fatal(err)
	}
	if by := got.Annotations["argo-eci.io/shaped-by"]; by != "batch" {
		t.Errorf("shaped-by %q, want the workflow's profile batch (the cache did not have the workflow yet)", by)
	}
	if n := testutil.ToFloat64(ts.Metrics.workflowMisses.WithLabelValues(missFound)); n != 1 {
		t.Errorf("misses found by the direct read = %v, want 1", n)
	}
}

func TestDirectReadFailureRefusesThePod(t *testing.T) {
	pod, raw := typicalPod(t)
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: pod.Labels["workflows.argoproj.io/workflow"], Namespace: pod.Namespace}}
	c, _ := lateInformerCache(t, wf)
	s := &Server{Engines: realStore(t, twoProfiles), Workflows: c, WorkflowReader: slowReader{}, ReadTimeout: 50 * time.Millisecond,
		Logger: quietLogger(t), Metrics: NewMetrics()}
	s.init()
	v := s.admitPod(t.Context(), decodeRequest(t, podReview(t, "u", raw)))
	if v.outcome != outcomeError || !strings.Contains(v.message, wf.Name) {
		t.Errorf("outcome %s (%s), want an internal error naming the workflow, so the controller retries", v.outcome, v.message)
	}
	if n := testutil.ToFloat64(s.Metrics.workflowMisses.WithLabelValues(missError)); n != 1 {
		t.Errorf("failed direct reads = %v, want 1", n)
	}
}

// slowReader answers only when ctx ends.
type slowReader struct{}

func (slowReader) ReadWorkflow(ctx context.Context, _, _ string) (*wfv1.Workflow, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestWorkflowCacheListsPagedIncompleteOnly(t *testing.T) {
	got := pagedListOptions(metav1.ListOptions{ResourceVersion: "0"})
	if got.LabelSelector != "workflows.argoproj.io/completed!=true" || got.ResourceVersion != "" || got.Limit != 500 {
		t.Errorf("list options %+v, want the incomplete selector, a consistent read and a limit of 500", got)
	}
	if got := pagedListOptions(metav1.ListOptions{ResourceVersion: "123", Limit: 100, Continue: "x"}); got.ResourceVersion != "123" || got.Limit != 100 || got.Continue != "x" {
		t.Errorf("list options %+v lost the pager's own settings", got)
	}
}

func TestWorkflowCacheReadsOnlyServedNamespaces(t *testing.T) {
	a := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "ci"}}
	b := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "other"}}
	client := wffake.NewSimpleClientset(a, b)
	c, err := NewWorkflowCache(client, []string{"ci", "data"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.Start(ctx)
	if !c.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	if _, ok := c.Workflow("ci", "w"); !ok {
		t.Error("workflow of a served namespace missing")
	}
	if _, ok := c.Workflow("other", "w"); ok {
		t.Error("workflow of a namespace not served is cached")
	}
	if _, err := c.ReadWorkflow(ctx, "other", "w"); !errors.Is(err, ErrNamespaceNotServed) {
		t.Errorf("direct read outside the served namespaces: %v, want ErrNamespaceNotServed", err)
	}
	for _, a := range client.Actions() {
		if ns := a.GetNamespace(); a.GetResource().Resource == "workflows" && ns != "ci" && ns != "data" {
			t.Errorf("%s workflows in namespace %q: the webhook reads only the namespaces it serves", a.GetVerb(), ns)
		}
	}
}
