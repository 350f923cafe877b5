//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/artifacts"
	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/internal/fluidsim"
	"github.com/argo-eci/argo-eci/internal/osstest"
	"github.com/argo-eci/argo-eci/plugin"
	"github.com/argo-eci/argo-eci/test/cluster"
)

// The tests in this file run on the kubelet node: Argo's init, wait and emissary containers,
// agent pods and artifact plugin containers really run there, in containerd.

// smallResources keeps a real pod's requests small (the node has two cores shared by everything).
func smallResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("20m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
	}
}

// podLog returns what the program in one container of a pod on the kubelet node printed: its
// log without the lines of Argo's emissary (logfmt lines starting "time="), which share the
// container's output.
func podLog(t *testing.T, c *cluster.Cluster, ns, pod, container string) string {
	t.Helper()
	raw, err := c.Kube.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(context.Background())
	if err != nil {
		t.Fatalf("logs of %s/%s %s: %v", ns, pod, container, err)
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(string(raw), "\n") {
		if line != "" && !strings.HasPrefix(line, "time=") {
			out.WriteString(line)
		}
	}
	return out.String()
}

// assertOnKubelet checks that every pod of wf (agent pod included) ran on the kubelet node and
// ended as want.
func assertOnKubelet(t *testing.T, c *cluster.Cluster, ns, wf string, want corev1.PodPhase) []corev1.Pod {
	t.Helper()
	pods := c.WorkflowPods(t, ns, wf)
	if len(pods) == 0 {
		t.Fatalf("workflow %s has no pods", wf)
	}
	for _, p := range pods {
		if p.Spec.NodeName != cluster.RealNodeName {
			t.Errorf("pod %s ran on %q, want the kubelet node %s", p.Name, p.Spec.NodeName, cluster.RealNodeName)
		}
		if p.Labels[common.LabelKeyComponent] != "agent" && p.Status.Phase != want {
			t.Errorf("pod %s: phase %s, want %s", p.Name, p.Status.Phase, want)
		}
	}
	return pods
}

// TestRealNodeShapedPod: a two-step workflow, shaped by the webhook with every annotation, label,
// env and spec field the e2e profile adds, really runs on the kubelet node: emissary runs main, the
// wait container (marked __ECI_RESOURCE_IGNORE__) reports the output parameter through a
// WorkflowTaskResult, and the second step receives it.
func TestRealNodeShapedPod(t *testing.T) {
	c := cluster.Get(t)
	ns := c.NamespaceOn(t, cluster.Kubelet)
	w := startWebhook(t, c, ns)
	w.Register(ns, true)
	pw := watchPods(t, c, ns)

	word := "from-" + ns
	wf := c.CreateWorkflow(t, ns, &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "shaped-"},
		Spec: wfv1.WorkflowSpec{Entrypoint: "main", Templates: []wfv1.Template{
			{Name: "main", Steps: []wfv1.ParallelSteps{
				{Steps: []wfv1.WorkflowStep{{Name: "produce", Template: "produce"}}},
				{Steps: []wfv1.WorkflowStep{{Name: "consume", Template: "consume",
					Arguments: wfv1.Arguments{Parameters: []wfv1.Parameter{{Name: "word", Value: wfv1.AnyStringPtr("{{steps.produce.outputs.parameters.word}}")}}}}}},
			}},
			{Name: "produce",
				Container: &corev1.Container{Image: cluster.BusyboxImage, Command: []string{"sh", "-c", "printf %s " + word + " > /tmp/word"}, Resources: smallResources()},
				Outputs:   wfv1.Outputs{Parameters: []wfv1.Parameter{{Name: "word", ValueFrom: &wfv1.ValueFrom{Path: "/tmp/word"}}}}},
			{Name: "consume", Inputs: wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: "word"}}},
				Container: &corev1.Container{Image: cluster.BusyboxImage, Command: []string{"sh", "-c", "echo got {{inputs.parameters.word}}"}, Resources: smallResources()}},
		}},
	})
	done := c.WaitWorkflow(t, ns, wf.Name, 3*time.Minute)
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("workflow %s: %s (%s), want Succeeded", wf.Name, done.Status.Phase, done.Status.Message)
	}
	pods := assertOnKubelet(t, c, ns, wf.Name, corev1.PodSucceeded)
	if len(pods) != 2 {
		t.Fatalf("%d pods, want 2", len(pods))
	}
	for _, p := range pw.pods() {
		assertShaped(t, p)
		for _, ctr := range p.Spec.Containers {
			if ctr.Name == common.MainContainerName && (len(ctr.Command) == 0 || ctr.Command[0] != "/var/run/argo/argoexec") {
				t.Errorf("pod %s: main command %v, want emissary", p.Name, ctr.Command)
			}
		}
	}
	var consumer string
	for _, p := range pods {
		if strings.Contains(p.Annotations[common.AnnotationKeyNodeName], ".consume") {
			consumer = p.Name
		}
	}
	if consumer == "" {
		t.Fatal("no consume pod")
	}
	if got := podLog(t, c, ns, consumer, common.MainContainerName); strings.TrimSpace(got) != "got "+word {
		t.Errorf("consume step printed %q, want %q: the output parameter did not pass", got, "got "+word)
	}
	for _, n := range done.Status.Nodes {
		if n.Type == wfv1.NodeTypePod && strings.Contains(n.Name, ".produce") && (n.Outputs == nil || outputParam(n.Outputs, "word") != word) {
			t.Errorf("produce node outputs %+v, want word=%s (written by the real wait container)", n.Outputs, word)
		}
	}
}

