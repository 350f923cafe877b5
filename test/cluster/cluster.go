// Package cluster gives end-to-end tests the local control plane of hack/cluster: a real
// kube-apiserver, kube-controller-manager, kube-scheduler and Argo's workflow-controller on
// 127.0.0.1, with two ECI-like virtual nodes: kwok's simulated one (NodeName) and a real kubelet
// node (RealNodeName) where pods run in containerd. A test picks the node per namespace
// (NamespaceOn); Namespace gives the kwok node.
//
// Get starts the control plane with hack/cluster/build.sh and hack/cluster/up.sh when it is not
// running and never stops it: `make e2e` (or hack/cluster/down.sh) does. Each test works in its own
// namespace from Namespace, which is deleted when the test ends and, when the test failed, first
// reported: the tail of the controller, apiserver and kwok logs and the namespace's pods and
// workflows.
//
// On the kwok node, kwok plays the kubelet: a scheduled pod becomes Running, and a Running pod owned by a Workflow
// becomes Succeeded one second later with every container terminated with exit code 0. Pod
// annotations change that: test.argo-eci.io/run-duration (a Go duration) sets how long it runs and
// test.argo-eci.io/exit-code makes its main container exit with that code and the pod fail. The
// executor-plugin agent pod stays Running. No container runs, so nothing writes Argo's
// WorkflowTaskResults: steps whose templates declare outputs never finish unless the test runs
// TaskResults, which plays the wait container.
package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	// NodeName is the fake ECI virtual node kwok keeps Ready.
	NodeName = "virtual-kubelet-cn-hangzhou-k"
	// AnnotationRunDuration on a workflow pod sets how long kwok keeps it Running (a Go duration).
	AnnotationRunDuration = "test.argo-eci.io/run-duration"
	// AnnotationExitCode on a workflow pod makes kwok fail it: main exits with this code.
	AnnotationExitCode = "test.argo-eci.io/exit-code"

	// LabelNamespace marks the namespaces Namespace creates.
	LabelNamespace = "test.argo-eci.io/e2e"

	clientQPS   = 200
	clientBurst = 400
)

// Cluster is a running local control plane and clients for it.
type Cluster struct {
	Root       string // repo root
	Kubeconfig string // admin kubeconfig, .cache/state/kubeconfig
	Config     *rest.Config
	Kube       kubernetes.Interface
	Dynamic    dynamic.Interface
	Workflows  versioned.Interface
}

var (
	shared   *Cluster
	sharedMu sync.Mutex
)

// Get returns the running local control plane, starting it with hack/cluster/up.sh when absent
// (it does not stop it: `make e2e` / hack/cluster/down.sh does). Uses .cache/state/kubeconfig.
// The first call in a test binary runs build.sh (a no-op when the binaries are current) and up.sh
// (a no-op when the cluster is up); later calls reuse the clients while up.sh's ready marker
// (.cache/state/ready, removed by down.sh) stays, and run up.sh again when it is gone.
func Get(t testing.TB) *Cluster {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		if _, err := os.Stat(filepath.Join(shared.Root, ".cache", "state", "ready")); err == nil {
			return shared
		}
		t.Log("the local control plane was stopped; starting it again")
		shared = nil
	}
	c, err := start(t)
	if err != nil {
		t.Fatalf("local control plane: %v", err)
	}
	shared = c
	return shared
}

func start(t testing.TB) (*Cluster, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	for _, script := range []string{"build.sh", "up.sh"} {
		begin := time.Now()
		out, err := runScript(root, script)
		if err != nil {
			return nil, fmt.Errorf("hack/cluster/%s: %w\n%s", script, err, out)
		}
		t.Logf("hack/cluster/%s finished in %s", script, time.Since(begin).Round(100*time.Millisecond))
	}
	return Connect(root)
}

// runScript runs hack/cluster/NAME and returns its combined output. The processes up.sh starts
// write to their own logs, so the pipe closes when the script exits.
func runScript(root, name string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(root, "hack", "cluster", name))
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.Bytes(), err
}

