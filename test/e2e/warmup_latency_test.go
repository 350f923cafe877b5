//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/dataset"
	"github.com/argo-eci/argo-eci/internal/fluidsim"
	"github.com/argo-eci/argo-eci/plugin"
	"github.com/argo-eci/argo-eci/test/cluster"
)

// Environment the node helper sets for BenchmarkWarmToFanOut.
const (
	// envControllerRequeue must say the workflow-controller runs with DEFAULT_REQUEUE_TIME=10s (the
	// production default; the local cluster's 1 s hides delays). The benchmark skips otherwise.
	envControllerRequeue = "ARGO_ECI_CONTROLLER_REQUEUE_TIME"
)

// BenchmarkWarmToFanOut measures, in one run on the local control plane, the time from Fluid
// writing a DataLoad's Complete to the first fan-out pod's creation (seen by a watch), for:
//
//   - plugin: argo-eci's warm-up with the phase as the only criterion (minCachedPercentage: 0), the
//     same criterion as the resource template, so the two compare like for like;
//   - plugin-min100: argo-eci's default, which also waits until Fluid's cache states show 100 %;
//   - resource-template: what a user writes without argo-eci, an Argo resource template creating the
//     same DataLoad with successCondition status.phase == Complete.
//
// Fluid runs at its real periods (fluidsim Scale 1: 20 s DataLoad poll, 90 s cache sync). The agent
// gets ARGO_AGENT_PATCH_RATE=1s as argo-eci's webhook sets it. Reported: complete-to-fanout-ms,
// plugin-share-ms (Complete → the plugin's Succeeded reply: argo-eci's own share) and the plugin's
// Kubernetes API calls per minute. Run with:
//
//	ARGO_ECI_CONTROLLER_REQUEUE_TIME=10s hack/cluster/up.sh   # the controller at Argo's default; then
//	ARGO_ECI_CONTROLLER_REQUEUE_TIME=10s go test -tags e2e -run '^$' -bench WarmToFanOut -benchtime 1x ./test/e2e/
func BenchmarkWarmToFanOut(b *testing.B) {
	if got := os.Getenv(envControllerRequeue); got != "10s" {
		b.Skipf("%s=%q: run the workflow-controller with DEFAULT_REQUEUE_TIME=10s and set %s=10s", envControllerRequeue, got, envControllerRequeue)
	}
	b.Setenv(plugin.AgentPatchRateEnv, plugin.DefaultAgentPatchRate.String())
	for _, v := range []string{"plugin", "plugin-min100", "resource-template"} {
		b.Run(v, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r := warmToFanOut(b, v)
				b.ReportMetric(float64(r.fanOut.Milliseconds()), "complete-to-fanout-ms")
				if r.pluginShare > 0 {
					b.ReportMetric(float64(r.pluginShare.Milliseconds()), "plugin-share-ms")
					b.ReportMetric(r.callsPerMinute, "api-calls/min")
				}
			}
		})
	}
}

type latency struct {
	fanOut, pluginShare time.Duration
	callsPerMinute      float64
}

func warmToFanOut(b *testing.B, variant string) latency {
	c := cluster.Get(b)
	ns := c.Namespace(b)
	if variant == "resource-template" {
		// The resource template's argoexec pod must really run: the kubelet node (kwok runs no containers).
		ns = c.NamespaceOn(b, cluster.Kubelet)
	}
	ctx := context.Background()
	admin, err := client.New(c.Config, client.Options{Scheme: benchScheme(b)})
	if err != nil {
		b.Fatal(err)
	}
	cleanup, err := c.InstallPlugin(ctx, admin, ns)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cleanup)
	sim := fluidsim.New(admin, ns, fluidsim.Script{Scale: 1, BindAfter: 2 * time.Second, Load: fluidsim.LoadPlan{Duration: 5 * time.Second}})
	stop := cluster.RunSimulator(sim)
	b.Cleanup(func() { _ = stop() })
	boundBenchDataset(b, admin, ns)

	pods, err := c.Kube.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "bench=fanout"})
	if err != nil {
		b.Fatal(err)
	}
	defer pods.Stop()
	firstPod := make(chan time.Time, 1)
	go func() {
		for ev := range pods.ResultChan() {
			if ev.Type == watch.Added {
				firstPod <- time.Now()
				return
			}
		}
	}()

	var warmer *benchPlugin
	wf := &wfv1.Workflow{}
	if err := yaml.UnmarshalStrict([]byte(benchWorkflow(variant, ns)), wf); err != nil {
		b.Fatal(err)
	}
	if variant == "resource-template" {
		grantResourceTemplate(b, admin, ns)
		c.CreateWorkflow(b, ns, wf)
	} else {
		warmer = startBenchPlugin(b, c, ns)
		wf = c.CreateWorkflow(b, ns, wf)
		stopAgent, err := cluster.RunAgent(c.Impersonate(ns, "argo-eci-agent"), wf, warmer.url, benchToken)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = stopAgent() })
	}
	var fanOut time.Time
	select {
	case fanOut = <-firstPod:
	case <-time.After(10 * time.Minute):
		c.Report(b, ns)
		b.Fatal("no fan-out pod within 10 minutes")
	}
	var dls fluidv1.DataLoadList
	if err := admin.List(ctx, &dls, client.InNamespace(ns)); err != nil || len(dls.Items) != 1 {
		b.Fatalf("DataLoads: %v %d", err, len(dls.Items))
	}
	completed, ok := sim.CompletedAt(dls.Items[0].Name)
	if !ok {
		b.Fatalf("DataLoad %s was not completed by the simulator", dls.Items[0].Name)
	}
	r := latency{fanOut: fanOut.Sub(completed)}
	if warmer != nil {
		rec := warmer.Record()
		r.pluginShare = rec.Succeeded.Sub(completed)
		r.callsPerMinute = float64(rec.APICalls) / rec.Succeeded.Sub(rec.First).Minutes()
	}
	b.Logf("%s: Complete → first fan-out pod %s; plugin share %s; %.1f plugin API calls/min", variant,
		r.fanOut.Round(time.Millisecond), r.pluginShare.Round(time.Millisecond), r.callsPerMinute)
	return r
}

