package dataset_test

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/argo-eci/argo-eci/dataset"
	"github.com/argo-eci/argo-eci/internal/fixture"
	"github.com/argo-eci/argo-eci/internal/fluidsim"
)

// fluidCRDs is the CRD directory of the Fluid module this repository requires.
func fluidCRDs(t testing.TB) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/fluid-cloudnative/fluid").Output()
	if err != nil || len(strings.TrimSpace(string(out))) == 0 {
		t.Fatalf("locating the Fluid module: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "charts", "fluid", "fluid", "crds")
}

// startAPIServer starts kube-apiserver and etcd with Fluid's CRDs for the rest of the test. It
// returns a client whose requests apiCalls counts and one that is not counted.
func startAPIServer(t testing.TB) (counted, plain client.Client) {
	assets := fixture.APIServerAssets(t)
	crds := fluidCRDs(t)
	ctrllog.SetLogger(logr.Discard())
	env := &envtest.Environment{BinaryAssetsDirectory: assets, ErrorIfCRDPathMissing: true, CRDInstallOptions: envtest.CRDInstallOptions{
		Paths: []string{filepath.Join(crds, "data.fluid.io_datasets.yaml"), filepath.Join(crds, "data.fluid.io_dataloads.yaml"), filepath.Join(crds, "data.fluid.io_jindoruntimes.yaml")}}}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := fluidv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	plain, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	calls := &atomic.Int64{}
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt, calls} })
	counted, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	apiCalls = calls
	return counted, plain
}

// apiCalls counts the requests of startAPIServer's client.
var apiCalls *atomic.Int64

type countingTransport struct {
	next  http.RoundTripper
	calls *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return c.next.RoundTrip(r)
}

// BenchmarkPluginShare measures argo-eci's own share of the latency from "data is warm" to "fan-out
// starts": the time from Fluid writing Complete (simulator at Fluid's real periods, Scale 1) to the
// plugin's Succeeded reply, judged by the phase alone (minCachedPercentage 0, as a resource template
// with a successCondition would), and the Kubernetes API calls per minute of the warm-up (simulator
// included in neither: it has its own client). Needs kube-apiserver and etcd (KUBEBUILDER_ASSETS):
//
//	KUBEBUILDER_ASSETS=... go test -run '^$' -bench PluginShare -benchtime 1x ./dataset
func BenchmarkPluginShare(b *testing.B) {
	kube, simKube := startAPIServer(b)
	for i := 0; i < b.N; i++ {
		ns := fmt.Sprintf("bench-%d", i)
		if err := simKube.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			b.Fatal(err)
		}
		sim := fluidsim.New(simKube, ns, fluidsim.Script{Scale: 1, Load: fluidsim.LoadPlan{Duration: 5 * time.Second}})
		ctx, cancel := context.WithCancel(context.Background())
		go func() { _ = sim.Run(ctx) }()
		spec := &dataset.Spec{Name: "data", Mounts: []fluidv1.Mount{{MountPoint: "oss://bucket/train/", Name: "train", Path: "/"}},
			Runtime: &dataset.Runtime{Replicas: 1}, MinCachedPercentage: dataset.NewNumber(0), Timeout: "10m"}
		wf := executorplugins.ObjectMeta{Name: "wf", Namespace: ns, UID: string(uuid.NewUUID())}
		m := &dataset.Manager{Client: kube}
		var first, done time.Time
		var calls int64
		calls0 := apiCalls.Load()
		for {
			r, err := m.Warm(context.Background(), wf, spec)
			if first.IsZero() {
				first = time.Now()
			}
			if err != nil {
				b.Fatal(err)
			}
			if r.Node.Phase.Completed() {
				done = time.Now()
				if r.Node.Phase != wfv1.NodeSucceeded {
					b.Fatalf("%s: %s", r.Node.Phase, r.Node.Message)
				}
				break
			}
			time.Sleep(r.GetRequeue())
		}
		calls = apiCalls.Load() - calls0
		cancel()
		var dls fluidv1.DataLoadList
		if err := kube.List(context.Background(), &dls, client.InNamespace(ns)); err != nil || len(dls.Items) != 1 {
			b.Fatalf("DataLoads: %v", err)
		}
		completed, _ := sim.CompletedAt(dls.Items[0].Name)
		b.ReportMetric(float64(done.Sub(completed).Milliseconds()), "plugin-share-ms")
		b.ReportMetric(float64(calls)/done.Sub(first).Minutes(), "api-calls/min")
		b.ReportMetric(done.Sub(first).Seconds(), "warm-up-s")
	}
}

