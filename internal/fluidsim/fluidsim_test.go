package fluidsim

import (
	"context"
	"strings"
	"testing"
	"time"

	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	"github.com/fluid-cloudnative/fluid/pkg/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// scale 0.01: the 20 s poll is 200 ms, the 90 s cache sync 900 ms, ufsTotal takes 300 ms.
const scale = 0.01

func start(t *testing.T, s Script, names ...string) (client.Client, *Simulator) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := fluidv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	objs := []client.Object{
		&fluidv1.Dataset{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"}},
		&fluidv1.JindoRuntime{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"}},
	}
	for _, n := range names {
		objs = append(objs, &fluidv1.DataLoad{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: "ns"},
			Spec: fluidv1.DataLoadSpec{Dataset: fluidv1.TargetDataset{Name: "data"}, Target: []fluidv1.TargetPath{{Path: "/"}}}})
	}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithStatusSubresource(&fluidv1.Dataset{}, &fluidv1.DataLoad{}).Build()
	s.Scale = scale
	sim := New(kube, "ns", s)
	sim.tick = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("simulator: %v", err)
		}
	})
	return kube, sim
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("not within %s: %s", within, what)
}

func get(t *testing.T, kube client.Client, obj client.Object, name string) {
	t.Helper()
	if err := kube.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: name}, obj); err != nil {
		t.Fatal(err)
	}
}

// A whole run as Fluid does it: empty cachedPercentage until ufsTotal is known, a comma-list
// operationRef for two concurrent loads, Complete carrying the Job's finish time and seen only at
// the next poll, the cache states refreshed only by the periodic sync.
func TestRunLikeFluid(t *testing.T) {
	kube, sim := start(t, Script{BindAfter: 50 * time.Millisecond, Load: LoadPlan{Duration: 250 * time.Millisecond}}, "a", "b")
	ds := &fluidv1.Dataset{}
	eventually(t, 2*time.Second, "Dataset Bound", func() bool { get(t, kube, ds, "data"); return ds.Status.Phase == fluidv1.BoundDatasetPhase })
	if ds.Status.CacheStates[common.CachedPercentage] != "" || ds.Status.UfsTotal != "[Calculating]" {
		t.Fatalf("fresh binding: cachedPercentage %q ufsTotal %q; want empty and [Calculating]", ds.Status.CacheStates[common.CachedPercentage], ds.Status.UfsTotal)
	}
	eventually(t, 2*time.Second, "both loads in operationRef", func() bool {
		get(t, kube, ds, "data")
		return ds.Status.OperationRef["DataLoad"] == "a,b" || ds.Status.OperationRef["DataLoad"] == "b,a"
	})
	dl := &fluidv1.DataLoad{}
	eventually(t, 3*time.Second, "DataLoad a Complete", func() bool { get(t, kube, dl, "a"); return dl.Status.Phase == common.PhaseComplete })
	at, _ := sim.CompletedAt("a")
	jobEnd := dl.Status.Conditions[0].LastTransitionTime.Time
	if !jobEnd.Before(at) {
		t.Fatalf("Complete's time %s is not the Job's finish (before the status write at %s)", jobEnd, at)
	}
	eventually(t, 3*time.Second, "cache states refreshed to 100%", func() bool {
		get(t, kube, ds, "data")
		return ds.Status.CacheStates[common.CachedPercentage] == "100.0%" && ds.Status.UfsTotal == "10.00GiB"
	})
	eventually(t, time.Second, "operationRef released", func() bool { get(t, kube, ds, "data"); return ds.Status.OperationRef["DataLoad"] == "" })
}

