package dataset

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	"github.com/fluid-cloudnative/fluid/pkg/common"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

var testWF = executorplugins.ObjectMeta{Name: "wf", Namespace: "ns", UID: "11111111-2222-3333-4444-555555555555"}

func fakeClient(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := fluidv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	b := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithStatusSubresource(&fluidv1.Dataset{}, &fluidv1.DataLoad{}, &fluidv1.JindoRuntime{})
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	return b.Build()
}

func fullSpec() *Spec {
	q := resource.MustParse("12Gi")
	return &Spec{
		Name:   "data",
		Mounts: []fluidv1.Mount{{MountPoint: "oss://bucket/path/", Name: "demo", Path: "/"}},
		Runtime: &Runtime{Replicas: 2, TieredStore: TieredStore{Levels: []Level{{
			MediumType: "MEM", VolumeType: "emptyDir", Path: "/local-storage", Quota: &q, High: "0.99", Low: "0.99"}}}},
		Load:    Load{Paths: []string{"/"}, LoadMetadata: true},
		Timeout: "30m",
	}
}

// clock is a settable time source for a Manager.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func dataLoads(t *testing.T, kube client.Client) []fluidv1.DataLoad {
	t.Helper()
	var dls fluidv1.DataLoadList
	if err := kube.List(context.Background(), &dls); err != nil {
		t.Fatal(err)
	}
	return dls.Items
}

func getDS(t *testing.T, kube client.Client) *fluidv1.Dataset {
	t.Helper()
	ds := &fluidv1.Dataset{}
	if err := kube.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "data"}, ds); err != nil {
		t.Fatal(err)
	}
	return ds
}

func setStatus(t *testing.T, kube client.Client, obj client.Object) {
	t.Helper()
	if err := kube.Status().Update(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func warm(t *testing.T, m *Manager, spec *Spec, want wfv1.NodePhase, contains string) executorplugins.ExecuteTemplateReply {
	t.Helper()
	r, err := m.Warm(context.Background(), testWF, spec)
	if err != nil {
		t.Fatalf("Warm: %v", err)
	}
	if r.Node.Phase != want || !strings.Contains(r.Node.Message, contains) {
		t.Fatalf("got %s %q; want %s containing %q", r.Node.Phase, r.Node.Message, want, contains)
	}
	return r
}

// The DataLoad is created at once, even before the Dataset is Bound: Fluid itself holds it until the
// runtime is ready, and its creation time anchors the timeout across plugin restarts. Owner
// references make the Dataset, JindoRuntime and DataLoad go with the Workflow by default.
func TestWarmCreatesObjectsAndOneDataLoad(t *testing.T) {
	ctx := context.Background()
	kube := fakeClient(t, nil)
	m := &Manager{Client: kube}
	warm(t, m, fullSpec(), wfv1.NodeRunning, "waiting for Dataset data to be Bound")
	rt := &fluidv1.JindoRuntime{}
	if err := kube.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "data"}, rt); err != nil {
		t.Fatal(err)
	}
	for _, o := range []metav1.Object{getDS(t, kube), rt} {
		refs := o.GetOwnerReferences()
		if len(refs) != 1 || refs[0].Kind != "Workflow" || string(refs[0].UID) != testWF.UID {
			t.Fatalf("owner references of %s = %+v: created objects go with the workflow by default", o.GetName(), refs)
		}
	}
	if rt.Spec.Replicas != 2 || rt.Spec.TieredStore.Levels[0].Quota.String() != "12Gi" {
		t.Fatalf("runtime = %+v", rt.Spec)
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, err := m.Warm(ctx, testWF, fullSpec()); err != nil || r.Node.Phase != wfv1.NodeRunning {
				t.Errorf("concurrent call: %v %+v", err, r.Node)
			}
		}()
	}
	wg.Wait()
	dls := dataLoads(t, kube)
	if len(dls) != 1 {
		t.Fatalf("%d DataLoads, want exactly 1", len(dls))
	}
	dl := dls[0]
	if dl.Name != DataLoadName("data", Key(testWF.UID, fullSpec()), 1) || dl.Spec.TTLSecondsAfterFinished == nil || *dl.Spec.TTLSecondsAfterFinished != 3600 ||
		len(dl.OwnerReferences) != 1 || dl.Spec.PodMetadata.Labels["alibabacloud.com/eci"] != "true" {
		t.Fatalf("DataLoad = %+v", dl)
	}
	// A restarted plugin (new Manager, no memory) finds the same DataLoad.
	warm(t, &Manager{Client: kube}, fullSpec(), wfv1.NodeRunning, dl.Name)
	if n := len(dataLoads(t, kube)); n != 1 {
		t.Fatalf("%d DataLoads after restart, want 1", n)
	}
}

