//go:build e2e

package e2e

import (
	"context"
	"sort"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/dataset"
	"github.com/argo-eci/argo-eci/imagecache"
	"github.com/argo-eci/argo-eci/internal/fluidsim"
	"github.com/argo-eci/argo-eci/plugin"
	"github.com/argo-eci/argo-eci/test/cluster"
)

// warmFanOut is the Fluid fan-out scenario: warm a Fluid dataset, then 100 pods on ECI read it through its PVC.
const warmFanOut = `
metadata:
  generateName: warm-fanout-
spec:
  entrypoint: main
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: serverless-data, readOnly: true}
  templates:
  - name: main
    steps:
    - - name: warm
        template: warm
    - - name: train
        template: train
        withSequence: {count: "100"}
        arguments:
          parameters:
          - {name: shard, value: "{{item}}"}
          - {name: dataload, value: "{{steps.warm.outputs.parameters.dataload}}"}
  - name: warm
    outputs:
      parameters:
      - {name: dataload, valueFrom: {supplied: {}}}
      - {name: cachedPercentage, valueFrom: {supplied: {}}}
    plugin:
      argo-eci:
        dataset:
          name: serverless-data
          mounts:
          - mountPoint: oss://bucket/train/
            name: train
            path: /
            options: {fs.oss.endpoint: oss-cn-hangzhou-internal.aliyuncs.com}
          runtime:
            replicas: 10
            tieredstore:
              levels:
              - {mediumtype: MEM, volumeType: emptyDir, path: /local-storage, quota: 12Gi, high: "0.99", low: "0.99"}
          load: {paths: ["/"], loadMetadata: true}
          minCachedPercentage: 100
          timeout: 5m
          cleanup: onWorkflowDeletion
  - name: train
    inputs:
      parameters:
      - name: shard
      - name: dataload
    metadata:
      labels: {alibabacloud.com/fluid-sidecar-target: eci}
    nodeSelector: {type: virtual-kubelet}
    tolerations:
    - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
    container:
      image: alpine:3.20
      command: [sh, -c, "ls /data >/dev/null"]
      env:
      - {name: SHARD, value: "{{inputs.parameters.shard}}"}
      - {name: DATALOAD, value: "{{inputs.parameters.dataload}}"}
      volumeMounts:
      - {name: data, mountPath: /data, readOnly: true}
`

// applyPluginManifests installs manifests/plugin into ns (cluster.InstallPlugin) until the test ends.
func applyPluginManifests(t *testing.T, c *cluster.Cluster, kube client.Client, ns string) {
	t.Helper()
	cleanup, err := c.InstallPlugin(context.Background(), kube, ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
}

// impersonate returns config acting as ServiceAccount ns/sa, so RBAC is really checked.
func impersonate(c *cluster.Cluster, ns, sa string) *rest.Config { return c.Impersonate(ns, sa) }

func testScheme(t *testing.T) *runtime.Scheme {
	s, err := cluster.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// servePlugin serves srv on 127.0.0.1 until the test ends and returns its URL.
func servePlugin(t *testing.T, srv *plugin.Server) string {
	t.Helper()
	url, stop, err := cluster.ServeHTTP(srv.Handler())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return url
}

// runSimulator runs the Fluid/ECI status simulator in ns until the test ends.
func runSimulator(t *testing.T, kube client.Client, ns string, script fluidsim.Script) *fluidsim.Simulator {
	sim := fluidsim.New(kube, ns, script)
	stop := cluster.RunSimulator(sim)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("simulator: %v", err)
		}
	})
	return sim
}

// runAgent runs Argo's agent code for wf in this process, as the agent's ServiceAccount that
// manifests/plugin installs, until the test ends.
func runAgent(t *testing.T, c *cluster.Cluster, wf *wfv1.Workflow, url, token string) {
	t.Helper()
	stop, err := cluster.RunAgent(c.Impersonate(wf.Namespace, plugin.AgentServiceAccount), wf, url, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("agent: %v", err)
		}
	})
}