// Connect builds clients for the control plane whose state lives under root/.cache/state, without
// starting anything.
func Connect(root string) (*Cluster, error) {
	kubeconfig := filepath.Join(root, ".cache", "state", "kubeconfig")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS = clientQPS
	cfg.Burst = clientBurst
	cfg.UserAgent = "argo-eci-e2e"
	c := &Cluster{Root: root, Kubeconfig: kubeconfig, Config: cfg}
	if c.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	if c.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	if c.Workflows, err = versioned.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("argo client: %w", err)
	}
	return c, nil
}

// repoRoot finds the directory of the argo-eci go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && isRootModule(data) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module github.com/argo-eci/argo-eci above the working directory")
		}
		dir = parent
	}
}

func isRootModule(gomod []byte) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return f[1] == "github.com/argo-eci/argo-eci"
		}
	}
	return false
}

// Namespace is NamespaceOn(t, Kwok).
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	return c.NamespaceOn(t, Kwok)
}

// NamespaceOn creates a fresh namespace whose pods all go to node (the apiserver's PodNodeSelector
// adds LabelNode=node to each pod's nodeSelector) and deletes it on cleanup; if the test failed,
// it first prints the tail of the workflow-controller, kube-apiserver and kwok logs and the
// namespace's pods/workflows. It returns once the namespace's default ServiceAccount exists, so
// pods can be created in it at once.
func (c *Cluster) NamespaceOn(t testing.TB, node Node) string {
	t.Helper()
	ctx := context.Background()
	name := namespaceName(t.Name(), rand.String(5))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelNamespace: "true"},
		Annotations: map[string]string{annotationNodeSelector: LabelNode + "=" + string(node)}}}
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.Report(t, name)
		}
		err := c.Kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	if node == Kubelet {
		if err := c.grantExecutor(ctx, name); err != nil {
			t.Fatalf("namespace %s: %v", name, err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := c.Kube.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return name
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			t.Fatalf("namespace %s: default ServiceAccount: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// namespaceName turns a test name into a DNS label: lower case, dashes, at most 63 characters.
func namespaceName(testName, suffix string) string {
	var b strings.Builder
	b.WriteString("e2e-")
	dash := true
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	base := strings.TrimRight(b.String(), "-")
	if max := 63 - len(suffix) - 1; len(base) > max {
		base = strings.TrimRight(base[:max], "-")
	}
	return base + "-" + suffix
}

// WaitWorkflow waits until the workflow reaches a completed phase (or the timeout) and returns it.
// On timeout the test fails with the workflow's phase and its nodes.
func (c *Cluster) WaitWorkflow(t testing.TB, ns, name string, timeout time.Duration) *wfv1.Workflow {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var last *wfv1.Workflow
	for {
		wf, err := c.Workflows.ArgoprojV1alpha1().Workflows(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err != nil && !apierrors.IsNotFound(err):
			t.Fatalf("get workflow %s/%s: %v", ns, name, err)
		case err == nil:
			last = wf
			if wf.Status.Phase.Completed() {
				return wf
			}
		}
		if time.Now().After(deadline) {
			if last == nil {
				t.Fatalf("workflow %s/%s: not found after %s", ns, name, timeout)
			}
			t.Fatalf("workflow %s/%s: still %q after %s\n%s", ns, name, last.Status.Phase, timeout, describeWorkflow(last))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// CreateWorkflow creates wf in namespace ns and returns it as stored.
func (c *Cluster) CreateWorkflow(t testing.TB, ns string, wf *wfv1.Workflow) *wfv1.Workflow {
	t.Helper()
	created, err := c.Workflows.ArgoprojV1alpha1().Workflows(ns).Create(context.Background(), wf, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create workflow in %s: %v", ns, err)
	}
	return created
}

// WorkflowPods lists the pods the controller created for workflow name (agent pod included).
func (c *Cluster) WorkflowPods(t testing.TB, ns, name string) []corev1.Pod {
	t.Helper()
	pods, err := c.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: common.LabelKeyWorkflow + "=" + name,
	})
	if err != nil {
		t.Fatalf("list pods of workflow %s/%s: %v", ns, name, err)
	}
	return pods.Items
}

// Kubectl runs the cluster's kubectl with its admin kubeconfig and returns standard output.
func (c *Cluster) Kubectl(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.Root, ".cache", "bin", "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
