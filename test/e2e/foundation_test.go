//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/internal/ecisim"
	"github.com/argo-eci/argo-eci/test/cluster"
)

// eciPlacement puts a workflow's pods on the ECI virtual node by hand, as users do without the
// webhook: nodeSelector type=virtual-kubelet and the virtual-kubelet toleration.
func eciPlacement(spec *wfv1.WorkflowSpec) {
	spec.NodeSelector = map[string]string{"type": "virtual-kubelet"}
	spec.Tolerations = []corev1.Toleration{{Key: "virtual-kubelet.io/provider", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
}

// fanOut is a workflow whose entrypoint runs template "shard" `count` times with withSequence.
func fanOut(count int, shard wfv1.Template) *wfv1.Workflow {
	n := intstr.FromInt32(int32(count))
	shard.Name = "shard"
	shard.Inputs = wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: "index"}}}
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "fan-out-"},
		Spec: wfv1.WorkflowSpec{
			Entrypoint: "main",
			Templates: []wfv1.Template{
				{Name: "main", Steps: []wfv1.ParallelSteps{{Steps: []wfv1.WorkflowStep{{
					Name:         "shard",
					Template:     "shard",
					Arguments:    wfv1.Arguments{Parameters: []wfv1.Parameter{{Name: "index", Value: wfv1.AnyStringPtr("{{item}}")}}},
					WithSequence: &wfv1.Sequence{Count: &n},
				}}}}},
				shard,
			},
		},
	}
	eciPlacement(&wf.Spec)
	return wf
}

func shardContainer() *corev1.Container {
	return &corev1.Container{Image: "alpine:3.20", Command: []string{"sh", "-c"}, Args: []string{"echo shard {{inputs.parameters.index}}"}}
}

// TestFoundationFanOut: the real controller turns a 3-way withSequence fan-out into three emissary
// pods (init, wait, main; the var-run-argo volume) that run on the kwok ECI node, and the
// workflow succeeds.
func TestFoundationFanOut(t *testing.T) {
	c := cluster.Get(t)
	ns := c.Namespace(t)
	wf := c.CreateWorkflow(t, ns, fanOut(3, wfv1.Template{Container: shardContainer()}))
	done := c.WaitWorkflow(t, ns, wf.Name, 2*time.Minute)
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("workflow %s: phase %s (%s), want Succeeded", wf.Name, done.Status.Phase, done.Status.Message)
	}

	pods := c.WorkflowPods(t, ns, wf.Name)
	if len(pods) != 3 {
		t.Fatalf("workflow %s created %d pods, want 3", wf.Name, len(pods))
	}
	for _, p := range pods {
		if !slices.ContainsFunc(p.Spec.InitContainers, func(c corev1.Container) bool { return c.Name == "init" }) {
			t.Errorf("pod %s: no init container \"init\" (init containers %v)", p.Name, names(p.Spec.InitContainers))
		}
		if got := names(p.Spec.Containers); !slices.Contains(got, "wait") || !slices.Contains(got, "main") {
			t.Errorf("pod %s: containers %v, want wait and main", p.Name, got)
		}
		if !slices.ContainsFunc(p.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == "var-run-argo" }) {
			t.Errorf("pod %s: no var-run-argo volume", p.Name)
		}
		for _, ctr := range p.Spec.Containers {
			if ctr.Name == "main" && (len(ctr.Command) == 0 || ctr.Command[0] != "/var/run/argo/argoexec") {
				t.Errorf("pod %s: main command %v, want the emissary /var/run/argo/argoexec", p.Name, ctr.Command)
			}
		}
		if p.Spec.NodeName != cluster.NodeName {
			t.Errorf("pod %s: ran on node %q, want %s", p.Name, p.Spec.NodeName, cluster.NodeName)
		}
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("pod %s: phase %s, want Succeeded", p.Name, p.Status.Phase)
		}
	}
	var succeeded int
	for _, n := range done.Status.Nodes {
		if n.Type == wfv1.NodeTypePod && n.Phase == wfv1.NodeSucceeded {
			succeeded++
		}
	}
	if succeeded != 3 {
		t.Errorf("workflow %s: %d pod nodes Succeeded, want 3", wf.Name, succeeded)
	}
}