const benchToken = "bench-token-0123456789abcdef0123"

// benchPlugin is the in-process plugin with the sidecar's ServiceAccount and counted API calls.
type benchPlugin struct {
	*cluster.WarmRecorder
	url string
}

func startBenchPlugin(b *testing.B, c *cluster.Cluster, ns string) *benchPlugin {
	pcfg := c.Impersonate(ns, "argo-eci-executor-plugin")
	calls := cluster.CountCalls(pcfg)
	pkube, err := client.New(pcfg, client.Options{Scheme: benchScheme(b)})
	if err != nil {
		b.Fatal(err)
	}
	w := &cluster.WarmRecorder{Next: &dataset.Manager{Client: pkube}, Calls: calls}
	url, stop, err := cluster.ServeHTTP((&plugin.Server{Token: []byte(benchToken), Datasets: w}).Handler())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	calls.Store(0)
	return &benchPlugin{WarmRecorder: w, url: url}
}

// boundBenchDataset creates the Dataset and JindoRuntime a user would have, and waits until Bound.
func boundBenchDataset(b *testing.B, kube client.Client, ns string) {
	ctx := context.Background()
	mounts := []fluidv1.Mount{{MountPoint: "oss://bucket/train/", Name: "train", Path: "/"}}
	if err := kube.Create(ctx, &fluidv1.Dataset{ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: ns}, Spec: fluidv1.DatasetSpec{Mounts: mounts}}); err != nil {
		b.Fatal(err)
	}
	if err := kube.Create(ctx, &fluidv1.JindoRuntime{ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: ns}, Spec: fluidv1.JindoRuntimeSpec{Replicas: 1}}); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		ds := &fluidv1.Dataset{}
		if err := kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: "bench"}, ds); err == nil && ds.Status.Phase == fluidv1.BoundDatasetPhase {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("Dataset bench never Bound")
		}
	}
}

// grantResourceTemplate lets the resource template's pod (ServiceAccount bench-resource) create and
// watch the DataLoad and report its results, as a user would have to.
func grantResourceTemplate(b *testing.B, kube client.Client, ns string) {
	ctx := context.Background()
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "bench-resource", Namespace: ns}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "bench-resource", Namespace: ns}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"data.fluid.io"}, Resources: []string{"dataloads"}, Verbs: []string{"get", "list", "watch", "create", "patch"}},
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtaskresults"}, Verbs: []string{"create", "patch"}},
		}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bench-resource", Namespace: ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "bench-resource"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "bench-resource", Namespace: ns}}},
	}
	for _, o := range objs {
		if err := kube.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
}

// benchWorkflow is the warm step (plugin or resource template) followed by 5 fan-out pods on the
// kwok ECI node, labelled bench=fanout.
func benchWorkflow(variant, ns string) string {
	warm := `
  - name: warm
    plugin:
      argo-eci:
        dataset: {name: bench, minCachedPercentage: MIN, timeout: 10m}`
	switch variant {
	case "plugin":
		warm = strings.Replace(warm, "MIN", "0", 1)
	case "plugin-min100":
		warm = strings.Replace(warm, "MIN", "100", 1)
	case "resource-template":
		warm = fmt.Sprintf(`
  - name: warm
    nodeSelector: {type: virtual-kubelet}
    tolerations:
    - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
    resource:
      action: create
      successCondition: status.phase == Complete
      failureCondition: status.phase == Failed
      manifest: |
        apiVersion: data.fluid.io/v1alpha1
        kind: DataLoad
        metadata: {name: bench-load, namespace: %s}
        spec: {dataset: {name: bench, namespace: %s}, target: [{path: /}]}`, ns, ns)
	}
	serviceAccount := "" // the agent runs in-process as argo-eci-agent, as the webhook would make it
	if variant == "resource-template" {
		serviceAccount = "\n  serviceAccountName: bench-resource"
	}
	return `
metadata:
  generateName: warm-fanout-bench-
spec:
  entrypoint: main` + serviceAccount + `
  templates:
  - name: main
    steps:
    - - name: warm
        template: warm
    - - name: fanout
        template: fanout
        withSequence: {count: "5"}` + warm + `
  - name: fanout
    metadata:
      labels: {bench: fanout}
    nodeSelector: {type: virtual-kubelet}
    tolerations:
    - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
    container:
      image: alpine:3.20
      command: [sh, -c, "true"]
`
}

func benchScheme(b *testing.B) *runtime.Scheme {
	s, err := cluster.Scheme()
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// The benchmark's workflows are valid for Argo (strict decoding, every variant).
func TestBenchWorkflowsDecode(t *testing.T) {
	for _, v := range []string{"plugin", "plugin-min100", "resource-template"} {
		wf := &wfv1.Workflow{}
		if err := yaml.UnmarshalStrict([]byte(benchWorkflow(v, "ns")), wf); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if len(wf.Spec.Templates) != 3 || wf.Spec.Templates[1].Name != "warm" {
			t.Fatalf("%s: templates %+v", v, wf.Spec.Templates)
		}
	}
}