// A retried node sends the same template: it must get a new DataLoad and a new timeout instead of
// re-reading the failed one.
func TestRetryGetsNewDataLoadAndTimeout(t *testing.T) {
	clk := &clock{t: time.Now()}
	kube := fakeClient(t, nil, boundDS("0.0%"))
	m := &Manager{Client: kube, Now: clk.now}
	spec := &Spec{Name: "data", Timeout: "10m"}
	warm(t, m, spec, wfv1.NodeRunning, "")
	first := dataLoads(t, kube)[0]
	first.Status.Phase = common.PhaseFailed
	first.Status.Conditions = []fluidv1.Condition{{Type: common.Failed, Status: "True", Message: "loader exited 137"}}
	setStatus(t, kube, &first)
	warm(t, m, spec, wfv1.NodeFailed, "loader exited 137")

	// The retry: a new DataLoad, Running.
	warm(t, m, spec, wfv1.NodeRunning, DataLoadName("data", Key(testWF.UID, spec), 2))
	if n := len(dataLoads(t, kube)); n != 2 {
		t.Fatalf("%d DataLoads after the retry's first call, want 2", n)
	}
	// Attempt 2 runs past its own timeout and fails...
	clk.t = clk.t.Add(11 * time.Minute)
	warm(t, m, spec, wfv1.NodeFailed, "timed out after 10m0s")
	// ...and the next retry, even from a restarted plugin, starts attempt 3 with a fresh timeout.
	warm(t, &Manager{Client: kube, Now: clk.now}, spec, wfv1.NodeRunning, DataLoadName("data", Key(testWF.UID, spec), 3))
}

func boundDS(pct string) *fluidv1.Dataset {
	ds := boundDataset(pct)
	ds.Namespace = "ns"
	return ds
}

// Fluid v1.0.8 has no per-dataset lock: another load in operationRef is no reason to wait. A running
// DataLoad that covers the same paths is followed instead of starting a duplicate.
func TestFollowsRunningLoadOfSamePathsWithoutWaiting(t *testing.T) {
	ds := boundDS("30.0%")
	ds.Status.OperationRef = map[string]string{"DataLoad": "nightly,other"}
	nightly := &fluidv1.DataLoad{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "ns"},
		Spec:   fluidv1.DataLoadSpec{Dataset: fluidv1.TargetDataset{Name: "data"}, Target: []fluidv1.TargetPath{{Path: "/"}}},
		Status: fluidv1.OperationStatus{Phase: common.PhaseExecuting}}
	kube := fakeClient(t, nil, ds, nightly)
	m := &Manager{Client: kube}
	warm(t, m, &Spec{Name: "data", Load: Load{Paths: []string{"/train"}}}, wfv1.NodeRunning, "following DataLoad nightly")
	if n := len(dataLoads(t, kube)); n != 1 {
		t.Fatalf("%d DataLoads: a duplicate was queued", n)
	}
	nightly.Status.Phase = common.PhaseComplete
	setStatus(t, kube, nightly)
	r := warm(t, m, &Spec{Name: "data", Load: Load{Paths: []string{"/train"}}}, wfv1.NodeSucceeded, "nightly")
	if r.Node.Outputs.Parameters[4].Value.String() != "nightly" {
		t.Fatalf("outputs = %+v", r.Node.Outputs.Parameters)
	}
	// A load of other paths does not cover ours: we start our own at once.
	other := &fluidv1.DataLoad{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "ns"},
		Spec:   fluidv1.DataLoadSpec{Dataset: fluidv1.TargetDataset{Name: "data"}, Target: []fluidv1.TargetPath{{Path: "/eval"}}},
		Status: fluidv1.OperationStatus{Phase: common.PhaseExecuting}}
	if err := kube.Create(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	warm(t, m, &Spec{Name: "data", Load: Load{Paths: []string{"/test"}}}, wfv1.NodeRunning, "DataLoad data-warm-")
}