func TestFailureModes(t *testing.T) {
	t.Run("StuckExecuting", func(t *testing.T) {
		kube, _ := start(t, Script{Failure: StuckExecuting, Load: LoadPlan{Duration: 100 * time.Millisecond}}, "a")
		ds, dl := &fluidv1.Dataset{}, &fluidv1.DataLoad{}
		eventually(t, 4*time.Second, "cache full", func() bool {
			get(t, kube, ds, "data")
			return ds.Status.CacheStates[common.CachedPercentage] == "100.0%"
		})
		get(t, kube, dl, "a")
		if dl.Status.Phase != common.PhaseExecuting {
			t.Fatalf("phase %s, want stuck Executing", dl.Status.Phase)
		}
	})
	t.Run("PartialCache", func(t *testing.T) {
		kube, _ := start(t, Script{Failure: PartialCache, Load: LoadPlan{Duration: 100 * time.Millisecond}}, "a")
		ds, dl := &fluidv1.Dataset{}, &fluidv1.DataLoad{}
		eventually(t, 3*time.Second, "Complete", func() bool { get(t, kube, dl, "a"); return dl.Status.Phase == common.PhaseComplete })
		eventually(t, 3*time.Second, "57% cached", func() bool {
			get(t, kube, ds, "data")
			return ds.Status.CacheStates[common.CachedPercentage] == "57.0%"
		})
	})
	t.Run("RuntimeNeverReady", func(t *testing.T) {
		kube, _ := start(t, Script{Failure: RuntimeNeverReady}, "a")
		time.Sleep(500 * time.Millisecond)
		ds, dl := &fluidv1.Dataset{}, &fluidv1.DataLoad{}
		get(t, kube, ds, "data")
		get(t, kube, dl, "a")
		if ds.Status.Phase != fluidv1.NotBoundDatasetPhase || dl.Status.Phase != common.PhaseNone {
			t.Fatalf("Dataset %s DataLoad %q; want NotBound and no phase", ds.Status.Phase, dl.Status.Phase)
		}
	})
	t.Run("LoaderUnschedulable", func(t *testing.T) {
		kube, _ := start(t, Script{Failure: LoaderUnschedulable, Load: LoadPlan{Duration: 50 * time.Millisecond}}, "a")
		dl, ds := &fluidv1.DataLoad{}, &fluidv1.Dataset{}
		eventually(t, 2*time.Second, "Executing", func() bool { get(t, kube, dl, "a"); return dl.Status.Phase == common.PhaseExecuting })
		time.Sleep(1200 * time.Millisecond)
		get(t, kube, dl, "a")
		get(t, kube, ds, "data")
		if dl.Status.Phase != common.PhaseExecuting || !strings.HasPrefix(ds.Status.CacheStates[common.Cached], "0.00") {
			t.Fatalf("DataLoad %s, cached %s; want Executing with nothing cached", dl.Status.Phase, ds.Status.CacheStates[common.Cached])
		}
	})
}

// TTL: a finished DataLoad is deleted ttlSecondsAfterFinished after it ended.
func TestTTL(t *testing.T) {
	kube, _ := start(t, Script{Load: LoadPlan{Duration: 10 * time.Millisecond}}, "a")
	dl := &fluidv1.DataLoad{}
	get(t, kube, dl, "a")
	zero := int32(0)
	dl.Spec.TTLSecondsAfterFinished = &zero
	if err := kube.Update(context.Background(), dl); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "DataLoad deleted after its TTL", func() bool {
		return kube.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "a"}, &fluidv1.DataLoad{}) != nil
	})
}

// SetLoad changes a running Job's plan: a load planned for an hour ends when told to.
func TestSetLoadEndsARunningJob(t *testing.T) {
	kube, sim := start(t, Script{Loads: map[string]LoadPlan{"a": {Duration: time.Hour}}}, "a")
	dl := &fluidv1.DataLoad{}
	eventually(t, 2*time.Second, "Executing", func() bool { get(t, kube, dl, "a"); return dl.Status.Phase == common.PhaseExecuting })
	sim.SetLoad("a", LoadPlan{Duration: 0})
	eventually(t, 2*time.Second, "Complete", func() bool { get(t, kube, dl, "a"); return dl.Status.Phase == common.PhaseComplete })
}

// AnyImageCache plays every ImageCache not named in ImageCaches; a named plan still wins.
func TestAnyImageCache(t *testing.T) {
	cache := func(name string) *unstructured.Unstructured {
		ic := &unstructured.Unstructured{}
		ic.SetGroupVersionKind(imageCacheGVK)
		ic.SetName(name)
		return ic
	}
	kube := fake.NewClientBuilder().WithObjects(cache("any"), cache("named")).WithStatusSubresource(cache("")).Build()
	sim := New(kube, "ns", Script{AnyImageCache: &CachePlan{}, ImageCaches: map[string]CachePlan{"named": {Fail: true}}})
	for range 2 { // first sight: Creating; the next step: the plan's end
		if err := sim.stepImageCaches(context.Background(), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{"any": "Ready", "named": "Failed"} {
		ic := cache(name)
		if err := kube.Get(context.Background(), client.ObjectKeyFromObject(ic), ic); err != nil {
			t.Fatal(err)
		}
		if phase, _, _ := unstructured.NestedString(ic.Object, "status", "phase"); phase != want {
			t.Errorf("ImageCache %s: phase %q, want %q", name, phase, want)
		}
	}
}
