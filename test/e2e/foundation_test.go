//go:build e2e

package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

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
