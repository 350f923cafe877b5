//go:build e2e

package dataset_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/argo-eci/argo-eci/dataset"
	"github.com/argo-eci/argo-eci/dataset/fluidsim"
	"github.com/argo-eci/argo-eci/imagecache"
	"github.com/argo-eci/argo-eci/test/cluster"
)

// testEnv is one test's namespace on the local control plane, with a counted client for the code
// under test and an uncounted one for the simulator and assertions.
type testEnv struct {
	ns     string
	kube   client.Client // counted: what the plugin would use
	admin  client.Client // for the simulator and the test itself
	calls  *atomic.Int64
	config *rest.Config
	wf     executorplugins.ObjectMeta
	c      *cluster.Cluster
}

func scheme(t testing.TB) *runtime.Scheme {
	s, err := cluster.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	c := cluster.Get(t)
	e := &testEnv{ns: c.Namespace(t), c: c}
	var err error
	e.admin, err = client.New(c.Config, client.Options{Scheme: scheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(c.Config)
	e.calls = cluster.CountCalls(cfg)
	e.config = cfg
	e.kube, err = client.New(cfg, client.Options{Scheme: scheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	e.wf = executorplugins.ObjectMeta{Name: "wf-" + e.ns, Namespace: e.ns, UID: string(uuid.NewUUID())}
	return e
}

// simulate runs the Fluid simulator for the rest of the test.
func (e *testEnv) simulate(t *testing.T, s fluidsim.Script) *fluidsim.Simulator {
	t.Helper()
	sim := fluidsim.New(e.admin, e.ns, s)
	stop := cluster.RunSimulator(sim)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("simulator: %v", err)
		}
	})
	return sim
}

type step struct {
	at    time.Time
	reply executorplugins.ExecuteTemplateReply
}

// drive calls fn like Argo's agent does: again after each requeue, until the node ends or limit passes.
func drive(t *testing.T, limit time.Duration, fn func(ctx context.Context) (executorplugins.ExecuteTemplateReply, error)) []step {
	t.Helper()
	deadline := time.Now().Add(limit)
	var steps []step
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		r, err := fn(ctx)
		cancel()
		if err != nil {
			t.Fatalf("execute: %v", err)
		}
		steps = append(steps, step{at: time.Now(), reply: r})
		if r.Node.Phase.Completed() {
			return steps
		}
		if r.GetRequeue() <= 0 {
			t.Fatalf("%s reply without requeue: %+v", r.Node.Phase, r.Node)
		}
		time.Sleep(r.GetRequeue())
	}
	t.Fatalf("node did not finish within %s; last reply %+v", limit, steps[len(steps)-1].reply.Node)
	return nil
}

func last(steps []step) *wfv1.NodeResult { return steps[len(steps)-1].reply.Node }

func mounts() []fluidv1.Mount {
	return []fluidv1.Mount{{MountPoint: "oss://bucket/train/", Name: "train", Path: "/", Options: map[string]string{"fs.oss.endpoint": "oss-cn-hangzhou-internal.aliyuncs.com"}}}
}

func runtimeSpec() *fluidv1.JindoRuntimeSpec {
	return &fluidv1.JindoRuntimeSpec{Replicas: 2}
}