// TestRealNodeFanOut: a 20-way fan-out runs on the kubelet node, every shard really executed.
func TestRealNodeFanOut(t *testing.T) {
	c := cluster.Get(t)
	ns := c.NamespaceOn(t, cluster.Kubelet)
	shard := shardContainer()
	shard.Image, shard.Resources = cluster.BusyboxImage, smallResources()
	start := time.Now()
	wf := c.CreateWorkflow(t, ns, fanOut(20, wfv1.Template{Container: shard}))
	done := c.WaitWorkflow(t, ns, wf.Name, 5*time.Minute)
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("workflow %s: %s (%s), want Succeeded", wf.Name, done.Status.Phase, done.Status.Message)
	}
	pods := assertOnKubelet(t, c, ns, wf.Name, corev1.PodSucceeded)
	if len(pods) != 20 {
		t.Fatalf("%d pods, want 20", len(pods))
	}
	seen := map[string]bool{}
	for _, p := range pods {
		seen[strings.TrimSpace(podLog(t, c, ns, p.Name, common.MainContainerName))] = true
	}
	for i := 0; i < 20; i++ {
		if !seen[fmt.Sprintf("shard %d", i)] {
			t.Errorf("no pod printed %q (printed: %v)", fmt.Sprintf("shard %d", i), seen)
		}
	}
	t.Logf("20 real pods: workflow Succeeded in %s", time.Since(start).Round(time.Second))
}

// TestRealNodeWebhookOutage is TestWebhookOutage with pods that really run.
func TestRealNodeWebhookOutage(t *testing.T) { webhookOutage(t, cluster.Kubelet) }

// ossRepository serves an OSS test server to the kubelet node's pods and makes it the default
// artifact repository of ns through the argo-eci-oss artifact plugin. It returns the server and
// the env the plugin containers need for its credentials.
func ossRepository(t *testing.T, c *cluster.Cluster, ns, bucket string) (*osstest.Server, []corev1.EnvVar) {
	t.Helper()
	return ossRepositoryWith(t, c, ns, osstest.Options{Buckets: []string{bucket}})
}