// TestPluginWarmsDatasetBeforeFanOut runs the Fluid fan-out workflow on the local control plane: the real
// workflow-controller creates the WorkflowTaskSet, Argo's own agent code calls `argo-eci plugin`
// (its handler, served on 127.0.0.1 by this process, with the RBAC of manifests/plugin), the Fluid
// simulator completes the DataLoad after 10 s, and the 100 fan-out pods must all be created after that.
func TestPluginWarmsDatasetBeforeFanOut(t *testing.T) {
	t.Parallel() // long waits on the kwok node; runs beside the other parallel tests (make e2e: -parallel 4)
	c := cluster.Get(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	admin, err := client.New(c.Config, client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	applyPluginManifests(t, c, admin, ns)

	// The plugin, as the sidecar would run it: ServiceAccount argo-eci-executor-plugin, counted API calls.
	pcfg := impersonate(c, ns, "argo-eci-executor-plugin")
	pcfg.QPS, pcfg.Burst = 20, 40
	calls := cluster.CountCalls(pcfg)
	pkube, err := client.New(pcfg, client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	calls.Store(0)
	warmer := &cluster.WarmRecorder{Next: &dataset.Manager{Client: pkube}, Calls: calls}
	token := "e2e-token-0123456789abcdef012345"
	url := servePlugin(t, &plugin.Server{Token: []byte(token), Datasets: warmer, ImageCaches: &imagecache.Manager{Client: pkube}})
	sim := runSimulator(t, admin, ns, fluidsim.Script{BindAfter: time.Second, PVC: true, Load: fluidsim.LoadPlan{Duration: 10 * time.Second}})

	wf := &wfv1.Workflow{}
	if err := yaml.UnmarshalStrict([]byte(warmFanOut), wf); err != nil {
		t.Fatal(err)
	}
	wf = c.CreateWorkflow(t, ns, wf)
	runAgent(t, c, wf, url, token)

	final := c.WaitWorkflow(t, ns, wf.Name, 6*time.Minute)
	if final.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("workflow %s: %s %s", wf.Name, final.Status.Phase, final.Status.Message)
	}
	var dls fluidv1.DataLoadList
	if err := admin.List(ctx, &dls, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(dls.Items) != 1 {
		t.Fatalf("%d DataLoads, want 1", len(dls.Items))
	}
	dl := dls.Items[0]
	completed, ok := sim.CompletedAt(dl.Name)
	if !ok || dl.Status.Phase != "Complete" {
		t.Fatalf("DataLoad %s: phase %s, completed by the simulator: %v", dl.Name, dl.Status.Phase, ok)
	}
	if len(dl.OwnerReferences) != 1 || dl.OwnerReferences[0].UID != wf.UID {
		t.Fatalf("DataLoad owner references %+v, want the Workflow (cleanup: onWorkflowDeletion)", dl.OwnerReferences)
	}
	var warmNode *wfv1.NodeStatus
	for _, n := range final.Status.Nodes {
		if n.Type == wfv1.NodeTypePlugin {
			warmNode = &n
		}
	}
	if warmNode == nil || warmNode.Outputs == nil || outputParam(warmNode.Outputs, "dataload") != dl.Name ||
		outputParam(warmNode.Outputs, "cachedPercentage") != "100.0" {
		t.Fatalf("warm node outputs: %+v", warmNode)
	}

	var fan []corev1.Pod
	for _, p := range c.WorkflowPods(t, ns, wf.Name) {
		if p.Labels["workflows.argoproj.io/component"] != "agent" {
			fan = append(fan, p)
		}
	}
	if len(fan) != 100 {
		t.Fatalf("%d fan-out pods, want 100", len(fan))
	}
	sort.Slice(fan, func(i, j int) bool { return fan[i].CreationTimestamp.Before(&fan[j].CreationTimestamp) })
	// creationTimestamp has one-second resolution: no pod may be created in a second before completion.
	for _, p := range fan {
		if p.CreationTimestamp.Time.Before(completed.Truncate(time.Second)) {
			t.Fatalf("pod %s created at %s, before the DataLoad completed at %s", p.Name, p.CreationTimestamp.UTC(), completed.UTC())
		}
		if !hasEnv(p, "DATALOAD", dl.Name) {
			t.Fatalf("pod %s did not get the warm step's dataload output", p.Name)
		}
	}

	rec := warmer.Record()
	detect := rec.Succeeded.Sub(completed)
	warmup := rec.Succeeded.Sub(rec.First)
	t.Logf("DataLoad %s completed at %s; plugin answered Succeeded %s later (%d template.execute calls, %d Kubernetes API calls in %s = %.1f calls/min); first fan-out pod created %s after completion (includes the agent's 10 s TaskSet patch period and the controller)",
		dl.Name, completed.UTC().Format(time.RFC3339Nano), detect.Round(time.Millisecond), rec.Executes, rec.APICalls,
		warmup.Round(time.Millisecond), float64(rec.APICalls)/warmup.Minutes(), fan[0].CreationTimestamp.Sub(completed).Round(time.Second))
	// A whole-dataset load is judged on a cache refresh newer than Complete: up to one 90 s
	// cache-sync period of Fluid's, 9 s at the simulator's default scale of 0.1, plus the 2 s poll.
	if detect < 0 || detect > 11*time.Second {
		t.Errorf("plugin detection delay %s, want ≤ 11 s (one scaled cache sync and one poll)", detect)
	}
}

func outputParam(o *wfv1.Outputs, name string) string {
	for _, p := range o.Parameters {
		if p.Name == name && p.Value != nil {
			return p.Value.String()
		}
	}
	return ""
}

func hasEnv(p corev1.Pod, name, value string) bool {
	for _, c := range p.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == name && e.Value == value {
				return true
			}
		}
	}
	return false
}