func dataLoads(t *testing.T, e *testEnv) []fluidv1.DataLoad {
	t.Helper()
	var list fluidv1.DataLoadList
	if err := e.admin.List(context.Background(), &list, client.InNamespace(e.ns)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func TestWarmSucceeds(t *testing.T) {
	e := newEnv(t)
	sim := e.simulate(t, fluidsim.Script{BindAfter: 2 * time.Second, Load: fluidsim.LoadPlan{Duration: 6 * time.Second}})
	m := &dataset.Manager{Client: e.kube}
	spec := &dataset.Spec{Name: "train", Mounts: mounts(), Runtime: runtimeSpec(), Load: dataset.Load{LoadMetadata: true},
		MinCachedPercentage: dataset.NewNumber(100), Timeout: "2m"}
	start := time.Now()
	e.calls.Store(0)
	steps := drive(t, time.Minute, func(ctx context.Context) (executorplugins.ExecuteTemplateReply, error) {
		return m.Warm(ctx, e.wf, spec)
	})
	elapsed := time.Since(start)
	node := last(steps)
	if node.Phase != wfv1.NodeSucceeded {
		t.Fatalf("final %+v", node)
	}
	out := map[string]string{}
	for _, p := range node.Outputs.Parameters {
		out[p.Name] = p.Value.String()
	}
	dls := dataLoads(t, e)
	if len(dls) != 1 || out["dataload"] != dls[0].Name || out["cachedPercentage"] != "100.0" || out["ufsTotal"] != "10.00GiB" || out["duration"] == "" || out["cached"] == "" {
		t.Fatalf("outputs %v, DataLoads %d", out, len(dls))
	}
	// The UI's progress bar moved: some Running reply reported a partial load.
	sawProgress := false
	for _, s := range steps {
		if p := s.reply.Node.Progress; s.reply.Node.Phase == wfv1.NodeRunning && p != "0/100" && p != "100/100" {
			sawProgress = true
		}
	}
	if !sawProgress {
		t.Fatal("no Running reply reported partial progress")
	}
	done, ok := sim.CompletedAt(dls[0].Name)
	if !ok {
		t.Fatal("simulator did not complete the DataLoad")
	}
	delay := steps[len(steps)-1].at.Sub(done)
	calls := e.calls.Load()
	t.Logf("warm-up: %d execute calls, %d Kubernetes API calls in %s (%.1f calls/min); completion detected %s after the DataLoad completed",
		len(steps), calls, elapsed.Round(time.Millisecond), float64(calls)/elapsed.Minutes(), delay.Round(time.Millisecond))
	if delay < 0 || delay > 2*time.Second {
		t.Fatalf("detection delay %s, want at most one early requeue (≤ 2s)", delay)
	}
}

func TestWarmStuckExecutingTimesOut(t *testing.T) {
	e := newEnv(t)
	e.simulate(t, fluidsim.Script{Load: fluidsim.LoadPlan{Outcome: fluidsim.Stuck, CachedPercentage: 99}})
	m := &dataset.Manager{Client: e.kube}
	spec := &dataset.Spec{Name: "stuck", Mounts: mounts(), Runtime: runtimeSpec(), Timeout: "6s"}
	node := last(drive(t, time.Minute, func(ctx context.Context) (executorplugins.ExecuteTemplateReply, error) {
		return m.Warm(ctx, e.wf, spec)
	}))
	if node.Phase != wfv1.NodeFailed || !strings.Contains(node.Message, "is still Executing") || !strings.Contains(node.Message, "timed out after 6s") {
		t.Fatalf("final %+v", node)
	}
	if dls := dataLoads(t, e); len(dls) != 1 || dls[0].Status.Phase != "Executing" {
		t.Fatalf("the stuck DataLoad should be left in place: %+v", dls)
	}
	// A plugin restart does not reset the clock: the timeout is measured from the DataLoad's creation.
	r, err := (&dataset.Manager{Client: e.kube}).Warm(context.Background(), e.wf, spec)
	if err != nil || r.Node.Phase != wfv1.NodeFailed {
		t.Fatalf("after restart: %v %+v", err, r.Node)
	}
}

func TestWarmCompleteBelowMinimumFails(t *testing.T) {
	e := newEnv(t)
	e.simulate(t, fluidsim.Script{Load: fluidsim.LoadPlan{Duration: time.Second, CachedPercentage: 57}})
	m := &dataset.Manager{Client: e.kube, Settle: 2 * time.Second}
	spec := &dataset.Spec{Name: "partial", Mounts: mounts(), Runtime: runtimeSpec(), MinCachedPercentage: dataset.NewNumber(100), Timeout: "1m"}
	steps := drive(t, time.Minute, func(ctx context.Context) (executorplugins.ExecuteTemplateReply, error) {
		return m.Warm(ctx, e.wf, spec)
	})
	node := last(steps)
	if node.Phase != wfv1.NodeFailed || !strings.Contains(node.Message, "only 57.0%") || !strings.Contains(node.Message, "below minCachedPercentage 100") {
		t.Fatalf("final %+v", node)
	}
	if dls := dataLoads(t, e); len(dls) != 1 || dls[0].Status.Phase != "Complete" {
		t.Fatalf("Fluid said Complete: %+v", dls)
	}
}

func TestWarmDataLoadFailed(t *testing.T) {
	e := newEnv(t)
	e.simulate(t, fluidsim.Script{Load: fluidsim.LoadPlan{Duration: time.Second, Outcome: fluidsim.Fail, FailMessage: "loader pod exited with code 137"}})
	m := &dataset.Manager{Client: e.kube}
	spec := &dataset.Spec{Name: "failing", Mounts: mounts(), Runtime: runtimeSpec(), Timeout: "1m"}
	node := last(drive(t, time.Minute, func(ctx context.Context) (executorplugins.ExecuteTemplateReply, error) {
		return m.Warm(ctx, e.wf, spec)
	}))
	if node.Phase != wfv1.NodeFailed || !strings.Contains(node.Message, "failed: loader pod exited with code 137") {
		t.Fatalf("final %+v", node)
	}
}

func TestWarmRuntimeNeverReadyTimesOut(t *testing.T) {
	e := newEnv(t)
	e.simulate(t, fluidsim.Script{NeverBind: true})
	m := &dataset.Manager{Client: e.kube}
	spec := &dataset.Spec{Name: "unready", Mounts: mounts(), Runtime: runtimeSpec(), Timeout: "5s"}
	steps := drive(t, time.Minute, func(ctx context.Context) (executorplugins.ExecuteTemplateReply, error) {
		return m.Warm(ctx, e.wf, spec)
	})
	node := last(steps)
	if node.Phase != wfv1.NodeFailed || !strings.Contains(node.Message, "runtime never became ready") {
		t.Fatalf("final %+v", node)
	}
	if !strings.Contains(steps[0].reply.Node.Message, "to be Bound") {
		t.Fatalf("waiting message %q does not say why", steps[0].reply.Node.Message)
	}
	if dls := dataLoads(t, e); len(dls) != 0 {
		t.Fatalf("DataLoad created for an unbound Dataset: %+v", dls)
	}
}

// boundDataset creates a Dataset and its JindoRuntime (as a user would) and waits for the simulator to bind it.
func (e *testEnv) boundDataset(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	if err := e.admin.Create(ctx, &fluidv1.Dataset{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Spec: fluidv1.DatasetSpec{Mounts: mounts()}}); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.Create(ctx, &fluidv1.JindoRuntime{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Spec: *runtimeSpec()}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ds := &fluidv1.Dataset{}
		if err := e.admin.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: name}, ds); err == nil && ds.Status.Phase == fluidv1.BoundDatasetPhase {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Dataset %s never Bound", name)
		}
	}
}