// ossRepositoryWith is ossRepository with the OSS test server's options (opts.Buckets[0] is the
// repository's bucket).
func ossRepositoryWith(t *testing.T, c *cluster.Cluster, ns string, opts osstest.Options) (*osstest.Server, []corev1.EnvVar) {
	t.Helper()
	bucket := opts.Buckets[0]
	srv, err := osstest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	podAddr, remove, err := cluster.ExposeToPods(strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := remove(); err != nil {
			t.Error(err)
		}
	})
	cfg := fmt.Sprintf("endpoint: http://%s\nbucket: %s\nregion: %s\npathStyle: true\n", podAddr, bucket, srv.Region())
	repo, err := yaml.Marshal(map[string]any{"plugin": map[string]any{
		"name": "argo-eci-oss", "keyFormat": "{{workflow.name}}/{{pod.name}}", "configuration": cfg}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kube.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "artifact-repositories",
			Annotations: map[string]string{"workflows.argoproj.io/default-artifact-repository": "oss"}},
		Data: map[string]string{"oss": string(repo)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return srv, []corev1.EnvVar{{Name: artifacts.EnvAccessKeyID, Value: srv.AccessKeyID()},
		{Name: artifacts.EnvAccessKeySecret, Value: srv.AccessKeySecret()}}
}

// pluginEnvPatch is a template podSpecPatch that gives the argo-eci-oss containers Argo adds
// (init container for inputs, sidecar for outputs) the OSS credentials.
func pluginEnvPatch(t *testing.T, env []corev1.EnvVar, init, sidecar bool) string {
	t.Helper()
	// A map, not a PodSpec: a PodSpec would marshal "containers": null, which the patch applies.
	type named struct {
		Name string          `json:"name"`
		Env  []corev1.EnvVar `json:"env"`
	}
	spec := map[string][]named{}
	if init {
		spec["initContainers"] = []named{{Name: "init-artifact-argo-eci-oss", Env: env}}
	}
	if sidecar {
		spec["containers"] = []named{{Name: "artifact-plugin-argo-eci-oss", Env: env}}
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// untarOne reads the single regular file of a gzip'd tar archive (Argo's default archive).
func untarOne(t *testing.T, data []byte) (string, []byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("artifact is not gzip: %v", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("artifact archive: no regular file (%v)", err)
		}
		if h.Typeflag == tar.TypeReg {
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return h.Name, body
		}
	}
}

// artifactPassing is examples/oss-artifacts.yaml with the OSS credentials env given to the
// argo-eci-oss containers Argo adds, and resources that fit the kubelet node.
func artifactPassing(t *testing.T, e *exampleEnv, env []corev1.EnvVar) *wfv1.Workflow {
	t.Helper()
	wf := e.load(t, "oss-artifacts.yaml")
	for i := range wf.Spec.Templates {
		tmpl := &wf.Spec.Templates[i]
		switch tmpl.Name {
		case "whalesay":
			tmpl.PodSpecPatch = pluginEnvPatch(t, env, false, true)
		case "print-message":
			tmpl.PodSpecPatch = pluginEnvPatch(t, env, true, false)
		}
		if tmpl.Container != nil {
			tmpl.Container.Resources = smallResources() // two cores on this node; the example asks for 500m each
		}
	}
	return wf
}

// TestRealNodeArtifactPassing runs the seed's artifact-passing example (examples/oss-artifacts.yaml)
// on the kubelet node with argo-eci as installed: the webhook shapes the pods with the example
// profiles, the controller adds the argo-eci-oss artifact plugin from its artifactDrivers as the
// producer's sidecar and the consumer's init container, and the bytes really travel through the
// OSS test server, which pods reach only through the bridge.
func TestRealNodeArtifactPassing(t *testing.T) {
	c := cluster.Get(t)
	e := newExampleEnvOn(t, c, cluster.Kubelet)
	srv, env := ossRepository(t, c, e.ns, "artifacts")

	wf := artifactPassing(t, e, env)
	wf = e.c.CreateWorkflow(t, e.ns, wf)
	done := e.succeed(t, wf, 4*time.Minute)
	pods := assertOnKubelet(t, c, e.ns, wf.Name, corev1.PodSucceeded)
	if len(pods) != 2 {
		t.Fatalf("%d pods, want 2", len(pods))
	}
	for _, p := range e.workPods(done) {
		assertExampleShaped(t, p, "standard")
	}

	keys, err := srv.Keys("artifacts", wf.Name+"/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !strings.HasSuffix(keys[0], "/hello-art.tgz") {
		t.Fatalf("objects under %s/: %v, want one hello-art.tgz", wf.Name, keys)
	}
	data, err := srv.Object("artifacts", keys[0])
	if err != nil {
		t.Fatal(err)
	}
	name, body := untarOne(t, data)
	if name != "hello_world.txt" || !strings.Contains(string(body), "< hello world >") {
		t.Errorf("stored artifact %s holds %s = %q, want hello_world.txt with the cowsay speech bubble", keys[0], name, body)
	}
	for _, p := range pods {
		if strings.Contains(p.Annotations[common.AnnotationKeyNodeName], "consume-artifact") {
			if got := podLog(t, c, e.ns, p.Name, common.MainContainerName); got != string(body) {
				t.Errorf("consumer printed %q, want the stored artifact's %q", got, body)
			}
		}
	}
	if n := srv.Requests("PutObject") + srv.Requests("CompleteMultipartUpload"); n == 0 {
		t.Errorf("the OSS test server saw no upload")
	}
	t.Logf("artifact %s: %d bytes through the OSS test server from the producer's sidecar to the consumer's init container", keys[0], len(data))
}

// TestRealNodeSlowSaveOutlivesTerminate: once a step's main container has exited, Argo's
// controller sends SIGTERM to the pod's other containers while the wait container may still be
// uploading through argo-eci's artifact sidecar, whose argoexec then SIGKILLs the plugin server.
// With OSS answering every request after 4 s the upload outlasts that moment; the kill command the
// webhook sets leaves SIGTERM to the wait container, and the artifact arrives whole.
func TestRealNodeSlowSaveOutlivesTerminate(t *testing.T) {
	c := cluster.Get(t)
	e := newExampleEnvOn(t, c, cluster.Kubelet)
	srv, env := ossRepositoryWith(t, c, e.ns, osstest.Options{Buckets: []string{"artifacts"},
		Remote: osstest.Remote{FirstByteLatency: 4 * time.Second}})
	wf := artifactPassing(t, e, env)
	wf = e.c.CreateWorkflow(t, e.ns, wf)
	e.succeed(t, wf, 4*time.Minute)
	for _, p := range assertOnKubelet(t, c, e.ns, wf.Name, corev1.PodSucceeded) {
		if strings.Contains(p.Annotations[common.AnnotationKeyNodeName], "generate-artifact") &&
			p.Annotations[common.AnnotationKeyKillCmd("artifact-plugin-argo-eci-oss")] == "" {
			t.Errorf("producer pod %s: no kill command for the artifact sidecar", p.Name)
		}
	}
	keys, err := srv.Keys("artifacts", wf.Name+"/")
	if err != nil || len(keys) != 1 {
		t.Fatalf("objects under %s/: %v %v, want one", wf.Name, keys, err)
	}
}

// realWarmUp is a warm-up step executed by Argo's real agent pod calling argo-eci's plugin
// sidecar, then a step that receives the plugin's output parameter.
const realWarmUp = `
metadata:
  generateName: warm-real-
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: warm
        template: warm
    - - name: read
        template: read
        arguments:
          parameters:
          - {name: dataload, value: "{{steps.warm.outputs.parameters.dataload}}"}
  - name: warm
    outputs:
      parameters:
      - {name: dataload, valueFrom: {supplied: {}}}
    plugin:
      argo-eci:
        dataset:
          name: real-data
          mounts:
          - {mountPoint: "oss://bucket/train/", name: train, path: /}
          runtime:
            replicas: 1
            tieredstore:
              levels:
              - {mediumtype: MEM, volumeType: emptyDir, path: /local-storage, quota: 1Gi, high: "0.99", low: "0.99"}
          load: {paths: ["/"]}
          minCachedPercentage: 100
          timeout: 3m
  - name: read
    inputs:
      parameters:
      - name: dataload
    container:
      image: busybox:1.36
      command: [sh, -c, "echo warmed by {{inputs.parameters.dataload}}"]
      resources:
        requests: {cpu: 20m, memory: 16Mi}
        limits: {cpu: 500m, memory: 128Mi}
`

// watchAgent polls the agent pod of workflow wf until the returned function is called, which
// returns the last state seen and the plugin sidecar's last log (the previous run's after a crash).
func watchAgent(t *testing.T, c *cluster.Cluster, ns, wf string) func() (*corev1.Pod, string) {
	t.Helper()
	var (
		mu   sync.Mutex
		last *corev1.Pod
		log  string
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx := context.Background()
		for {
			pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: common.LabelKeyWorkflow + "=" + wf + "," + common.LabelKeyComponent + "=agent"})
			if err == nil && len(pods.Items) > 0 {
				p := pods.Items[0]
				var text string
				for _, previous := range []bool{false, true} {
					raw, err := c.Kube.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: "argo-eci-plugin", Previous: previous}).DoRaw(ctx)
					if err == nil && len(raw) > 0 && !strings.HasPrefix(string(raw), "unable to retrieve container logs") {
						text = string(raw)
						break
					}
				}
				mu.Lock()
				last = &p
				if text != "" {
					log = text
				}
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	var once sync.Once
	get := func() (*corev1.Pod, string) {
		once.Do(func() { close(stop); <-done })
		mu.Lock()
		defer mu.Unlock()
		return last, log
	}
	t.Cleanup(func() { get() })
	return get
}

// sidecarState describes the argo-eci-plugin container's status in p.
func sidecarState(p *corev1.Pod) string {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name != "argo-eci-plugin" {
			continue
		}
		desc := fmt.Sprintf("restarts=%d", s.RestartCount)
		if term := s.LastTerminationState.Terminated; term != nil {
			desc += fmt.Sprintf(" last exit=%d %s", term.ExitCode, term.Reason)
		}
		if w := s.State.Waiting; w != nil {
			desc += " waiting " + w.Reason
		}
		return desc
	}
	return "absent"
}

