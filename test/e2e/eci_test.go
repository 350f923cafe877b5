//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/cost"
	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/internal/ecisim"
	"github.com/argo-eci/argo-eci/recovery"
	"github.com/argo-eci/argo-eci/test/cluster"
)

// These tests run workflows through ECI's failure modes, played by the ECI simulator
// (internal/ecisim) beside the local control plane. They pass only once argo-eci's webhook applies
// the recovery package to retry pods (on-demand after a reclaim, more memory after an OOMKill,
// rotated specs and zones after a stock-out) and its workflow path adds recovery.RetryExpression.

// eciRecoveryProfiles spread pods over three zones on spot with fallback specs, fail fast on
// stock-outs and retry ECI's failures.
const eciRecoveryProfiles = `
default: recovery
profiles:
  recovery:
    placement: [label, nodeSelector]
    specs: auto
    fallbackSpecs: 2
    spot: {strategy: SpotAsPriceGo, durationHours: 1, fallback: true}
    zones: {vswitches: [vsw-h, vsw-i, vsw-k], strategy: VSwitchRandom}
    failStrategy: fail-fast
    retry: {limit: 3, policy: Always}
    executorResources: ignore
    incompatible: deny
    agentPod: eci
`

// eciTroubledRegion: at 600x an ECI hour (the spot protection period) lasts 6 s, the 5-minute
// reclaim checks 0.5 s, the 3-minute notice 0.3 s and the default 240 pending minutes 24 s. 1-2Gi
// is out of stock in cn-hangzhou-h, where pods without eci-vswitch go, and 20 % of spot
// instances are reclaimed after their protection period. With argo-eci's profile the shards ask
// for 1-2Gi,1-4Gi,1-8Gi in three zones, so the stock-out only steers them to other zones.
const eciTroubledRegion = `
timeScale: 600
defaultZone: cn-hangzhou-h
vswitches: {vsw-h: cn-hangzhou-h, vsw-i: cn-hangzhou-i, vsw-k: cn-hangzhou-k}
stock:
- {spec: 1-2Gi, zone: cn-hangzhou-h, market: "*", available: false}
spot: {reclaimFraction: 0.2}
`

// eciRecoveryFanOut is the user's workflow, the same with and without argo-eci: 100 shards of
// 1 vCPU / 1 GiB requested that run 15 s; shards 0-4 really use 3 GiB.
func eciRecoveryFanOut(t *testing.T) *wfv1.Workflow {
	t.Helper()
	items := make([]wfv1.Item, 100)
	for i := range items {
		mem := "512Mi"
		if i < 5 {
			mem = "3Gi"
		}
		it, err := wfv1.ParseItem(fmt.Sprintf(`{"i":%d,"mem":%q}`, i, mem))
		if err != nil {
			t.Fatal(err)
		}
		items[i] = it
	}
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "eci-recovery-"},
		Spec: wfv1.WorkflowSpec{
			Entrypoint: "main",
			Templates: []wfv1.Template{
				{Name: "main", Steps: []wfv1.ParallelSteps{{Steps: []wfv1.WorkflowStep{{
					Name: "shard", Template: "shard", WithItems: items,
					Arguments: wfv1.Arguments{Parameters: []wfv1.Parameter{
						{Name: "index", Value: wfv1.AnyStringPtr("{{item.i}}")}, {Name: "mem", Value: wfv1.AnyStringPtr("{{item.mem}}")}}},
				}}}}},
				{
					Name:   "shard",
					Inputs: wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: "index"}, {Name: "mem"}}},
					Metadata: wfv1.Metadata{Annotations: map[string]string{
						cluster.AnnotationRunDuration: "15s",
						ecisim.AnnotationMemoryUse:    "{{inputs.parameters.mem}}",
					}},
					Container: &corev1.Container{Image: "alpine:3.20", Command: []string{"sh", "-c"}, Args: []string{"echo shard {{inputs.parameters.index}}"},
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}}},
				},
			},
		},
	}
	eciPlacement(&wf.Spec)
	return wf
}

// startRecoveryWebhook serves argo-eci's webhook with profiles for ns and registers it for pods
// and workflows until the test ends.
func startRecoveryWebhook(t *testing.T, c *cluster.Cluster, ns, profiles string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := c.StartWebhook(ns, []byte(profiles), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Stop(); err != nil {
			t.Errorf("webhook: %v", err)
		}
	})
	unregister, err := c.RegisterWebhook(context.Background(), w, ns, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unregister(); err != nil {
			t.Error(err)
		}
	})
}