func TestWarmWaitsForAnotherDataLoadsLock(t *testing.T) {
	e := newEnv(t)
	sim := e.simulate(t, fluidsim.Script{Load: fluidsim.LoadPlan{Duration: time.Second}, Loads: map[string]fluidsim.LoadPlan{"nightly": {Outcome: fluidsim.Stuck, CachedPercentage: 30}}})
	ctx := context.Background()
	e.boundDataset(t, "shared")
	// Someone else's DataLoad takes the dataset's lock first.
	nightly := &fluidv1.DataLoad{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: e.ns},
		Spec: fluidv1.DataLoadSpec{Dataset: fluidv1.TargetDataset{Name: "shared", Namespace: e.ns}}}
	if err := e.admin.Create(ctx, nightly); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ds := &fluidv1.Dataset{}
		_ = e.admin.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "shared"}, ds)
		if ds.GetDataOperationInProgress("DataLoad") == "nightly" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nightly never took the lock")
		}
	}
	m := &dataset.Manager{Client: e.kube}
	spec := &dataset.Spec{Name: "shared", Timeout: "2m"}
	r, err := m.Warm(ctx, e.wf, spec)
	if err != nil || r.Node.Phase != wfv1.NodeRunning || !strings.Contains(r.Node.Message, "busy with DataLoad nightly") {
		t.Fatalf("while locked: %v %+v", err, r.Node)
	}
	time.Sleep(2 * time.Second)
	if r, err = m.Warm(ctx, e.wf, spec); err != nil || !strings.Contains(r.Node.Message, "busy with DataLoad nightly") {
		t.Fatalf("while still locked: %v %+v", err, r.Node)
	}
	for _, dl := range dataLoads(t, e) {
		if dl.Name != "nightly" {
			t.Fatalf("created DataLoad %s while another held the lock", dl.Name)
		}
	}
	sim.SetLoad("nightly", fluidsim.LoadPlan{Duration: 0})
	node := last(drive(t, time.Minute, func(ctx context.Context) (executorplugins.ExecuteTemplateReply, error) {
		return m.Warm(ctx, e.wf, spec)
	}))
	if node.Phase != wfv1.NodeSucceeded {
		t.Fatalf("final %+v", node)
	}
}

