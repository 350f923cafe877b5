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
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

var testWF = executorplugins.ObjectMeta{Name: "wf", Namespace: "ns", UID: "11111111-2222-3333-4444-555555555555"}

func fakeClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := fluidv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithStatusSubresource(&fluidv1.Dataset{}, &fluidv1.DataLoad{}, &fluidv1.JindoRuntime{}).Build()
}

func fullSpec() *Spec {
	return &Spec{
		Name:   "data",
		Mounts: []fluidv1.Mount{{MountPoint: "oss://bucket/path/", Name: "demo", Path: "/"}},
		Runtime: &fluidv1.JindoRuntimeSpec{Replicas: 2, TieredStore: fluidv1.TieredStore{Levels: []fluidv1.Level{{
			MediumType: "MEM", VolumeType: "emptyDir", Path: "/local-storage", Quota: ptrQuantity("12Gi"), High: "0.99", Low: "0.99"}}}},
		Load:    Load{Paths: []string{"/"}, LoadMetadata: true},
		Timeout: "30m",
		Cleanup: CleanupOnWorkflowDeletion,
	}
}

func ptrQuantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

func TestWarmCreatesDatasetRuntimeThenOneDataLoad(t *testing.T) {
	ctx := context.Background()
	kube := fakeClient(t)
	m := &Manager{Client: kube}
	spec := fullSpec()

	r, err := m.Warm(ctx, testWF, spec)
	if err != nil {
		t.Fatal(err)
	}
	if r.Node.Phase != wfv1.NodeRunning || !strings.Contains(r.Node.Message, "to be Bound") || r.GetRequeue() != time.Second {
		t.Fatalf("first call: %+v requeue %v", r.Node, r.GetRequeue())
	}
	ds := &fluidv1.Dataset{}
	if err := kube.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "data"}, ds); err != nil {
		t.Fatal(err)
	}
	rt := &fluidv1.JindoRuntime{}
	if err := kube.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "data"}, rt); err != nil {
		t.Fatal(err)
	}
	for _, o := range []metav1.Object{ds, rt} {
		refs := o.GetOwnerReferences()
		if len(refs) != 1 || refs[0].Kind != "Workflow" || refs[0].APIVersion != "argoproj.io/v1alpha1" || string(refs[0].UID) != testWF.UID || refs[0].Name != "wf" {
			t.Fatalf("owner references of %s = %+v", o.GetName(), refs)
		}
	}
	if rt.Spec.Replicas != 2 || len(ds.Spec.Mounts) != 1 {
		t.Fatalf("created objects do not follow the template: %+v %+v", ds.Spec, rt.Spec)
	}
	var dls fluidv1.DataLoadList
	_ = kube.List(ctx, &dls)
	if len(dls.Items) != 0 {
		t.Fatal("DataLoad created before the Dataset was Bound")
	}

	// Fluid binds the Dataset.
	ds.Status.Phase = fluidv1.BoundDatasetPhase
	if err := kube.Status().Update(ctx, ds); err != nil {
		t.Fatal(err)
	}
	// Repeated and concurrent calls meet on one DataLoad.
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := m.Warm(ctx, testWF, fullSpec())
			if err != nil || r.Node.Phase != wfv1.NodeRunning {
				t.Errorf("concurrent call: %v %+v", err, r.Node)
			}
		}()
	}
	wg.Wait()
	_ = kube.List(ctx, &dls)
	if len(dls.Items) != 1 {
		t.Fatalf("%d DataLoads, want exactly 1", len(dls.Items))
	}
	dl := dls.Items[0]
	if dl.Name != DataLoadName("data", Key(testWF.UID, spec)) || dl.Labels[LabelWorkflowUID] != testWF.UID ||
		dl.Spec.Dataset.Name != "data" || !dl.Spec.LoadMetadata || dl.Spec.Target[0].Path != "/" || len(dl.OwnerReferences) != 1 {
		t.Fatalf("DataLoad = %+v", dl)
	}
	// A restarted plugin (new Manager, no memory) finds the same DataLoad.
	r, err = (&Manager{Client: kube}).Warm(ctx, testWF, fullSpec())
	if err != nil || r.Node.Phase != wfv1.NodeRunning || !strings.Contains(r.Node.Message, dl.Name) {
		t.Fatalf("after restart: %v %+v", err, r.Node)
	}
	_ = kube.List(ctx, &dls)
	if len(dls.Items) != 1 {
		t.Fatalf("%d DataLoads after restart, want 1", len(dls.Items))
	}
}