// TestFoundationECIScheduler: pods that name schedulerName eci-scheduler are scheduled (the local
// kube-scheduler runs that profile, as on ACK) onto the virtual node.
func TestFoundationECIScheduler(t *testing.T) {
	c := cluster.Get(t)
	ns := c.Namespace(t)
	wf := fanOut(1, wfv1.Template{Container: shardContainer()})
	wf.Spec.SchedulerName = "eci-scheduler"
	wf = c.CreateWorkflow(t, ns, wf)
	done := c.WaitWorkflow(t, ns, wf.Name, 2*time.Minute)
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("workflow %s: phase %s (%s), want Succeeded", wf.Name, done.Status.Phase, done.Status.Message)
	}
	pods := c.WorkflowPods(t, ns, wf.Name)
	if len(pods) != 1 || pods[0].Spec.SchedulerName != "eci-scheduler" || pods[0].Spec.NodeName != cluster.NodeName {
		for _, p := range pods {
			t.Logf("pod %s: scheduler %s node %q", p.Name, p.Spec.SchedulerName, p.Spec.NodeName)
		}
		t.Fatalf("want one pod scheduled by eci-scheduler onto %s", cluster.NodeName)
	}
}

// TestFoundationFailedStep: a pod annotated with an exit code fails like a real failing step, so
// the workflow fails and the node carries the exit code.
func TestFoundationFailedStep(t *testing.T) {
	c := cluster.Get(t)
	ns := c.Namespace(t)
	wf := c.CreateWorkflow(t, ns, fanOut(1, wfv1.Template{
		Container: shardContainer(),
		Metadata:  wfv1.Metadata{Annotations: map[string]string{cluster.AnnotationExitCode: "3"}},
	}))
	done := c.WaitWorkflow(t, ns, wf.Name, 2*time.Minute)
	if done.Status.Phase != wfv1.WorkflowFailed {
		t.Fatalf("workflow %s: phase %s, want Failed", wf.Name, done.Status.Phase)
	}
	var found bool
	for _, n := range done.Status.Nodes {
		if n.Type != wfv1.NodeTypePod {
			continue
		}
		found = true
		if n.Phase != wfv1.NodeFailed || n.Outputs == nil || n.Outputs.ExitCode == nil || *n.Outputs.ExitCode != "3" {
			t.Errorf("node %s: phase %s outputs %+v, want Failed with exit code 3", n.Name, n.Phase, n.Outputs)
		}
	}
	if !found {
		t.Fatalf("workflow %s has no pod node", wf.Name)
	}
}

// TestFoundationOutputs: with the task-result reporter standing in for the wait container, a
// step's output parameter reaches the next step, as on a real cluster.
func TestFoundationOutputs(t *testing.T) {
	c := cluster.Get(t)
	ns := c.Namespace(t)
	c.TaskResults(t, ns, func(p *corev1.Pod) *wfv1.Outputs {
		if !strings.HasSuffix(p.Annotations["workflows.argoproj.io/node-name"], ".plan") {
			return nil // the shards declare no outputs
		}
		return &wfv1.Outputs{Parameters: []wfv1.Parameter{{Name: "shards", Value: wfv1.AnyStringPtr("4")}}}
	})
	four := intstr.FromString("{{steps.plan.outputs.parameters.shards}}")
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "outputs-"},
		Spec: wfv1.WorkflowSpec{
			Entrypoint: "main",
			Templates: []wfv1.Template{
				{Name: "main", Steps: []wfv1.ParallelSteps{
					{Steps: []wfv1.WorkflowStep{{Name: "plan", Template: "plan"}}},
					{Steps: []wfv1.WorkflowStep{{
						Name: "shard", Template: "shard", WithSequence: &wfv1.Sequence{Count: &four},
						Arguments: wfv1.Arguments{Parameters: []wfv1.Parameter{{Name: "index", Value: wfv1.AnyStringPtr("{{item}}")}}},
					}}},
				}},
				{
					Name:      "plan",
					Container: &corev1.Container{Image: "alpine:3.20", Command: []string{"sh", "-c", "echo 4 > /tmp/shards"}},
					Outputs:   wfv1.Outputs{Parameters: []wfv1.Parameter{{Name: "shards", ValueFrom: &wfv1.ValueFrom{Path: "/tmp/shards"}}}},
				},
				{Name: "shard", Inputs: wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: "index"}}}, Container: shardContainer()},
			},
		},
	}
	eciPlacement(&wf.Spec)
	wf = c.CreateWorkflow(t, ns, wf)
	done := c.WaitWorkflow(t, ns, wf.Name, 2*time.Minute)
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("workflow %s: phase %s (%s), want Succeeded", wf.Name, done.Status.Phase, done.Status.Message)
	}
	if pods := c.WorkflowPods(t, ns, wf.Name); len(pods) != 5 {
		t.Errorf("workflow %s: %d pods, want 1 plan + 4 shards from its output", wf.Name, len(pods))
	}
	results, err := c.Workflows.ArgoprojV1alpha1().WorkflowTaskResults(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results.Items {
		if r.Labels["workflows.argoproj.io/report-outputs-completed"] != "true" {
			t.Errorf("task result %s: not marked complete: %v", r.Name, r.Labels)
		}
	}
}