func TestWarmConcurrentCallsMakeOneDataLoad(t *testing.T) {
	e := newEnv(t)
	e.simulate(t, fluidsim.Script{Load: fluidsim.LoadPlan{Outcome: fluidsim.Stuck}})
	e.boundDataset(t, "race")
	spec := &dataset.Spec{Name: "race", Timeout: "2m"}
	ctx := context.Background()
	// 20 calls at once from 20 "plugin processes" (no shared memory).
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := (&dataset.Manager{Client: e.kube}).Warm(ctx, e.wf, spec)
			if err == nil && r.Node.Phase != wfv1.NodeRunning {
				err = fmt.Errorf("phase %s: %s", r.Node.Phase, r.Node.Message)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	dls := dataLoads(t, e)
	if len(dls) != 1 || dls[0].Labels[dataset.LabelWorkflowUID] != e.wf.UID {
		t.Fatalf("%d DataLoads, want exactly one for the workflow", len(dls))
	}
}

func TestCleanupOnWorkflowDeletion(t *testing.T) {
	e := newEnv(t)
	e.simulate(t, fluidsim.Script{Load: fluidsim.LoadPlan{Duration: time.Second}})
	ctx := context.Background()
	// A real Workflow to own the objects (suspended, so the controller leaves it waiting).
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: e.ns}, Spec: wfv1.WorkflowSpec{
		Entrypoint: "wait", Templates: []wfv1.Template{{Name: "wait", Suspend: &wfv1.SuspendTemplate{}}}}}
	created, err := e.c.Workflows.ArgoprojV1alpha1().Workflows(e.ns).Create(ctx, wf, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	meta := executorplugins.ObjectMeta{Name: created.Name, Namespace: e.ns, UID: string(created.UID)}
	m := &dataset.Manager{Client: e.kube}
	spec := &dataset.Spec{Name: "owned", Mounts: mounts(), Runtime: runtimeSpec(), Cleanup: dataset.CleanupOnWorkflowDeletion, Timeout: "1m"}
	if node := last(drive(t, time.Minute, func(ctx context.Context) (executorplugins.ExecuteTemplateReply, error) {
		return m.Warm(ctx, meta, spec)
	})); node.Phase != wfv1.NodeSucceeded {
		t.Fatalf("final %+v", node)
	}
	if err := e.c.Workflows.ArgoprojV1alpha1().Workflows(e.ns).Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		err1 := e.admin.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "owned"}, &fluidv1.Dataset{})
		err2 := e.admin.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "owned"}, &fluidv1.JindoRuntime{})
		if apierrors.IsNotFound(err1) && apierrors.IsNotFound(err2) && len(dataLoads(t, e)) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the garbage collector did not delete the Dataset, JindoRuntime and DataLoad with their Workflow")
		}
	}
}

