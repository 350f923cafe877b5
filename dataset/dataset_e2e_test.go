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
	"github.com/argo-eci/argo-eci/imagecache"
	"github.com/argo-eci/argo-eci/internal/fluidsim"
	"github.com/argo-eci/argo-eci/internal/requeue"
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
	e.wf = ownerWorkflow(t, c, e.ns)
	return e
}

// ownerWorkflow creates a real Workflow in ns (suspended, so the controller leaves it waiting) and
// returns it as the plugin sees it. The objects the warm-up creates name it as their owner: with a
// made-up UID the cluster's garbage collector deletes them as soon as they are created.
func ownerWorkflow(t testing.TB, c *cluster.Cluster, ns string) executorplugins.ObjectMeta {
	t.Helper()
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: ns}, Spec: wfv1.WorkflowSpec{
		Entrypoint: "wait", Templates: []wfv1.Template{{Name: "wait", Suspend: &wfv1.SuspendTemplate{}}}}}
	created, err := c.Workflows.ArgoprojV1alpha1().Workflows(ns).Create(context.Background(), wf, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return executorplugins.ObjectMeta{Name: created.Name, Namespace: ns, UID: string(created.UID)}
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

func runtimeSpec() *dataset.Runtime {
	return &dataset.Runtime{Replicas: 2}
}

func dataLoads(t *testing.T, e *testEnv) []fluidv1.DataLoad {
	t.Helper()
	var list fluidv1.DataLoadList
	if err := e.admin.List(context.Background(), &list, client.InNamespace(e.ns)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// scale runs Fluid's periods 20× faster: a 1 s DataLoad poll, a 4.5 s cache-state sync.
const scale = 0.05

func TestWarmSucceeds(t *testing.T) {
	e := newEnv(t)
	sim := e.simulate(t, fluidsim.Script{Scale: scale, BindAfter: 2 * time.Second, Load: fluidsim.LoadPlan{Duration: 6 * time.Second}})
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
	if node.Phase != wfv1.NodeSucceeded || strings.Contains(node.Message, "warning") {
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
	// The percentage is in the message (Argo v4.0.7 drops a plugin's progress).
	sawPercent := false
	for _, s := range steps {
		if s.reply.Node.Phase == wfv1.NodeRunning && strings.Contains(s.reply.Node.Message, "% of Dataset train cached") {
			sawPercent = true
		}
	}
	if !sawPercent {
		t.Fatal("no Running reply showed the cached percentage")
	}
	done, ok := sim.CompletedAt(dls[0].Name)
	if !ok {
		t.Fatal("simulator did not complete the DataLoad")
	}
	delay := steps[len(steps)-1].at.Sub(done)
	calls := e.calls.Load()
	t.Logf("warm-up: %d execute calls, %d Kubernetes API calls in %s (%.1f calls/min); completion detected %s after Fluid wrote Complete",
		len(steps), calls, elapsed.Round(time.Millisecond), float64(calls)/elapsed.Minutes(), delay.Round(time.Millisecond))
	// Complete may come before Fluid's next cache-state sync shows the full cache: the plugin then
	// waits for that refresh (at most one scaled sync period) plus one requeue.
	if limit := time.Duration(float64(fluidsim.CacheSync)*scale) + 2500*time.Millisecond; delay < 0 || delay > limit {
		t.Fatalf("detection delay %s, want at most %s after Complete", delay, limit)
	}
}

// warmUntilDone drives one warm-up to its end with a fresh Manager.
func (e *testEnv) warmUntilDone(t *testing.T, m *dataset.Manager, spec *dataset.Spec) []step {
	t.Helper()
	return drive(t, 2*time.Minute, func(ctx context.Context) (executorplugins.ExecuteTemplateReply, error) {
		return m.Warm(ctx, e.wf, spec)
	})
}

// fluid#4287: the loader finished and the cache is full, but the DataLoad stays Executing. The
// plugin recovers: the cache meets the minimum, so the node succeeds and says why.
func TestWarmFailureStuckExecutingRecovers(t *testing.T) {
	e := newEnv(t)
	e.simulate(t, fluidsim.Script{Scale: scale, Failure: fluidsim.StuckExecuting, Load: fluidsim.LoadPlan{Duration: 2 * time.Second}})
	m := &dataset.Manager{Client: e.kube, Stuck: 5 * time.Second} // five of the scaled 1 s DataLoad checks
	node := last(e.warmUntilDone(t, m, &dataset.Spec{Name: "stuck", Mounts: mounts(), Runtime: runtimeSpec(), Timeout: "1m"}))
	if node.Phase != wfv1.NodeSucceeded || !strings.Contains(node.Message, "still Executing") || !strings.Contains(node.Message, "fluid#4287") {
		t.Fatalf("final %+v", node)
	}
	if dls := dataLoads(t, e); len(dls) != 1 || dls[0].Status.Phase != "Executing" {
		t.Fatalf("the stuck DataLoad should be left in place: %+v", dls)
	}
}

// fluid#633: Complete with 57 % cached. After Fluid's next cache-state refresh the node succeeds
// with a warning by default, and fails with onCacheShort: fail.
func TestWarmFailurePartialCache(t *testing.T) {
	e := newEnv(t)
	e.simulate(t, fluidsim.Script{Scale: scale, Failure: fluidsim.PartialCache, Load: fluidsim.LoadPlan{Duration: time.Second}})
	m := &dataset.Manager{Client: e.kube, Settle: 10 * time.Second}
	node := last(e.warmUntilDone(t, m, &dataset.Spec{Name: "partial", Mounts: mounts(), Runtime: runtimeSpec(), Timeout: "1m"}))
	if node.Phase != wfv1.NodeSucceeded || !strings.Contains(node.Message, "warning") || !strings.Contains(node.Message, "only 57.0%") {
		t.Fatalf("default: final %+v", node)
	}
	strict := &dataset.Spec{Name: "partial", Timeout: "1m", Load: dataset.Load{Force: true}, OnCacheShort: dataset.CacheShortFail}
	node = last(e.warmUntilDone(t, m, strict))
	if node.Phase != wfv1.NodeFailed || !strings.Contains(node.Message, "below minCachedPercentage 100") {
		t.Fatalf("onCacheShort fail: final %+v", node)
	}
}

// fluid#4328: the runtime never gets ready. The DataLoad waits without a phase (as Fluid keeps it)
// and the node fails at its timeout, saying why.
func TestWarmFailureRuntimeNeverReadyTimesOut(t *testing.T) {
	e := newEnv(t)
	e.simulate(t, fluidsim.Script{Scale: scale, Failure: fluidsim.RuntimeNeverReady})
	steps := e.warmUntilDone(t, &dataset.Manager{Client: e.kube}, &dataset.Spec{Name: "unready", Mounts: mounts(), Runtime: runtimeSpec(), Timeout: "8s"})
	node := last(steps)
	if node.Phase != wfv1.NodeFailed || !strings.Contains(node.Message, "never became Bound") || !strings.Contains(node.Message, "fluid#4328") {
		t.Fatalf("final %+v", node)
	}
	if !strings.Contains(steps[0].reply.Node.Message, "to be Bound") {
		t.Fatalf("waiting message %q does not say why", steps[0].reply.Node.Message)
	}
}

// The loader pod is never scheduled: Executing forever with nothing cached; the node fails at its
// timeout with a message that names the likely cause.
func TestWarmFailureLoaderUnschedulableTimesOut(t *testing.T) {
	e := newEnv(t)
	e.simulate(t, fluidsim.Script{Scale: scale, Failure: fluidsim.LoaderUnschedulable})
	node := last(e.warmUntilDone(t, &dataset.Manager{Client: e.kube}, &dataset.Spec{Name: "pending", Mounts: mounts(), Runtime: runtimeSpec(), Timeout: "10s"}))
	if node.Phase != wfv1.NodeFailed || !strings.Contains(node.Message, "loader pod may be unschedulable") {
		t.Fatalf("final %+v", node)
	}
}

// A failed DataLoad fails the node; the retried node gets a new DataLoad and succeeds.
func TestWarmDataLoadFailedThenRetrySucceeds(t *testing.T) {
	e := newEnv(t)
	sim := e.simulate(t, fluidsim.Script{Scale: scale, Load: fluidsim.LoadPlan{Duration: time.Second, Outcome: fluidsim.Fail, FailMessage: "loader pod exited with code 137"}})
	m := &dataset.Manager{Client: e.kube}
	spec := &dataset.Spec{Name: "failing", Mounts: mounts(), Runtime: runtimeSpec(), Timeout: "1m"}
	node := last(e.warmUntilDone(t, m, spec))
	if node.Phase != wfv1.NodeFailed || !strings.Contains(node.Message, "failed: loader pod exited with code 137") {
		t.Fatalf("final %+v", node)
	}
	retry := dataset.DataLoadName("failing", dataset.Key(e.wf.UID, spec), 2)
	sim.SetLoad(retry, fluidsim.LoadPlan{Duration: time.Second})
	node = last(e.warmUntilDone(t, &dataset.Manager{Client: e.kube}, spec)) // a restarted plugin, too
	if node.Phase != wfv1.NodeSucceeded || !strings.Contains(node.Message, retry) {
		t.Fatalf("retry: final %+v", node)
	}
	if n := len(dataLoads(t, e)); n != 2 {
		t.Fatalf("%d DataLoads, want the failed one and the retry's", n)
	}
}

// boundDataset creates a Dataset and its JindoRuntime (as a user would) and waits for the simulator to bind it.
func (e *testEnv) boundDataset(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	if err := e.admin.Create(ctx, &fluidv1.Dataset{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Spec: fluidv1.DatasetSpec{Mounts: mounts()}}); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.Create(ctx, &fluidv1.JindoRuntime{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Spec: runtimeSpec().JindoRuntimeSpec()}); err != nil {
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

// Another DataLoad of the same paths is running: the warm-up follows it instead of queueing a
// duplicate, and succeeds when it completes.
func TestWarmFollowsRunningDataLoad(t *testing.T) {
	e := newEnv(t)
	sim := e.simulate(t, fluidsim.Script{Scale: scale, Loads: map[string]fluidsim.LoadPlan{"nightly": {Duration: time.Hour}}})
	ctx := context.Background()
	e.boundDataset(t, "shared")
	nightly := &fluidv1.DataLoad{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: e.ns},
		Spec: fluidv1.DataLoadSpec{Dataset: fluidv1.TargetDataset{Name: "shared", Namespace: e.ns}, Target: []fluidv1.TargetPath{{Path: "/"}}}}
	if err := e.admin.Create(ctx, nightly); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		dl := &fluidv1.DataLoad{}
		_ = e.admin.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "nightly"}, dl)
		if dl.Status.Phase == "Executing" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nightly never started")
		}
	}
	m := &dataset.Manager{Client: e.kube}
	spec := &dataset.Spec{Name: "shared", Load: dataset.Load{Paths: []string{"/train"}}, Timeout: "2m"}
	r, err := m.Warm(ctx, e.wf, spec)
	if err != nil || r.Node.Phase != wfv1.NodeRunning || !strings.Contains(r.Node.Message, "following DataLoad nightly") {
		t.Fatalf("%v %+v", err, r.Node)
	}
	if n := len(dataLoads(t, e)); n != 1 {
		t.Fatalf("%d DataLoads: a duplicate was queued", n)
	}
	sim.SetLoad("nightly", fluidsim.LoadPlan{Duration: 0})
	node := last(e.warmUntilDone(t, m, spec))
	if node.Phase != wfv1.NodeSucceeded || !strings.Contains(node.Message, "nightly") {
		t.Fatalf("final %+v", node)
	}
}

func TestWarmConcurrentCallsMakeOneDataLoad(t *testing.T) {
	e := newEnv(t)
	e.simulate(t, fluidsim.Script{Scale: scale, Failure: fluidsim.LoaderUnschedulable})
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
	e.simulate(t, fluidsim.Script{Scale: scale, Load: fluidsim.LoadPlan{Duration: time.Second}})
	ctx := context.Background()
	meta := e.wf
	m := &dataset.Manager{Client: e.kube}
	spec := &dataset.Spec{Name: "owned", Mounts: mounts(), Runtime: runtimeSpec(), Timeout: "1m"} // cleanup defaults to onWorkflowDeletion
	if node := last(drive(t, time.Minute, func(ctx context.Context) (executorplugins.ExecuteTemplateReply, error) {
		return m.Warm(ctx, meta, spec)
	})); node.Phase != wfv1.NodeSucceeded {
		t.Fatalf("final %+v", node)
	}
	if err := e.c.Workflows.ArgoprojV1alpha1().Workflows(e.ns).Delete(ctx, meta.Name, metav1.DeleteOptions{}); err != nil {
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
	m := &imagecache.Manager{Client: e.kube, Requeue: requeue.Policy{Min: 500 * time.Millisecond, Max: time.Second}}
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
// the delay between Fluid writing Complete and the plugin's Succeeded reply, with the default requeue
// (1 s, then age/10, at most 2 s) and Fluid's real periods (Scale 1: 20 s poll, 90 s cache sync).
// Run once per size:
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
	sim := fluidsim.New(admin, ns, fluidsim.Script{Scale: 1, BindAfter: 5 * time.Second, Load: fluidsim.LoadPlan{Duration: load}})
	stop := cluster.RunSimulator(sim)
	defer func() {
		if err := stop(); err != nil {
			b.Errorf("simulator: %v", err)
		}
	}()
	ctx := context.Background()

	m := &dataset.Manager{Client: kube}
	wf := ownerWorkflow(b, c, ns)
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