// TestRealNodeWarmUp installs manifests/plugin as a user does and runs a warm-up step on the
// kubelet node: the controller starts the agent pod with argo-eci's plugin sidecar (its image,
// port, securityContext and ServiceAccount token from the plugin ConfigMap), Argo's agent init
// writes the token, the agent calls the sidecar on localhost, the sidecar creates the Fluid objects
// with its RBAC through the apiserver's Service address, and the Fluid simulator completes them.
func TestRealNodeWarmUp(t *testing.T) {
	c := cluster.Get(t)
	ns := c.NamespaceOn(t, cluster.Kubelet)
	w := startWebhook(t, c, ns)
	w.Register(ns, true)
	admin, err := client.New(c.Config, client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	applyPluginManifests(t, c, admin, ns)
	c.WaitExecutorPlugin(t, ns, "argo-eci-executor-plugin")
	sim := runSimulator(t, admin, ns, fluidsim.Script{BindAfter: time.Second, Load: fluidsim.LoadPlan{Duration: 3 * time.Second}})

	wf := &wfv1.Workflow{}
	if err := yaml.UnmarshalStrict([]byte(realWarmUp), wf); err != nil {
		t.Fatal(err)
	}
	wf = c.CreateWorkflow(t, ns, wf)
	// Argo deletes the agent pod when the workflow ends: record it and its sidecar's log meanwhile.
	agent := watchAgent(t, c, ns, wf.Name)
	done := c.WaitWorkflow(t, ns, wf.Name, 4*time.Minute)
	pod, sidecarLog := agent()
	if pod == nil {
		t.Fatalf("workflow %s (%s): no agent pod", wf.Name, done.Status.Phase)
	}
	if pod.Spec.NodeName != cluster.RealNodeName {
		t.Errorf("agent pod %s ran on %q, want the kubelet node", pod.Name, pod.Spec.NodeName)
	}
	// The namespace's default ServiceAccount has no WorkflowTaskSet rights: the agent works only
	// because the webhook moved it onto manifests/plugin's agent ServiceAccount.
	if pod.Spec.ServiceAccountName != plugin.AgentServiceAccount {
		t.Errorf("agent pod %s ran as ServiceAccount %q, want %q", pod.Name, pod.Spec.ServiceAccountName, plugin.AgentServiceAccount)
	}
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("workflow %s: %s (%s), want Succeeded\nagent pod %s, plugin sidecar %s\nlast plugin sidecar log:\n%s",
			wf.Name, done.Status.Phase, done.Status.Message, pod.Name, sidecarState(pod), sidecarLog)
	}
	pods := c.WorkflowPods(t, ns, wf.Name)
	var dataload string
	for _, n := range done.Status.Nodes {
		if n.Type == wfv1.NodeTypePlugin && n.Outputs != nil {
			dataload = outputParam(n.Outputs, "dataload")
		}
	}
	if _, ok := sim.CompletedAt(dataload); dataload == "" || !ok {
		t.Fatalf("warm step output dataload %q: not a DataLoad the simulator completed", dataload)
	}
	for _, p := range pods {
		if strings.Contains(p.Annotations[common.AnnotationKeyNodeName], ".read") {
			if got := strings.TrimSpace(podLog(t, c, ns, p.Name, common.MainContainerName)); got != "warmed by "+dataload {
				t.Errorf("read step printed %q, want %q", got, "warmed by "+dataload)
			}
			if p.Annotations[eci.AnnotationPrefix+"eci-use-specs"] == "" {
				t.Errorf("read pod %s was not shaped: %v", p.Name, p.Annotations)
			}
		}
	}
}