func TestImageCache(t *testing.T) {
	e := newEnv(t)
	ready, broken := "imc-ok-"+e.ns, "imc-bad-"+e.ns
	e.simulate(t, fluidsim.Script{ImageCaches: map[string]fluidsim.CachePlan{
		ready:  {ReadyAfter: 2 * time.Second},
		broken: {ReadyAfter: time.Second, Fail: true, Events: []map[string]any{{"type": "Warning", "reason": "ImagePullFailed", "message": "pull access denied for private/app"}}},
	}})
	t.Cleanup(func() {
		for _, name := range []string{ready, broken} {
			ic := &unstructured.Unstructured{}
			ic.SetGroupVersionKind(imagecache.GVK)
			ic.SetName(name)
			_ = e.admin.Delete(context.Background(), ic)
		}
	})
	m := &imagecache.Manager{Client: e.kube, Requeue: imagecache.Requeue{Min: 500 * time.Millisecond, Max: time.Second}}
	spec := &imagecache.Spec{Name: ready, Images: []string{"alpine:latest"}, Size: 20, RetentionDays: 7}
	node := last(drive(t, time.Minute, func(ctx context.Context) (executorplugins.ExecuteTemplateReply, error) {
		return m.Ensure(ctx, e.wf, spec)
	}))
	if node.Phase != wfv1.NodeSucceeded || node.Outputs.Parameters[0].Value.String() != "imc-sim-"+ready {
		t.Fatalf("final %+v", node)
	}
	// Reuse: another workflow gets the same cache at once.
	other := e.wf
	other.UID = string(uuid.NewUUID())
	r, err := m.Ensure(context.Background(), other, spec)
	if err != nil || r.Node.Phase != wfv1.NodeSucceeded {
		t.Fatalf("reuse: %v %+v", err, r.Node)
	}
	bad := &imagecache.Spec{Name: broken, Images: []string{"private/app:1"}}
	node = last(drive(t, time.Minute, func(ctx context.Context) (executorplugins.ExecuteTemplateReply, error) {
		return m.Ensure(ctx, e.wf, bad)
	}))
	if node.Phase != wfv1.NodeFailed || !strings.Contains(node.Message, "pull access denied") {
		t.Fatalf("final %+v", node)
	}
}

// BenchmarkWarmUp measures, on the local control plane, what one warm-up costs and how fast its end is
// seen: Kubernetes API calls per minute made by the plugin (counted on its rest.Config transport) and
// the delay between the simulated DataLoad's completion and the plugin's Succeeded reply, with the
// default adaptive requeue (1 s, then age/10, at most 15 s). Run once per size:
//
//	go test -tags e2e -run '^$' -bench WarmUp -benchtime 1x ./dataset/
func BenchmarkWarmUp(b *testing.B) {
	for _, load := range []time.Duration{30 * time.Second, 3 * time.Minute} {
		b.Run("load="+load.String(), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchWarmUp(b, load)
			}
		})
	}
}

func benchWarmUp(b *testing.B, load time.Duration) {
	c := cluster.Get(b)
	ns := c.Namespace(b)
	s := scheme(b)
	admin, err := client.New(c.Config, client.Options{Scheme: s})
	if err != nil {
		b.Fatal(err)
	}
	cfg := rest.CopyConfig(c.Config)
	calls := cluster.CountCalls(cfg)
	kube, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		b.Fatal(err)
	}
	sim := fluidsim.New(admin, ns, fluidsim.Script{BindAfter: 5 * time.Second, Load: fluidsim.LoadPlan{Duration: load}})
	stop := cluster.RunSimulator(sim)
	defer func() {
		if err := stop(); err != nil {
			b.Errorf("simulator: %v", err)
		}
	}()
	ctx := context.Background()

	m := &dataset.Manager{Client: kube}
	wf := executorplugins.ObjectMeta{Name: "bench", Namespace: ns, UID: string(uuid.NewUUID())}
	spec := &dataset.Spec{Name: "bench", Mounts: mounts(), Runtime: runtimeSpec(), Timeout: "30m"}
	calls.Store(0)
	start := time.Now()
	executes := 0
	for {
		r, err := m.Warm(ctx, wf, spec)
		if err != nil {
			b.Fatal(err)
		}
		executes++
		if r.Node.Phase.Completed() {
			if r.Node.Phase != wfv1.NodeSucceeded {
				b.Fatalf("warm-up ended %s: %s", r.Node.Phase, r.Node.Message)
			}
			break
		}
		time.Sleep(r.GetRequeue())
	}
	end := time.Now()
	var dls fluidv1.DataLoadList
	if err := admin.List(ctx, &dls, client.InNamespace(ns)); err != nil || len(dls.Items) != 1 {
		b.Fatalf("DataLoads: %v %d", err, len(dls.Items))
	}
	completed, _ := sim.CompletedAt(dls.Items[0].Name)
	elapsed := end.Sub(start)
	b.ReportMetric(float64(calls.Load())/elapsed.Minutes(), "api-calls/min")
	b.ReportMetric(float64(calls.Load()), "api-calls")
	b.ReportMetric(float64(executes), "executes")
	b.ReportMetric(float64(end.Sub(completed).Milliseconds()), "detect-ms")
}
