//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/test/cluster"
	"github.com/argo-eci/argo-eci/webhook"
)

// e2eProfiles places pods on the kwok ECI node by nodeSelector (plus the ECI label), so kube-
// scheduler can only run a pod there if the webhook shaped it.
const e2eProfiles = `
default: e2e
profiles:
  e2e:
    placement: [label, nodeSelector]
    specs: auto
    fallbackSpecs: 1
    spot: {strategy: SpotAsPriceGo, fallback: true}
    failStrategy: fail-fast
    retry: {limit: 2, policy: Always}
    executorResources: ignore
    incompatible: deny
    agentPod: eci
`

// runningWebhook is argo-eci's webhook served from the test process on 127.0.0.1 and
// registered with the cluster's kube-apiserver by URL (cluster.Webhook, failing the test on errors).
type runningWebhook struct {
	*cluster.Webhook
	t      testing.TB
	c      *cluster.Cluster
	server *webhook.Server
	addr   string
}

// startWebhook serves the webhook with e2eProfiles and a Workflow cache of namespace ns, on a
// self-signed certificate, until the test ends.
func startWebhook(t testing.TB, c *cluster.Cluster, ns string) *runningWebhook {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	w, err := c.StartWebhook(ns, []byte(e2eProfiles), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Stop(); err != nil {
			t.Errorf("webhook: %v", err)
		}
	})
	return &runningWebhook{Webhook: w, t: t, c: c, server: w.Server, addr: w.Addr}
}

// Stop shuts the server down (its port then refuses connections); a no-op when stopped.
func (w *runningWebhook) Stop() {
	if err := w.Pause(); err != nil {
		w.t.Errorf("webhook: %v", err)
	}
}

// Restart serves again on the same address.
func (w *runningWebhook) Restart() {
	w.t.Helper()
	if err := w.Resume(); err != nil {
		w.t.Fatal(err)
	}
}

// Register creates a MutatingWebhookConfiguration calling this server by URL for Argo pods in
// namespace ns (and with workflows also for Workflow creation), removed when the test ends.
// failurePolicy is Fail: while the webhook is unreachable no pod is created at all, so none is ever
// created unshaped; Argo's controller treats the refused connection as a transient error and retries.
func (w *runningWebhook) Register(ns string, workflows bool) {
	w.t.Helper()
	unregister, err := w.c.RegisterWebhook(context.Background(), w.Webhook, ns, workflows)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		if err := unregister(); err != nil {
			w.t.Error(err)
		}
	})
}

// podWatch records every pod of a namespace as it was first seen (at creation, before any
// later update could add anything).
type podWatch struct {
	mu      sync.Mutex
	created map[string]*corev1.Pod
}

func watchPods(t *testing.T, c *cluster.Cluster, ns string) *podWatch {
	t.Helper()
	pw := &podWatch{created: map[string]*corev1.Pod{}}
	factory := informers.NewSharedInformerFactoryWithOptions(c.Kube, 0, informers.WithNamespace(ns))
	informer := factory.Core().V1().Pods().Informer()
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			pw.mu.Lock()
			if _, seen := pw.created[p.Name]; !seen {
				pw.created[p.Name] = p.DeepCopy()
			}
			pw.mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	t.Cleanup(func() { close(stop); factory.Shutdown() })
	if !cache.WaitForCacheSync(stop, informer.HasSynced) {
		t.Fatal("pod informer never synced")
	}
	return pw
}