func eventCounts(t *testing.T, c *cluster.Cluster, ns string) map[string]int {
	t.Helper()
	events, err := c.ECIEvents(context.Background(), ns)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range events {
		out[e.Reason]++
	}
	return out
}

// TestECIFanOutSurvivesFailures: a 100-way fan-out in which 1-2Gi is out of stock in one zone, 20 %
// of spot pods are reclaimed and 5 pods exceed their memory finishes Succeeded with argo-eci's
// profile — retries on-demand after reclaims and with more memory after OOMKills — and fails
// without it, in the same run; `argo-eci cost` shows the retries, the on-demand attempts and the
// total from what the simulator billed.
func TestECIFanOutSurvivesFailures(t *testing.T) {
	t.Parallel() // long waits on the kwok node; runs beside the other parallel tests (make e2e: -parallel 4)
	c := cluster.Get(t)
	c.ECISimulator(t)
	ctx := context.Background()
	with, without := c.Namespace(t), c.Namespace(t)
	for _, ns := range []string{with, without} {
		if err := c.SetECIRegion(ctx, ns, []byte(eciTroubledRegion)); err != nil {
			t.Fatal(err)
		}
	}
	startRecoveryWebhook(t, c, with, eciRecoveryProfiles)

	shaped := c.CreateWorkflow(t, with, eciRecoveryFanOut(t))
	plain := c.CreateWorkflow(t, without, eciRecoveryFanOut(t))
	if rs := shaped.Spec.Templates[1].RetryStrategy; rs == nil || rs.Expression == "" {
		t.Errorf("template shard retryStrategy %+v: want argo-eci's expression retrying only ECI failures", rs)
	}

	done := c.WaitWorkflow(t, with, shaped.Name, 6*time.Minute)
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		t.Errorf("with argo-eci: workflow %s, want Succeeded (%s)", done.Status.Phase, done.Status.Message)
	}
	failed := c.WaitWorkflow(t, without, plain.Name, 6*time.Minute)
	if failed.Status.Phase != wfv1.WorkflowFailed {
		t.Errorf("without argo-eci: workflow %s, want Failed", failed.Status.Phase)
	}
	// Without argo-eci the shards (1 vCPU / 1 GiB: 1-2Gi) have one zone, where 1-2Gi is out of
	// stock: they wait out eci-max-pending-minute and fail; shards that ran out of memory are not
	// retried either.
	eciFailures := 0
	for _, n := range failed.Status.Nodes {
		if n.Type == wfv1.NodeTypePod && (strings.Contains(n.Message, eci.ReasonProviderFailed) || strings.Contains(n.Message, eci.ReasonOOMKilled)) {
			eciFailures++
		}
	}
	if eciFailures < 5 {
		t.Errorf("without argo-eci: %d steps failed with ProviderFailed or OOMKilled, want at least 5", eciFailures)
	}

	events := eventCounts(t, c, with)
	t.Logf("simulator events with argo-eci: %v", events)
	if events[ecisim.EventOOMKilled] < 5 || events[eci.EventSpotToBeReleased] == 0 {
		t.Errorf("events %v: want at least 5 OOMKilled and some SpotToBeReleased", events)
	}
	checkRetriedPods(t, c, with, done)
	checkCost(t, c, with, shaped.Name)
}

// checkRetriedPods: every retry after a reclaim ran pay-as-you-go and every retry after an
// OOMKill asked for more memory than 1-2Gi, judged from the earlier attempts in the node status.
func checkRetriedPods(t *testing.T, c *cluster.Cluster, ns string, wf *wfv1.Workflow) {
	t.Helper()
	retries := 0
	for _, p := range c.WorkflowPods(t, ns, wf.Name) {
		attempts := recovery.PreviousAttempts(wf, p.Annotations["workflows.argoproj.io/node-name"])
		if len(attempts) == 0 {
			continue
		}
		retries++
		failures := map[recovery.Failure]bool{}
		for _, a := range attempts {
			failures[a.Failure] = true
		}
		reason := p.Annotations[recovery.AnnotationRecovery]
		if (failures[recovery.FailureSpotReclaim] || failures[recovery.FailureEvicted]) && p.Annotations[eci.AnnotationSpotStrategy] != "" {
			t.Errorf("pod %s retried after a reclaim still asks for spot (%s)", p.Name, reason)
		}
		if failures[recovery.FailureOOMKilled] && strings.HasPrefix(p.Annotations[eci.AnnotationUseSpecs], "1-2Gi") {
			t.Errorf("pod %s retried after an OOMKill asks for %s (%s)", p.Name, p.Annotations[eci.AnnotationUseSpecs], reason)
		}
		if reason == "" {
			t.Errorf("retry pod %s carries no %s reason", p.Name, recovery.AnnotationRecovery)
		}
	}
	if retries < 5 {
		t.Errorf("%d retry pods, want at least the 5 OOMKilled shards' retries", retries)
	}
}