func names(cs []corev1.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// argoPodCases are the representative workflows whose controller-made pods are kept in
// emissary/testdata/argo-pods/<name>.json for the shaping engine's table tests. Each workflow
// yields one pod (the agent pod for "agent"). Placement is left to the shaper except in
// "eci-placement", which is placed by hand as users do without argo-eci.
var argoPodCases = []struct{ name, workflow string }{
	{"container-resources", `
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: python:3.12-alpine
      command: [python, -c, "print('hello')"]
      resources:
        requests: {cpu: "1", memory: 2Gi}
        limits: {cpu: "1", memory: 2Gi}
`},
	{"container-no-resources", `
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine:3.20
      command: [sh, -c, "echo hello"]
`},
	{"script", `
spec:
  entrypoint: main
  templates:
  - name: main
    script:
      image: python:3.12-alpine
      command: [python]
      source: |
        import random
        print(random.randint(1, 100))
      resources:
        requests: {cpu: 500m, memory: 512Mi}
`},
	{"artifacts", `
spec:
  entrypoint: main
  templates:
  - name: main
    inputs:
      artifacts:
      - name: config
        path: /work/config.json
        raw: {data: '{"epochs": 3}'}
      - name: dataset
        path: /work/data
        oss: {key: datasets/demo/part-0.tar.gz}
    outputs:
      artifacts:
      - name: model
        path: /work/model
    container:
      image: python:3.12-alpine
      command: [python, -c, "import os; os.makedirs('/work/model', exist_ok=True)"]
      resources:
        requests: {cpu: "2", memory: 4Gi}
`},
	{"pvc-volume", `
spec:
  entrypoint: main
  volumes:
  - name: shared
    persistentVolumeClaim: {claimName: shared-data}
  templates:
  - name: main
    container:
      image: alpine:3.20
      command: [sh, -c, "ls /mnt/shared"]
      volumeMounts:
      - {name: shared, mountPath: /mnt/shared}
      resources:
        requests: {cpu: 250m, memory: 512Mi}
`},
	{"hostpath", `
spec:
  entrypoint: main
  volumes:
  - name: host-logs
    hostPath: {path: /var/log, type: Directory}
  templates:
  - name: main
    container:
      image: alpine:3.20
      command: [sh, -c, "ls /host/var/log"]
      volumeMounts:
      - {name: host-logs, mountPath: /host/var/log, readOnly: true}
`},
	{"pod-spec-patch", `
spec:
  entrypoint: main
  templates:
  - name: main
    podSpecPatch: |
      terminationGracePeriodSeconds: 5
      containers:
      - name: main
        resources:
          requests: {cpu: "3", memory: 6Gi}
          limits: {cpu: "3", memory: 6Gi}
    container:
      image: alpine:3.20
      command: [sh, -c, "echo patched"]
      resources:
        requests: {cpu: "1", memory: 1Gi}
`},
	{"gpu", `
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: nvidia/cuda:12.4.1-base-ubuntu22.04
      command: [nvidia-smi]
      resources:
        requests: {cpu: "4", memory: 16Gi, nvidia.com/gpu: "1"}
        limits: {cpu: "4", memory: 16Gi, nvidia.com/gpu: "1"}
`},
	{"eci-placement", `
spec:
  entrypoint: main
  schedulerName: eci-scheduler
  nodeSelector: {type: virtual-kubelet}
  tolerations:
  - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
  podMetadata:
    labels: {alibabacloud.com/eci: "true"}
    annotations: {k8s.aliyun.com/eci-use-specs: "2-4Gi,ecs.c6.large"}
  templates:
  - name: main
    metadata:
      annotations: {k8s.aliyun.com/eci-spot-strategy: SpotAsPriceGo}
    container:
      image: alpine:3.20
      command: [sh, -c, "echo on eci"]
      resources:
        requests: {cpu: "2", memory: 4Gi}
`},
	{"container-set", `
spec:
  entrypoint: main
  templates:
  - name: main
    containerSet:
      containers:
      - name: prepare
        image: alpine:3.20
        command: [sh, -c, "echo prepare"]
        resources:
          requests: {cpu: 500m, memory: 1Gi}
      - name: train
        image: python:3.12-alpine
        command: [python, -c, "print('train')"]
        dependencies: [prepare]
        resources:
          requests: {cpu: "2", memory: 4Gi}
`},
	{"sidecars", `
spec:
  entrypoint: main
  templates:
  - name: main
    initContainers:
    - name: fetch
      image: alpine:3.20
      command: [sh, -c, "echo fetch"]
    sidecars:
    - name: redis
      image: redis:7-alpine
      command: [redis-server]
      resources:
        requests: {cpu: 250m, memory: 256Mi}
    container:
      image: alpine:3.20
      command: [sh, -c, "echo main"]
      resources:
        requests: {cpu: "1", memory: 2Gi}
`},
	{"agent", `
spec:
  entrypoint: main
  templates:
  - name: main
    plugin:
      argo-eci:
        dataset:
          name: serverless-data
          load: {paths: ["/"]}
`},
}

// TestArgoPods has the real controller build one pod per argoPodCases entry and compares each,
// normalised (see normalisePod), with emissary/testdata/argo-pods/<name>.json, so a change in how
// Argo builds pods shows up here. With ARGO_ECI_CAPTURE_PODS=1 (hack/cluster/capture-pods.sh) it
// writes the files instead.
func TestArgoPods(t *testing.T) {
	capture := os.Getenv("ARGO_ECI_CAPTURE_PODS") == "1"
	c := cluster.Get(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	setUpArgoPodsNamespace(t, c, ns)
	dir := filepath.Join(c.Root, "emissary", "testdata", "argo-pods")

	for _, tc := range argoPodCases {
		wf := &wfv1.Workflow{}
		if err := yaml.UnmarshalStrict([]byte(tc.workflow), wf); err != nil {
			t.Fatalf("case %s: %v", tc.name, err)
		}
		wf.Name = tc.name
		c.CreateWorkflow(t, ns, wf)
	}
	for _, tc := range argoPodCases {
		t.Run(tc.name, func(t *testing.T) {
			pod := waitArgoPod(t, c, ns, tc.name, tc.name == "agent")
			wf, err := c.Workflows.ArgoprojV1alpha1().Workflows(ns).Get(ctx, tc.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := normalisePod(pod, ns, string(wf.UID))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, tc.name+".json")
			if capture {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s", path)
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run hack/cluster/capture-pods.sh to capture the pods)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the controller's %s pod differs from %s at %s\n(if Argo changed on purpose, run hack/cluster/capture-pods.sh)",
					tc.name, path, firstDifference(got, want))
			}
		})
	}
}