func (pw *podWatch) pods() []*corev1.Pod {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(pw.created))
	for _, p := range pw.created {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// assertShaped checks what e2eProfiles writes on a pod.
func assertShaped(t *testing.T, p *corev1.Pod) {
	t.Helper()
	if got := p.Annotations[emissary.AnnotationShapedBy]; got != "e2e" {
		t.Errorf("pod %s: %s = %q, want e2e", p.Name, emissary.AnnotationShapedBy, got)
	}
	// Agent pods serve the whole workflow and are never put on spot; every other pod is.
	wantSpot := "SpotAsPriceGo"
	if p.Labels[common.LabelKeyComponent] == "agent" {
		wantSpot = ""
	}
	if p.Annotations["k8s.aliyun.com/eci-use-specs"] == "" || p.Annotations["k8s.aliyun.com/eci-spot-strategy"] != wantSpot {
		t.Errorf("pod %s: ECI spec %q, spot strategy %q, want a spec and spot %q: %v", p.Name,
			p.Annotations["k8s.aliyun.com/eci-use-specs"], p.Annotations["k8s.aliyun.com/eci-spot-strategy"], wantSpot, p.Annotations)
	}
	if p.Labels["alibabacloud.com/eci"] != "true" || p.Spec.NodeSelector["type"] != "virtual-kubelet" {
		t.Errorf("pod %s: not placed on ECI: labels %v nodeSelector %v", p.Name, p.Labels, p.Spec.NodeSelector)
	}
	if !slices.ContainsFunc(p.Spec.Tolerations, func(tl corev1.Toleration) bool { return tl.Key == "virtual-kubelet.io/provider" }) {
		t.Errorf("pod %s: no virtual-kubelet toleration", p.Name)
	}
	for _, c := range p.Spec.Containers {
		if c.Name == common.WaitContainerName && !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "__ECI_RESOURCE_IGNORE__" }) {
			t.Errorf("pod %s: wait container still counts towards the spec", p.Name)
		}
	}
}

// TestWebhookShapesWorkflowPods: with the webhook registered by URL, a fan-out workflow with no
// ECI settings of its own runs entirely on the ECI node: every pod the controller creates,
// including the executor-plugin agent pod of a second workflow, is shaped at creation.
func TestWebhookShapesWorkflowPods(t *testing.T) {
	c := cluster.Get(t)
	ns := c.Namespace(t)
	w := startWebhook(t, c, ns)
	w.Register(ns, true)
	pw := watchPods(t, c, ns)

	wf := fanOut(3, wfv1.Template{Container: shardContainer()})
	wf.Spec.NodeSelector, wf.Spec.Tolerations = nil, nil // the webhook places the pods
	wf = c.CreateWorkflow(t, ns, wf)
	if got := wf.Spec.Templates[1].RetryStrategy; got == nil || got.Limit == nil || got.Limit.String() != "2" {
		t.Errorf("stored workflow: template shard retryStrategy %v, want limit 2 from the profile", got)
	}
	done := c.WaitWorkflow(t, ns, wf.Name, 2*time.Minute)
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("workflow %s: %s (%s), want Succeeded", wf.Name, done.Status.Phase, done.Status.Message)
	}
	pods := c.WorkflowPods(t, ns, wf.Name)
	if len(pods) != 3 {
		t.Fatalf("%d pods, want 3", len(pods))
	}
	for i := range pods {
		assertShaped(t, &pods[i])
		if pods[i].Spec.NodeName != cluster.NodeName {
			t.Errorf("pod %s ran on %q, want the ECI node %s", pods[i].Name, pods[i].Spec.NodeName, cluster.NodeName)
		}
	}

	// The agent pod of an executor-plugin workflow.
	admin, err := client.New(c.Config, client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	applyPluginManifests(t, c, admin, ns)
	pluginWF := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "agent-"},
		Spec: wfv1.WorkflowSpec{Entrypoint: "prewarm", Templates: []wfv1.Template{{Name: "prewarm",
			Plugin: &wfv1.Plugin{Object: wfv1.Object{Value: []byte(`{"argo-eci":{"imageCache":{"name":"alpine","images":["alpine:3.20"]}}}`)}}}}},
	}
	pluginWF = c.CreateWorkflow(t, ns, pluginWF)
	var agent *corev1.Pod
	for deadline := time.Now().Add(time.Minute); agent == nil; time.Sleep(200 * time.Millisecond) {
		for _, p := range c.WorkflowPods(t, ns, pluginWF.Name) {
			if p.Labels[common.LabelKeyComponent] == "agent" {
				agent = &p
			}
		}
		if agent == nil && time.Now().After(deadline) {
			t.Fatal("the controller created no agent pod")
		}
	}
	assertShaped(t, agent)
	if err := c.Workflows.ArgoprojV1alpha1().Workflows(ns).Delete(context.Background(), pluginWF.Name, metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete workflow %s: %v", pluginWF.Name, err)
	}

	// Every pod seen at creation was already shaped: nothing was fixed up afterwards.
	created := pw.pods()
	if len(created) != 4 {
		t.Errorf("saw %d pods created, want 3 workflow pods and 1 agent pod", len(created))
	}
	for _, p := range created {
		assertShaped(t, p)
	}
	t.Logf("%d pods shaped at creation by %s", len(created), w.addr)
}