// realDirectoryArtifacts passes a directory artifact stored file by file (archive: none), with
// artifact GC when the workflow is deleted.
const realDirectoryArtifacts = `
metadata:
  generateName: artifacts-dir-
spec:
  entrypoint: main
  artifactGC:
    strategy: OnWorkflowDeletion
  templates:
  - name: main
    steps:
    - - name: produce
        template: produce
    - - name: consume
        template: consume
        arguments:
          artifacts:
          - {name: tree, from: "{{steps.produce.outputs.artifacts.tree}}"}
  - name: produce
    container:
      image: busybox:1.36
      command: [sh, -c, "mkdir -p /tmp/out/sub && echo alpha > /tmp/out/a.txt && echo beta > /tmp/out/sub/b.txt"]
    outputs:
      artifacts:
      - name: tree
        path: /tmp/out
        archive: {none: {}}
  - name: consume
    inputs:
      artifacts:
      - {name: tree, path: /tmp/in}
    container:
      image: busybox:1.36
      command: [sh, -c, "cat /tmp/in/a.txt /tmp/in/sub/b.txt"]
`

// TestRealNodeArtifactsDirectoryGC: a directory leaves the producer's artifact plugin sidecar file
// by file, reaches the consumer's init container, and deleting the workflow makes Argo's artifact
// GC pod (with the plugin as its sidecar) delete the objects.
func TestRealNodeArtifactsDirectoryGC(t *testing.T) {
	c := cluster.Get(t)
	ns := c.NamespaceOn(t, cluster.Kubelet)
	srv, env := ossRepository(t, c, ns, "artifacts")
	wf := &wfv1.Workflow{}
	if err := yaml.UnmarshalStrict([]byte(realDirectoryArtifacts), wf); err != nil {
		t.Fatal(err)
	}
	eciPlacement(&wf.Spec)
	// No webhook here: the kill command argo-eci's webhook gives its artifact sidecar
	// (artifacts.GuardSidecar) is set by hand. Without it the controller's SIGTERM once main has
	// exited can kill the plugin before its socket is up (seen: "timeout waiting for plugin
	// argo-eci-oss connection") or in the middle of the save.
	wf.Spec.PodMetadata = &wfv1.Metadata{Annotations: map[string]string{
		common.AnnotationKeyKillCmd("artifact-plugin-argo-eci-oss"): artifacts.KillCommand("/usr/local/bin/argo-eci")}}
	for i := range wf.Spec.Templates {
		switch tmpl := &wf.Spec.Templates[i]; tmpl.Name {
		case "produce":
			tmpl.PodSpecPatch = pluginEnvPatch(t, env, false, true)
		case "consume":
			tmpl.PodSpecPatch = pluginEnvPatch(t, env, true, false)
		}
	}
	// Argo's GC pod takes no tolerations from the workflow (argo-eci's webhook places it on ECI;
	// no webhook here): the patch adds the virtual node's toleration with the credentials.
	gcPatch := map[string]any{}
	if err := json.Unmarshal([]byte(pluginEnvPatch(t, env, false, true)), &gcPatch); err != nil {
		t.Fatal(err)
	}
	gcPatch["tolerations"] = wf.Spec.Tolerations
	raw, err := json.Marshal(gcPatch)
	if err != nil {
		t.Fatal(err)
	}
	wf.Spec.ArtifactGC.PodSpecPatch = string(raw)
	wf = c.CreateWorkflow(t, ns, wf)
	done := c.WaitWorkflow(t, ns, wf.Name, 4*time.Minute)
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("workflow %s: %s (%s), want Succeeded", wf.Name, done.Status.Phase, done.Status.Message)
	}
	pods := assertOnKubelet(t, c, ns, wf.Name, corev1.PodSucceeded)
	keys, err := srv.Keys("artifacts", wf.Name+"/")
	if err != nil {
		t.Fatal(err)
	}
	// Argo names an unarchived artifact's key after its path's base name (.../out); argo-eci-oss
	// stores each file of the directory as its own object under it (its layout is its own).
	want := map[string]string{"/a.txt": "alpha\n", "/sub/b.txt": "beta\n"}
	found := 0
	for _, k := range keys {
		for rel, content := range want {
			if strings.Contains(k, "/out/") && strings.HasSuffix(k, rel) {
				found++
				if data, err := srv.Object("artifacts", k); err != nil || string(data) != content {
					t.Errorf("object %s = %q (%v), want %q", k, data, err, content)
				}
			}
		}
	}
	if found != len(want) {
		t.Fatalf("objects %v, want the directory's files a.txt and sub/b.txt stored unarchived under out/", keys)
	}
	for _, p := range pods {
		if strings.Contains(p.Annotations[common.AnnotationKeyNodeName], ".consume") {
			if got := podLog(t, c, ns, p.Name, common.MainContainerName); got != "alpha\nbeta\n" {
				t.Errorf("consumer printed %q, want both files", got)
			}
		}
	}

	// Artifact GC: deleting the workflow starts Argo's GC pod, which deletes the objects through
	// the plugin; the workflow is gone once its GC finalizer is removed.
	if err := c.Workflows.ArgoprojV1alpha1().Workflows(ns).Delete(context.Background(), wf.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(time.Second) {
		keys, err = srv.Keys("artifacts", wf.Name+"/")
		if err != nil {
			t.Fatal(err)
		}
		_, getErr := c.Workflows.ArgoprojV1alpha1().Workflows(ns).Get(context.Background(), wf.Name, metav1.GetOptions{})
		if len(keys) == 0 && getErr != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after deleting the workflow: objects %v left, workflow get: %v", keys, getErr)
		}
	}
}