// setUpArgoPodsNamespace adds what the cases need: a default artifact repository (OSS) with its
// credentials Secret, the project's executor-plugin ConfigMap and the ServiceAccounts and token
// Secrets the agent pod mounts.
func setUpArgoPodsNamespace(t *testing.T, c *cluster.Cluster, ns string) {
	t.Helper()
	ctx := context.Background()
	core := c.Kube.CoreV1()
	create := func(what string, err error) {
		if err != nil {
			t.Fatalf("create %s: %v", what, err)
		}
	}
	_, err := core.Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "oss-credentials"},
		StringData: map[string]string{"accessKey": "test-access-key", "secretKey": "test-secret-key"},
	}, metav1.CreateOptions{})
	create("Secret oss-credentials", err)
	_, err = core.ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "artifact-repositories",
			Annotations: map[string]string{"workflows.argoproj.io/default-artifact-repository": "oss"},
		},
		Data: map[string]string{"oss": `archiveLogs: false
oss:
  endpoint: https://oss-cn-hangzhou-internal.aliyuncs.com
  bucket: argo-artifacts
  keyFormat: "{{workflow.namespace}}/{{workflow.name}}/{{pod.name}}"
  accessKeySecret: {name: oss-credentials, key: accessKey}
  secretKeySecret: {name: oss-credentials, key: secretKey}
`},
	}, metav1.CreateOptions{})
	create("ConfigMap artifact-repositories", err)

	objs, err := c.PluginObjects(ns)
	if err != nil {
		t.Fatal(err)
	}
	var plugin *corev1.ConfigMap
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			plugin = cm
		}
	}
	if plugin == nil {
		t.Fatal("manifests/plugin rendered no ConfigMap")
	}
	_, err = core.ConfigMaps(ns).Create(ctx, plugin, metav1.CreateOptions{})
	create("plugin ConfigMap", err)

	for _, sa := range []string{"argo-eci-executor-plugin", "default"} {
		if sa != "default" {
			_, err = core.ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
			create("ServiceAccount "+sa, err)
		}
		_, err = core.Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: sa + ".service-account-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: sa}},
			Type:       corev1.SecretTypeServiceAccountToken,
		}, metav1.CreateOptions{})
		create("token Secret for "+sa, err)
	}
	// The controller learns of executor plugins through a ConfigMap informer.
	c.WaitExecutorPlugin(t, ns, plugin.Name)
}