// TestWebhookOutage stops the webhook while a three-step workflow runs. failurePolicy is Fail, so
// the apiserver refuses the next step's pod; Argo's controller sees "connection refused" as a
// transient error and retries. No pod is created during the outage, none is ever created
// unshaped, and when the webhook is back the workflow completes.
func TestWebhookOutage(t *testing.T) { webhookOutage(t, cluster.Kwok) }

func webhookOutage(t *testing.T, node cluster.Node) {
	c := cluster.Get(t)
	ns := c.NamespaceOn(t, node)
	w := startWebhook(t, c, ns)
	w.Register(ns, false)
	pw := watchPods(t, c, ns)

	step := func(name string) wfv1.ParallelSteps {
		return wfv1.ParallelSteps{Steps: []wfv1.WorkflowStep{{Name: name, Template: "work"}}}
	}
	wf := c.CreateWorkflow(t, ns, &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "outage-"},
		Spec: wfv1.WorkflowSpec{Entrypoint: "main", Templates: []wfv1.Template{
			{Name: "main", Steps: []wfv1.ParallelSteps{step("one"), step("two"), step("three")}},
			{Name: "work", Metadata: wfv1.Metadata{Annotations: map[string]string{cluster.AnnotationRunDuration: "3s"}},
				Container: &corev1.Container{Image: "alpine:3.20", Command: []string{"sh", "-c", "sleep 3"}}},
		}},
	})

	// Stop the webhook as soon as the first pod exists.
	for deadline := time.Now().Add(time.Minute); len(pw.pods()) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first pod never appeared")
		}
	}
	w.Stop()
	stopped := time.Now()
	if _, err := http.Get("http://" + w.addr); err == nil || !isRefused(err) {
		t.Fatalf("webhook port still answers after Stop: %v", err)
	}

	// Outage: the first step finishes after 3 s (plus its start on the kubelet node); its
	// successor cannot be created.
	time.Sleep(10 * time.Second)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		if slices.ContainsFunc(c.WorkflowPods(t, ns, wf.Name), func(p corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded }) ||
			time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(3 * time.Second) // time for the controller to try the next step
	during := len(pw.pods())
	running, err := c.Workflows.ArgoprojV1alpha1().Workflows(ns).Get(context.Background(), wf.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if during != 1 || running.Status.Phase != wfv1.WorkflowRunning {
		t.Fatalf("during the outage: %d pods, workflow %s; want 1 pod and Running", during, running.Status.Phase)
	}
	firstDone := slices.ContainsFunc(c.WorkflowPods(t, ns, wf.Name), func(p corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if !firstDone {
		t.Fatal("the first step's pod did not finish during the outage: the outage proved nothing")
	}

	// The controller did try, and took the refusal as transient (it retries rather than failing
	// the node).
	refusals := controllerLogLines(t, c, ns, "Transient error", `failed calling webhook \"pods.argo-eci.io\"`)
	if refusals == 0 {
		t.Error("the workflow-controller log shows no refused pod creation during the outage")
	}

	w.Restart()
	restarted := time.Now()
	done := c.WaitWorkflow(t, ns, wf.Name, 3*time.Minute)
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("workflow %s after the outage: %s (%s), want Succeeded", wf.Name, done.Status.Phase, done.Status.Message)
	}
	created := pw.pods()
	if len(created) != 3 {
		t.Errorf("%d pods created, want 3", len(created))
	}
	for _, p := range created {
		assertShaped(t, p)
		if p.CreationTimestamp.After(stopped.Add(time.Second)) && p.CreationTimestamp.Time.Before(restarted.Add(-time.Second)) {
			t.Errorf("pod %s created at %s, while the webhook was down", p.Name, p.CreationTimestamp)
		}
	}
	t.Logf("outage of %s: %d pod(s) during it, %d refused creations retried by the controller as transient, workflow Succeeded %s after the webhook came back; every pod shaped at creation",
		restarted.Sub(stopped).Round(time.Second), during, refusals, done.Status.FinishedAt.Sub(restarted).Round(time.Second))
}

// controllerLogLines counts the workflow-controller log lines about namespace ns that contain
// every one of parts.
func controllerLogLines(t *testing.T, c *cluster.Cluster, ns string, parts ...string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(c.Root, ".cache", "state", "logs", "workflow-controller.log"))
	if err != nil {
		t.Fatalf("workflow-controller log: %v", err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, "namespace="+ns) {
			continue
		}
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

func isRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// BenchmarkPodCreateWebhookOverhead measures pod creation through the real kube-apiserver with
// and without the webhook in one run: each iteration creates one Argo-labelled pod in a namespace
// the webhook is registered for and the same pod in one it is not, alternating the order. It
// reports the median and p90 create latency of both and the median overhead (target ≤ 3 ms).
//
//	go test -tags e2e -run '^$' -bench PodCreateWebhookOverhead -benchtime 200x ./test/e2e
func BenchmarkPodCreateWebhookOverhead(b *testing.B) {
	c := cluster.Get(b)
	with, without := c.Namespace(b), c.Namespace(b)
	w := startWebhook(b, c, with)
	w.Register(with, false)

	pod := func(ns string, i int) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("latency-%d", i), Namespace: ns,
				Labels:      map[string]string{common.LabelKeyWorkflow: "latency"},
				Annotations: map[string]string{common.AnnotationKeyNodeID: fmt.Sprintf("latency-%d", i)}},
			Spec: corev1.PodSpec{
				// Bound up front: the benchmark measures admission and storage, not scheduling.
				NodeName:       "no-such-node",
				InitContainers: []corev1.Container{{Name: "init", Image: "quay.io/argoproj/argoexec:v4.0.7"}},
				Containers: []corev1.Container{
					{Name: "wait", Image: "quay.io/argoproj/argoexec:v4.0.7"},
					{Name: "main", Image: "alpine:3.20", Command: []string{"/var/run/argo/argoexec", "emissary", "--", "sh", "-c", "true"},
						Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("2Gi")}}},
				},
			},
		}
	}
	ctx := context.Background()
	create := func(ns string, i int) time.Duration {
		start := time.Now()
		out, err := c.Kube.CoreV1().Pods(ns).Create(ctx, pod(ns, i), metav1.CreateOptions{})
		d := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if shaped := out.Annotations[emissary.AnnotationShapedBy] != ""; shaped != (ns == with) {
			b.Fatalf("pod %s/%s shaped=%v", ns, out.Name, shaped)
		}
		return d
	}
	// Warm both paths (connections, the apiserver's webhook client).
	create(with, -1)
	create(without, -1)
	var dWith, dWithout []time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			dWith = append(dWith, create(with, i))
			dWithout = append(dWithout, create(without, i))
		} else {
			dWithout = append(dWithout, create(without, i))
			dWith = append(dWith, create(with, i))
		}
	}
	b.StopTimer()
	q := func(ds []time.Duration, p int) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[min(len(s)-1, len(s)*p/100)].Microseconds()) / 1000
	}
	b.ReportMetric(q(dWith, 50), "with-median-ms")
	b.ReportMetric(q(dWithout, 50), "without-median-ms")
	b.ReportMetric(q(dWith, 90), "with-p90-ms")
	b.ReportMetric(q(dWithout, 90), "without-p90-ms")
	b.ReportMetric(q(dWith, 50)-q(dWithout, 50), "overhead-median-ms")
	// The webhook's own share: its mean time per review, from its latency histogram.
	families, err := w.server.Metrics.Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "argo_eci_webhook_review_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			if h := m.GetHistogram(); h.GetSampleCount() > 0 {
				b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount())*1000, "webhook-mean-ms")
			}
		}
	}
	for _, ns := range []string{with, without} {
		_ = c.Kube.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}, metav1.ListOptions{})
	}
}
