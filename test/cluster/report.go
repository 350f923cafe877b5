package cluster

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// reportedLogs are the component logs Report shows, with how many trailing lines of each.
var reportedLogs = []struct {
	component string
	lines     int
}{
	{"workflow-controller", 40},
	{"kube-apiserver", 15},
	{"kwok", 15},
	{"kubelet", 15},
}

// Report logs what a failed test needs to see: the tail of the workflow-controller,
// kube-apiserver and kwok logs, the controller's lines about namespace ns, and ns's pods and
// workflows. Namespace calls it on cleanup when the test failed.
func (c *Cluster) Report(t testing.TB, ns string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "==== local control plane report for namespace %s ====\n", ns)
	for _, l := range reportedLogs {
		path := filepath.Join(c.Root, ".cache", "state", "logs", l.component+".log")
		fmt.Fprintf(&b, "---- last %d lines of %s ----\n", l.lines, path)
		lines, err := tailLines(path, l.lines, "")
		if err != nil {
			fmt.Fprintf(&b, "(%v)\n", err)
		}
		b.WriteString(strings.Join(lines, "\n"))
		b.WriteString("\n")
	}
	path := filepath.Join(c.Root, ".cache", "state", "logs", "workflow-controller.log")
	if lines, err := tailLines(path, 60, "namespace="+ns); err == nil && len(lines) > 0 {
		fmt.Fprintf(&b, "---- workflow-controller lines about namespace %s (last %d) ----\n", ns, len(lines))
		b.WriteString(strings.Join(lines, "\n"))
		b.WriteString("\n")
	}
	ctx := context.Background()
	b.WriteString("---- pods ----\n")
	if pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err != nil {
		fmt.Fprintf(&b, "(list pods: %v)\n", err)
	} else {
		for i := range pods.Items {
			b.WriteString(describePod(&pods.Items[i]))
			if pods.Items[i].Spec.NodeName == RealNodeName {
				b.WriteString(c.containerLogs(ctx, &pods.Items[i], 15))
			}
		}
	}
	b.WriteString("---- workflows ----\n")
	if wfs, err := c.Workflows.ArgoprojV1alpha1().Workflows(ns).List(ctx, metav1.ListOptions{}); err != nil {
		fmt.Fprintf(&b, "(list workflows: %v)\n", err)
	} else {
		for i := range wfs.Items {
			b.WriteString(describeWorkflow(&wfs.Items[i]))
		}
	}
	t.Log(b.String())
}

// containerLogs returns the last lines of every container of p that has started (kubelet node).
func (c *Cluster) containerLogs(ctx context.Context, p *corev1.Pod, lines int64) string {
	var b strings.Builder
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, s := range statuses {
		if s.State.Waiting != nil && s.LastTerminationState.Terminated == nil {
			continue
		}
		raw, err := c.Kube.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: s.Name, TailLines: &lines}).DoRaw(ctx)
		if err != nil {
			fmt.Fprintf(&b, "  ---- %s log: %v\n", s.Name, err)
			continue
		}
		fmt.Fprintf(&b, "  ---- %s log (last %d lines) ----\n", s.Name, lines)
		for _, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
			fmt.Fprintf(&b, "  | %s\n", l)
		}
	}
	return b.String()
}

// tailLines returns the last n lines of the file at path, keeping only lines that contain filter
// when filter is not empty.
func tailLines(path string, n int, filter string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ring := make([]string, 0, n)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if filter != "" && !strings.Contains(line, filter) {
			continue
		}
		if len(ring) == n {
			ring = append(ring[:0], ring[1:]...)
		}
		ring = append(ring, line)
	}
	return ring, sc.Err()
}

func describePod(p *corev1.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pod %s: phase=%s node=%q scheduler=%s", p.Name, p.Status.Phase, p.Spec.NodeName, p.Spec.SchedulerName)
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status != corev1.ConditionTrue {
			fmt.Fprintf(&b, " unscheduled=%q", cond.Message)
		}
	}
	b.WriteString("\n")
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, s := range statuses {
		switch {
		case s.State.Terminated != nil:
			fmt.Fprintf(&b, "  %s: terminated exit=%d %s\n", s.Name, s.State.Terminated.ExitCode, s.State.Terminated.Reason)
		case s.State.Running != nil:
			fmt.Fprintf(&b, "  %s: running\n", s.Name)
		case s.State.Waiting != nil:
			fmt.Fprintf(&b, "  %s: waiting %s %s\n", s.Name, s.State.Waiting.Reason, s.State.Waiting.Message)
		}
	}
	return b.String()
}

func describeWorkflow(wf *wfv1.Workflow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "workflow %s: phase=%q message=%q\n", wf.Name, wf.Status.Phase, wf.Status.Message)
	ids := make([]string, 0, len(wf.Status.Nodes))
	for id := range wf.Status.Nodes {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return wf.Status.Nodes[ids[i]].Name < wf.Status.Nodes[ids[j]].Name })
	for _, id := range ids {
		n := wf.Status.Nodes[id]
		fmt.Fprintf(&b, "  node %s (%s %s): %s", n.Name, n.Type, id, n.Phase)
		if n.Message != "" {
			fmt.Fprintf(&b, " %q", n.Message)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// WaitControllerLog waits until a line of the workflow-controller's log contains every one of
// substrings, for state the controller keeps to itself (such as its executor-plugin registry).
func (c *Cluster) WaitControllerLog(t testing.TB, timeout time.Duration, substrings ...string) {
	t.Helper()
	path := filepath.Join(c.Root, ".cache", "state", "logs", "workflow-controller.log")
	deadline := time.Now().Add(timeout)
	for {
		found, err := logHasLine(path, substrings)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no workflow-controller log line with %q within %s", substrings, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitExecutorPlugin waits until the workflow-controller has registered the executor plugin
// ConfigMap name (e.g. argo-eci-executor-plugin) of namespace ns; agent pods created before that
// lack the plugin's sidecar.
func (c *Cluster) WaitExecutorPlugin(t testing.TB, ns, name string) {
	t.Helper()
	c.WaitControllerLog(t, 30*time.Second, `msg="Executor plugin added"`, " namespace="+ns+" ", " name="+name+" ")
}

func logHasLine(path string, substrings []string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text() + " " // so "key=value " also matches a line's last field
		if containsAll(line, substrings) {
			return true, nil
		}
	}
	return false, sc.Err()
}

func containsAll(line string, substrings []string) bool {
	for _, s := range substrings {
		if !strings.Contains(line, s) {
			return false
		}
	}
	return true
}