// TestWarmUpAgainstAPIServer runs the warm-up against a real kube-apiserver with Fluid v1.0.8's
// CRDs (controller-runtime's envtest on random 127.0.0.1 ports) and the Fluid simulator at 1/50 of
// Fluid's periods, once per simulator failure mode. Each ends as documented and none hangs.
func TestWarmUpAgainstAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	kube, _ := startAPIServer(t)
	const scale = 0.02 // 20 s poll → 0.4 s, 90 s cache sync → 1.8 s
	cases := []struct {
		name     string
		script   fluidsim.Script
		spec     dataset.Spec
		phase    wfv1.NodePhase
		contains []string
	}{
		{"warm", fluidsim.Script{Load: fluidsim.LoadPlan{Duration: time.Second}}, dataset.Spec{Timeout: "1m"},
			wfv1.NodeSucceeded, []string{"Complete: 10.00GiB (100.0%)"}},
		{"stuck-executing", fluidsim.Script{Failure: fluidsim.StuckExecuting, Load: fluidsim.LoadPlan{Duration: time.Second}}, dataset.Spec{Timeout: "1m"},
			wfv1.NodeSucceeded, []string{"still Executing", "fluid#4287"}},
		{"partial-cache", fluidsim.Script{Failure: fluidsim.PartialCache, Load: fluidsim.LoadPlan{Duration: time.Second}}, dataset.Spec{Timeout: "1m"},
			wfv1.NodeSucceeded, []string{"warning", "only 57.0%"}},
		{"partial-cache-strict", fluidsim.Script{Failure: fluidsim.PartialCache, Load: fluidsim.LoadPlan{Duration: time.Second}}, dataset.Spec{Timeout: "1m", OnCacheShort: dataset.CacheShortFail},
			wfv1.NodeFailed, []string{"below minCachedPercentage 100"}},
		{"runtime-never-ready", fluidsim.Script{Failure: fluidsim.RuntimeNeverReady}, dataset.Spec{Timeout: "4s"},
			wfv1.NodeFailed, []string{"never became Bound", "fluid#4328"}},
		{"loader-unschedulable", fluidsim.Script{Failure: fluidsim.LoaderUnschedulable}, dataset.Spec{Timeout: "5s"},
			wfv1.NodeFailed, []string{"still Executing", "unschedulable"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ns := c.name
			if err := kube.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
				t.Fatal(err)
			}
			c.script.Scale = scale
			sim := fluidsim.New(kube, ns, c.script)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- sim.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("simulator: %v", err)
				}
			}()
			spec := c.spec
			spec.Name = "data"
			spec.Mounts = []fluidv1.Mount{{MountPoint: "oss://bucket/train/", Name: "train", Path: "/"}}
			spec.Runtime = &dataset.Runtime{Replicas: 1}
			wf := executorplugins.ObjectMeta{Name: "wf", Namespace: ns, UID: string(uuid.NewUUID())}
			m := &dataset.Manager{Client: kube, Settle: 4 * time.Second, Stuck: 2 * time.Second}
			node := warmToEnd(t, m, wf, &spec)
			for _, want := range c.contains {
				if node.Phase != c.phase || !strings.Contains(node.Message, want) {
					t.Fatalf("final %s %q; want %s containing %q", node.Phase, node.Message, c.phase, want)
				}
			}
			if c.phase != wfv1.NodeFailed {
				return
			}
			// The retried node (same template) gets a new DataLoad and its own timeout.
			retry := dataset.DataLoadName("data", dataset.Key(wf.UID, &spec), 2)
			sim.SetLoad(retry, fluidsim.LoadPlan{Duration: time.Second})
			sim.SetFailure("")
			node = warmToEnd(t, &dataset.Manager{Client: kube, Settle: 4 * time.Second}, wf, &spec)
			if node.Phase != wfv1.NodeSucceeded || !strings.Contains(node.Message, retry) {
				t.Fatalf("retry: final %s %q; want Succeeded with DataLoad %s", node.Phase, node.Message, retry)
			}
		})
	}
}

// warmToEnd calls Warm as Argo's agent does, again after each requeue, until the node ends.
func warmToEnd(t *testing.T, m *dataset.Manager, wf executorplugins.ObjectMeta, spec *dataset.Spec) *wfv1.NodeResult {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		r, err := m.Warm(ctx, wf, spec)
		cancel()
		if err != nil {
			t.Fatalf("Warm: %v", err)
		}
		if r.Node.Phase.Completed() {
			return r.Node
		}
		if r.GetRequeue() <= 0 || r.GetRequeue() > 2*time.Second {
			t.Fatalf("%s reply with requeue %s", r.Node.Phase, r.GetRequeue())
		}
		time.Sleep(r.GetRequeue())
	}
	t.Fatal("the warm-up did not end within a minute")
	return nil
}