// waitArgoPod waits for the (only) pod of workflow wf, or its agent pod.
func waitArgoPod(t *testing.T, c *cluster.Cluster, ns, wf string, agent bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		for _, p := range c.WorkflowPods(t, ns, wf) {
			if (p.Labels["workflows.argoproj.io/component"] == "agent") == agent {
				return &p
			}
		}
		if time.Now().After(deadline) {
			w, err := c.Workflows.ArgoprojV1alpha1().Workflows(ns).Get(context.Background(), wf, metav1.GetOptions{})
			if err == nil {
				t.Fatalf("workflow %s made no pod in 90s: phase %q message %q", wf, w.Status.Phase, w.Status.Message)
			}
			t.Fatalf("workflow %s made no pod in 90s: %v", wf, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

var kubeAPIAccess = regexp.MustCompile(`kube-api-access-[a-z0-9]{5}`)

// normalisePod turns a pod read from the apiserver into what a webhook sees at creation, with the
// per-run random parts fixed so captures compare byte for byte: status, spec.nodeName and
// server-set metadata (uid, resourceVersion, creationTimestamp, generation, managedFields) are
// dropped; the test namespace becomes "workflows" wherever it appears (metadata, artifact keys in
// the template env), the workflow's UID 00000000-0000-4000-8000-000000000001 and each
// kube-api-access-<random> volume kube-api-access-0000N in order of appearance.
func normalisePod(p *corev1.Pod, ns, wfUID string) ([]byte, error) {
	p = p.DeepCopy()
	p.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	p.Status = corev1.PodStatus{}
	p.Spec.NodeName = ""
	// The local apiserver's PodNodeSelector adds the test node choice; the controller does not.
	delete(p.Spec.NodeSelector, cluster.LabelNode)
	if len(p.Spec.NodeSelector) == 0 {
		p.Spec.NodeSelector = nil
	}
	p.UID, p.ResourceVersion, p.Generation, p.ManagedFields = "", "", 0, nil
	p.CreationTimestamp = metav1.Time{}
	// What the ECI simulator wrote back once it placed the pod is not the controller's.
	for k := range p.Annotations {
		if ecisim.WrittenBack(k) {
			delete(p.Annotations, k)
		}
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	text := strings.ReplaceAll(string(out), wfUID, "00000000-0000-4000-8000-000000000001")
	text = strings.ReplaceAll(text, ns, "workflows")
	seen := map[string]string{}
	text = kubeAPIAccess.ReplaceAllStringFunc(text, func(s string) string {
		if _, ok := seen[s]; !ok {
			seen[s] = fmt.Sprintf("kube-api-access-%05d", len(seen)+1)
		}
		return seen[s]
	})
	return []byte(text + "\n"), nil
}

// firstDifference names the first line where got and want differ.
func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, gl, wl)
		}
	}
	return "no line (identical text)"
}