// realOptionalInput has an optional input artifact that does not exist in the plugin repository.
const realOptionalInput = `
metadata:
  generateName: optional-input-
spec:
  entrypoint: consume
  templates:
  - name: consume
    inputs:
      artifacts:
      - name: missing
        path: /tmp/missing
        optional: true
        plugin:
          name: argo-eci-oss
          key: no/such/object.txt
    container:
      image: busybox:1.36
      command: [sh, -c, "test ! -e /tmp/missing"]
`

// TestRealNodeOptionalMissingPluginInput pins what Argo v4.0.7 does with an optional input
// artifact that is missing from an artifact plugin's store: argoexec skips a missing optional input
// only when the driver's error is its own not-found error, and its plugin client turns every
// plugin error into plain text, so the step fails with the plugin's not-found message instead of
// being skipped. When this test fails, Argo (or the plugin protocol) changed: make optional
// inputs through argo-eci-oss a success case.
func TestRealNodeOptionalMissingPluginInput(t *testing.T) {
	c := cluster.Get(t)
	ns := c.NamespaceOn(t, cluster.Kubelet)
	_, env := ossRepository(t, c, ns, "artifacts")
	wf := &wfv1.Workflow{}
	if err := yaml.UnmarshalStrict([]byte(realOptionalInput), wf); err != nil {
		t.Fatal(err)
	}
	eciPlacement(&wf.Spec)
	wf.Spec.Templates[0].PodSpecPatch = pluginEnvPatch(t, env, true, false)
	wf = c.CreateWorkflow(t, ns, wf)
	done := c.WaitWorkflow(t, ns, wf.Name, 3*time.Minute)
	var msg string
	for _, n := range done.Status.Nodes {
		if n.Type == wfv1.NodeTypePod {
			msg = n.Message
		}
	}
	if done.Status.Phase != wfv1.WorkflowFailed || !strings.Contains(msg, "init-artifact-argo-eci-oss") || !strings.Contains(msg, "not found") {
		t.Fatalf("workflow %s: %s, pod node message %q; Argo v4.0.7 fails the step in the plugin's init container with its not-found error", wf.Name, done.Status.Phase, msg)
	}
}