// A Bound Dataset cached at or above the minimum succeeds in one call without a DataLoad; force reloads.
func TestAlreadyWarmIsInstant(t *testing.T) {
	kube := fakeClient(t, nil, boundDS("100.0%"))
	r := warm(t, &Manager{Client: kube}, &Spec{Name: "data"}, wfv1.NodeSucceeded, "already warm: 100.0% cached")
	if r.Node.Outputs == nil || len(dataLoads(t, kube)) != 0 {
		t.Fatalf("a DataLoad was created for a warm Dataset, or outputs missing: %+v", r.Node)
	}
	warm(t, &Manager{Client: kube}, &Spec{Name: "data", Load: Load{Force: true}}, wfv1.NodeRunning, "")
	if len(dataLoads(t, kube)) != 1 {
		t.Fatal("force: true did not reload")
	}
}

// After the first call, transient API errors are a Running reply that retries; only the template's
// timeout fails the node.
func TestTransientErrorsRetryUntilTimeout(t *testing.T) {
	clk := &clock{t: t0}
	var broken bool
	funcs := &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		if broken {
			return apierrors.NewServiceUnavailable("apiserver restarting")
		}
		return c.Get(ctx, key, obj, opts...)
	}}
	kube := fakeClient(t, funcs, boundDS("0.0%"))
	m := &Manager{Client: kube, Now: clk.now}
	spec := &Spec{Name: "data", Timeout: "1h"}
	warm(t, m, spec, wfv1.NodeRunning, "")
	broken = true
	clk.t = t0.Add(30 * time.Minute)
	r := warm(t, m, spec, wfv1.NodeRunning, "retrying after a Kubernetes API error")
	if r.Requeue == nil || r.Requeue.Duration <= 0 {
		t.Fatal("retrying reply without requeue")
	}
	clk.t = t0.Add(61 * time.Minute)
	warm(t, m, spec, wfv1.NodeFailed, "timed out after 1h0m0s")
	// The apiserver is back; the retried node gets a new DataLoad, not the timed-out one.
	broken = false
	warm(t, m, spec, wfv1.NodeRunning, DataLoadName("data", Key(testWF.UID, spec), 2))

	// On a brand-new warm-up the error goes back to the agent, which retries the call itself.
	broken = true
	if _, err := (&Manager{Client: kube, Now: clk.now}).Warm(context.Background(), testWF, &Spec{Name: "data", Timeout: "2h"}); err == nil {
		t.Fatal("first call swallowed the error")
	}
}

// The loader pod goes to ECI by default, and the template's placement fields reach the DataLoad.
func TestLoaderPlacement(t *testing.T) {
	kube := fakeClient(t, nil, boundDS("0.0%"))
	spec := &Spec{Name: "data", Load: Load{
		PodMetadata:   &fluidv1.PodMetadata{Annotations: map[string]string{"k8s.aliyun.com/eci-use-specs": "2-4Gi"}},
		NodeSelector:  map[string]string{"type": "virtual-kubelet"},
		Tolerations:   []corev1.Toleration{{Key: "virtual-kubelet.io/provider", Operator: corev1.TolerationOpExists}},
		Affinity:      &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}},
		SchedulerName: "eci-scheduler",
	}}
	warm(t, &Manager{Client: kube}, spec, wfv1.NodeRunning, "")
	dl := dataLoads(t, kube)[0]
	if dl.Spec.PodMetadata.Labels["alibabacloud.com/eci"] != "true" || dl.Spec.PodMetadata.Annotations["k8s.aliyun.com/eci-use-specs"] != "2-4Gi" ||
		dl.Spec.NodeSelector["type"] != "virtual-kubelet" || len(dl.Spec.Tolerations) != 1 || dl.Spec.Affinity == nil || dl.Spec.SchedulerName != "eci-scheduler" {
		t.Fatalf("DataLoad placement = %+v", dl.Spec)
	}
}

