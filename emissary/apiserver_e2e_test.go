//go:build e2e

package emissary_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/test/cluster"
)

// e2eProfiles place by nodeSelector, as the e2e suite's profile: kube-scheduler runs the pods on
// the kwok node labelled like an ECI virtual node, kwok completes them, and the workflow moves on
// to its next templates, so the controller builds every template's pod.
const e2eProfiles = "default: e2e\nprofiles: {e2e: {placement: [label, nodeSelector], retry: {limit: 1}}}"

// TestRenderedPodsAcceptedByAPIServer renders every Workflow of testdata/corpus and submits it to
// the local control plane with argo-eci's pod webhook registered: the real Argo controller builds
// each template's pod (container order, executor containers, artifact-plugin sidecars,
// podSpecPatch applied), /mutate/pods shapes it, and the real apiserver must accept every one. A
// podSpecPatch naming a container the controller does not create, or any other invalid field
// argo-eci wrote, leaves a Pod node without a pod.
func TestRenderedPodsAcceptedByAPIServer(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*"))
	if len(files) < 40 {
		t.Fatalf("%d corpus files", len(files))
	}
	submitAndCheck(t, files)
}

// TestArgoExamplesPodsAccepted does the same with the Workflows Argo v4.0.7 ships in examples/ and
// test/e2e/testdata/ (the corpus render and lint are tested on): all of them, or the first
// ARGO_ECI_EXAMPLES_LIMIT by name.
func TestArgoExamplesPodsAccepted(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-json", "github.com/argoproj/argo-workflows/v4").Output()
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("Argo's module directory: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(m.Dir, "examples", "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(m.Dir, "test", "e2e", "testdata", "*.yaml"))
	files = append(files, more...)
	limit := 0
	if n, err := strconv.Atoi(os.Getenv("ARGO_ECI_EXAMPLES_LIMIT")); err == nil {
		limit = n
	}
	if limit > 0 && limit < len(files) {
		files = files[:limit]
	}
	submitAndCheck(t, files)
}

func submitAndCheck(t *testing.T, files []string) {
	c := cluster.Get(t)
	profiles, err := emissary.ParseProfiles([]byte(e2eProfiles))
	if err != nil {
		t.Fatal(err)
	}
	engine := emissary.NewEngine(profiles)
	ns := c.Namespace(t)
	hook, err := c.StartWebhook(ns, []byte(e2eProfiles), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hook.Stop() })
	unregister, err := c.RegisterWebhook(context.Background(), hook, ns, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unregister() })
	var submitted []string
	accounts := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := emissary.ParseStream(data)
		if err != nil {
			continue // bad input: render refuses it
		}
		for _, o := range s.Objects {
			wf, ok := o.Object.(*wfv1.Workflow)
			if !ok || wf.Spec.WorkflowTemplateRef != nil {
				continue
			}
			shaped, findings, err := engine.ShapeWorkflow(wf)
			if err != nil || emissary.CountErrors(findings) > 0 {
				continue // render exits non-zero: nothing is submitted
			}
			sw := shaped.(*wfv1.Workflow)
			sw.Namespace = ""
			createServiceAccounts(t, c, ns, sw, accounts)
			created, err := c.Workflows.ArgoprojV1alpha1().Workflows(ns).Create(context.Background(), sw, metav1.CreateOptions{})
			if err != nil {
				t.Logf("%s: not created (%v)", f, err) // Argo's CRD or admission refused the workflow itself
				continue
			}
			submitted = append(submitted, created.Name)
		}
	}
	if len(submitted) == 0 {
		t.Fatal("no workflow submitted")
	}
	waitPodsCreated(t, c, ns, submitted, 5*time.Minute)
}

// waitPodsCreated follows the workflows together until all complete (or the timeout) and fails
// for every Pod node that ended in Error without a pod ever seen: the apiserver refused the pod the
// controller built.
// Workflows still running at the timeout, or when no workflow has gained a node or a pod for
// stallAfter (daemons, suspends and waits of the examples), are not failures: only refused pods are.
func waitPodsCreated(t *testing.T, c *cluster.Cluster, ns string, names []string, timeout time.Duration) {
	t.Helper()
	const stallAfter = 30 * time.Second
	deadline := time.Now().Add(timeout)
	progress, lastProgress := -1, time.Now()
	open := map[string]bool{}
	seen := map[string]bool{} // node IDs whose pod was seen at some poll (podGC may delete it later)
	for _, n := range names {
		open[n] = true
	}
	for len(open) > 0 && time.Now().Before(deadline) && time.Since(lastProgress) < stallAfter {
		nodes := 0
		for name := range open {
			wf, err := c.Workflows.ArgoprojV1alpha1().Workflows(ns).Get(context.Background(), name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) { // ttlStrategy deleted it once it completed
				delete(open, name)
				continue
			}
			if err != nil {
				t.Fatalf("get workflow %s: %v", name, err)
			}
			for _, p := range c.WorkflowPods(t, ns, name) {
				seen[p.Annotations[common.AnnotationKeyNodeID]] = true
			}
			nodes += len(wf.Status.Nodes)
			for id, n := range wf.Status.Nodes {
				// A pod the apiserver refuses leaves its node in Error without a pod, with the
				// apiserver's answer as message; other errors before the pod (the controller's own
				// checks) are not about the pod argo-eci shaped.
				if n.Type == wfv1.NodeTypePod && !seen[id] && n.Phase == wfv1.NodeError {
					if refusedPod.MatchString(n.Message) {
						t.Errorf("workflow %s node %s (template %s): the apiserver refused its pod: %s", name, n.DisplayName, n.TemplateName, n.Message)
					} else {
						t.Logf("workflow %s node %s (template %s) ended without a pod, before the controller created it: %s", name, n.DisplayName, n.TemplateName, n.Message)
					}
					delete(open, name)
				}
			}
			if wf.Status.Phase.Completed() {
				delete(open, name)
			}
		}
		if n := nodes + len(seen) + len(names) - len(open); n != progress {
			progress, lastProgress = n, time.Now()
		}
		time.Sleep(time.Second)
	}
	t.Logf("%d workflows submitted, %d still running at the end", len(names), len(open))
}

// refusedPod matches the apiserver's refusal of a pod create, as the controller records it.
var refusedPod = regexp.MustCompile(`pods "[^"]*" is (invalid|forbidden)`)

// createServiceAccounts creates the ServiceAccounts wf runs as (its own and its templates'), once
// each: Argo's examples name accounts such as argo-server that a fresh namespace lacks, and the
// apiserver refuses pods of a missing account whatever argo-eci did.
func createServiceAccounts(t *testing.T, c *cluster.Cluster, ns string, wf *wfv1.Workflow, done map[string]bool) {
	t.Helper()
	names := []string{wf.Spec.ServiceAccountName}
	for _, tmpl := range wf.Spec.Templates {
		names = append(names, tmpl.ServiceAccountName)
	}
	for _, n := range names {
		if n == "" || done[n] {
			continue
		}
		done[n] = true
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: n}}
		if _, err := c.Kube.CoreV1().ServiceAccounts(ns).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}