func TestWarmNeverMutatesExistingObjects(t *testing.T) {
	ctx := context.Background()
	existing := &fluidv1.Dataset{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"},
		Spec:       fluidv1.DatasetSpec{Mounts: []fluidv1.Mount{{MountPoint: "oss://other-bucket/", Name: "demo", Path: "/"}}},
		Status:     fluidv1.DatasetStatus{Phase: fluidv1.BoundDatasetPhase},
	}
	rt := &fluidv1.JindoRuntime{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"}, Spec: fluidv1.JindoRuntimeSpec{Replicas: 5}}
	kube := fakeClient(t, existing, rt)
	spec := fullSpec()
	spec.Cleanup = CleanupKeep
	r, err := (&Manager{Client: kube}).Warm(ctx, testWF, spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"existing Dataset data differs from the template at spec.mounts[0].mountPoint", "existing JindoRuntime data differs", "spec.replicas"} {
		if !strings.Contains(r.Node.Message, want) {
			t.Fatalf("message %q lacks %q", r.Node.Message, want)
		}
	}
	got := &fluidv1.Dataset{}
	_ = kube.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "data"}, got)
	if got.Spec.Mounts[0].MountPoint != "oss://other-bucket/" || len(got.OwnerReferences) != 0 {
		t.Fatalf("existing Dataset was changed: %+v", got.Spec)
	}
	// The findings travel with the DataLoad, so later calls still report them.
	r, err = (&Manager{Client: kube}).Warm(ctx, testWF, spec)
	if err != nil || !strings.Contains(r.Node.Message, "existing Dataset data differs") {
		t.Fatalf("later call lost the findings: %v %q", err, r.Node.Message)
	}
	var dls fluidv1.DataLoadList
	_ = kube.List(ctx, &dls)
	if len(dls.Items) != 1 || len(dls.Items[0].OwnerReferences) != 0 {
		t.Fatalf("cleanup keep: DataLoads %+v", dls.Items)
	}
}

func TestWarmMissingDatasetWithoutMounts(t *testing.T) {
	r, err := (&Manager{Client: fakeClient(t)}).Warm(context.Background(), testWF, &Spec{Name: "nowhere"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Node.Phase != wfv1.NodeFailed || !strings.Contains(r.Node.Message, "Dataset nowhere not found in namespace ns") {
		t.Fatalf("%+v", r.Node)
	}
}

func TestWarmRejectsForeignDataLoad(t *testing.T) {
	spec := &Spec{Name: "data"}
	name := DataLoadName("data", Key(testWF.UID, spec))
	kube := fakeClient(t,
		&fluidv1.Dataset{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"}, Status: fluidv1.DatasetStatus{Phase: fluidv1.BoundDatasetPhase}},
		&fluidv1.DataLoad{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}})
	r, err := (&Manager{Client: kube}).Warm(context.Background(), testWF, spec)
	if err != nil {
		t.Fatal(err)
	}
	if r.Node.Phase != wfv1.NodeFailed || !strings.Contains(r.Node.Message, "not created for this workflow") {
		t.Fatalf("%+v", r.Node)
	}
}

func TestWarmTimeoutBeforeDataLoadUsesFirstSight(t *testing.T) {
	now := t0
	kube := fakeClient(t, &fluidv1.Dataset{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"}})
	m := &Manager{Client: kube, Now: func() time.Time { return now }}
	spec := &Spec{Name: "data", Timeout: "5m"}
	if r, _ := m.Warm(context.Background(), testWF, spec); r.Node.Phase != wfv1.NodeRunning {
		t.Fatalf("%+v", r.Node)
	}
	now = t0.Add(6 * time.Minute)
	r, _ := m.Warm(context.Background(), testWF, spec)
	if r.Node.Phase != wfv1.NodeFailed || !strings.Contains(r.Node.Message, "never became ready") {
		t.Fatalf("%+v", r.Node)
	}
}

func TestWaitingPollsCostOneGet(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := fluidv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var gets, creates int
	kube := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			gets++
			return c.Get(ctx, key, obj, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			creates++
			return c.Create(ctx, obj, opts...)
		},
	}).Build()
	m := &Manager{Client: kube}
	ctx := context.Background()
	if _, err := m.Warm(ctx, testWF, fullSpec()); err != nil {
		t.Fatal(err)
	}
	if gets != 3 || creates != 2 { // DataLoad, Dataset, JindoRuntime; create Dataset and JindoRuntime
		t.Fatalf("first call: %d GETs %d creates", gets, creates)
	}
	gets, creates = 0, 0
	for range 5 {
		r, err := m.Warm(ctx, testWF, fullSpec())
		if err != nil || r.Node.Phase != wfv1.NodeRunning {
			t.Fatalf("%v %+v", err, r.Node)
		}
	}
	if gets != 5 || creates != 0 {
		t.Fatalf("5 waiting polls cost %d GETs and %d creates, want 5 and 0", gets, creates)
	}
}