func TestWarmNeverMutatesExistingObjectsAndReportsForeignOwner(t *testing.T) {
	ctx := context.Background()
	existing := &fluidv1.Dataset{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns",
			Labels:          map[string]string{LabelWorkflowUID: "other-uid", LabelWorkflow: "nightly-1"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow", Name: "nightly-1", UID: "other-uid"}}},
		Spec:   fluidv1.DatasetSpec{Mounts: []fluidv1.Mount{{MountPoint: "oss://other-bucket/", Name: "demo", Path: "/"}}},
		Status: fluidv1.DatasetStatus{Phase: fluidv1.BoundDatasetPhase},
	}
	rt := &fluidv1.JindoRuntime{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"}, Spec: fluidv1.JindoRuntimeSpec{Replicas: 5}}
	kube := fakeClient(t, nil, existing, rt)
	spec := fullSpec()
	spec.Cleanup = CleanupKeep
	r := warm(t, &Manager{Client: kube}, spec, wfv1.NodeRunning, "")
	for _, want := range []string{"Dataset data was created by workflow nightly-1 and is reused; it is deleted when workflow nightly-1 is deleted",
		"existing Dataset data differs from the template at spec.mounts[0].mountPoint", "existing JindoRuntime data differs", "spec.replicas"} {
		if !strings.Contains(r.Node.Message, want) {
			t.Fatalf("message %q lacks %q", r.Node.Message, want)
		}
	}
	got := getDS(t, kube)
	if got.Spec.Mounts[0].MountPoint != "oss://other-bucket/" {
		t.Fatalf("existing Dataset was changed: %+v", got.Spec)
	}
	// The findings travel with the DataLoad, so a restarted plugin still reports them.
	warm(t, &Manager{Client: kube}, spec, wfv1.NodeRunning, "existing Dataset data differs")
	if dls := dataLoads(t, kube); len(dls) != 1 || len(dls[0].OwnerReferences) != 0 {
		t.Fatalf("cleanup keep: DataLoads %+v", dls)
	}
	_ = ctx
}

func TestWarmMissingDatasetWithoutMounts(t *testing.T) {
	warm(t, &Manager{Client: fakeClient(t, nil)}, &Spec{Name: "nowhere"}, wfv1.NodeFailed, "Dataset nowhere not found in namespace ns")
}

func TestWarmRejectsForeignDataLoad(t *testing.T) {
	spec := &Spec{Name: "data"}
	name := DataLoadName("data", Key(testWF.UID, spec), 1)
	kube := fakeClient(t, nil, boundDS("0.0%"), &fluidv1.DataLoad{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}})
	warm(t, &Manager{Client: kube}, spec, wfv1.NodeFailed, "not created for this workflow")
}

// A Complete DataLoad whose cache looks short waits for a cache-state refresh newer than the moment
// the plugin first saw Complete, then judges the refreshed numbers.
func TestCompleteWaitsForRefreshedCacheStates(t *testing.T) {
	clk := &clock{t: time.Now()}
	kube := fakeClient(t, nil, boundDS("0.0%"))
	m := &Manager{Client: kube, Now: clk.now}
	spec := &Spec{Name: "data"}
	warm(t, m, spec, wfv1.NodeRunning, "")
	dl := dataLoads(t, kube)[0]
	dl.Status.Phase = common.PhaseComplete
	dl.Status.Conditions = []fluidv1.Condition{{Type: common.Complete, Status: "True", LastTransitionTime: metav1.NewTime(clk.t.Add(-time.Hour))}}
	setStatus(t, kube, &dl)
	clk.t = clk.t.Add(time.Second)
	warm(t, m, spec, wfv1.NodeRunning, "waiting up to 2m0s for Fluid's next cache-state refresh")
	ds := getDS(t, kube)
	ds.Status.CacheStates[common.CachedPercentage] = "100.0%"
	ds.Status.CacheStates[common.Cached] = "10.00GiB"
	setStatus(t, kube, ds)
	clk.t = clk.t.Add(time.Second)
	warm(t, m, spec, wfv1.NodeSucceeded, "Complete: 10.00GiB (100.0%)")
	ended := dataLoads(t, kube)[0]
	if ended.Annotations[AnnotationAttemptEnded] != string(wfv1.NodeSucceeded) {
		t.Fatalf("answered DataLoad not marked: %v", ended.Annotations)
	}
}