// checkCost runs `argo-eci cost -o json` (bin/argo-eci, built by make e2e) for the workflow.
func checkCost(t *testing.T, c *cluster.Cluster, ns, wf string) {
	t.Helper()
	bin := filepath.Join(c.Root, "bin", "argo-eci")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("argo-eci cost: %v (run make build)", err)
	}
	out, err := exec.Command(bin, "cost", "--kubeconfig", c.Kubeconfig, "-n", ns, wf, "-o", "json").Output()
	if err != nil {
		t.Fatalf("argo-eci cost: %v", err)
	}
	var r cost.Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("argo-eci cost output: %v\n%s", err, out)
	}
	total := r.Total
	t.Logf("cost: %d attempts, %d retries, %d failed, %d spot, %d on-demand, %.0f s, %.4f CNY billed (%.4f at list, %.4f wasted)",
		total.Attempts, total.Retries, total.Failed, total.SpotAttempts, total.OnDemandAttempts, total.Seconds, total.BilledCNY, total.ListCNY, total.WastedCNY)
	if total.Retries < 5 || total.Failed < 5 || total.OnDemandAttempts == 0 || total.SpotAttempts < 50 {
		t.Errorf("cost total %+v: want the retries, the failed attempts and on-demand fallbacks beside spot", total)
	}
	if !(total.BilledCNY > 0 && total.BilledCNY < total.ListCNY && total.WastedCNY > 0) {
		t.Errorf("cost total %+v: want spot billed below list and a wasted amount", total)
	}
}

// TestECIStockOutEverywhere: with no stock for any spec in any zone, the step ends Failed with a
// message naming the specs and zones tried instead of hanging.
func TestECIStockOutEverywhere(t *testing.T) {
	c := cluster.Get(t)
	c.ECISimulator(t)
	ctx := context.Background()
	ns := c.Namespace(t)
	region := "timeScale: 600\nvswitches: {vsw-h: cn-hangzhou-h, vsw-i: cn-hangzhou-i, vsw-k: cn-hangzhou-k}\n" +
		"stock: [{spec: '*', zone: '*', market: '*', available: false}]\n"
	if err := c.SetECIRegion(ctx, ns, []byte(region)); err != nil {
		t.Fatal(err)
	}
	startRecoveryWebhook(t, c, ns, eciRecoveryProfiles)
	wf := eciRecoveryFanOut(t)
	wf.Spec.Templates[0].Steps[0].Steps[0].WithItems = wf.Spec.Templates[0].Steps[0].Steps[0].WithItems[:1]
	wf = c.CreateWorkflow(t, ns, wf)
	done := c.WaitWorkflow(t, ns, wf.Name, 2*time.Minute)
	if done.Status.Phase != wfv1.WorkflowFailed {
		t.Fatalf("workflow %s, want Failed", done.Status.Phase)
	}
	var last *wfv1.NodeStatus
	for _, n := range done.Status.Nodes {
		if n.Type == wfv1.NodeTypePod && (last == nil || n.StartedAt.After(last.StartedAt.Time)) {
			last = &n
		}
	}
	if last == nil {
		t.Fatal("no pod node")
	}
	for _, want := range []string{eci.ReasonProviderFailed, "1-2Gi", "cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-k"} {
		if !strings.Contains(last.Message, want) {
			t.Errorf("last attempt's message %q does not name %q", last.Message, want)
		}
	}
	if n := eventCounts(t, c, ns)[eci.ReasonNoStock]; n < 2 {
		t.Errorf("%d NoStock events, want one per attempt (retries rotate and try again)", n)
	}
}
