//go:build e2e

package emissary_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/test/cluster"
)

// TestRenderedPodsAcceptedByAPIServer renders every Workflow of testdata/corpus and submits it to
// the local control plane: the real Argo controller builds each template's pod (container order,
// executor containers, artifact-plugin sidecars, podSpecPatch applied) and the real apiserver
// must accept every one of them. A podSpecPatch naming a container the controller does not
// create, or any other invalid field argo-eci wrote, leaves a Pod node without a pod.
func TestRenderedPodsAcceptedByAPIServer(t *testing.T) {
	c := cluster.Get(t)
	// Placement by nodeSelector, as the e2e suite's profile: kube-scheduler runs the pods on the kwok
	// node labelled like an ECI virtual node, kwok completes them, and the workflow moves on to
	// its next templates, so the controller builds every template's pod.
	profiles, err := emissary.ParseProfiles([]byte("default: e2e\nprofiles: {e2e: {placement: [label, nodeSelector], retry: {limit: 1}}}"))
	if err != nil {
		t.Fatal(err)
	}
	engine := emissary.NewEngine(profiles)
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*"))
	if len(files) < 40 {
		t.Fatalf("%d corpus files", len(files))
	}
	ns := c.Namespace(t)
	var submitted []string
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
			created := c.CreateWorkflow(t, ns, shaped.(*wfv1.Workflow))
			submitted = append(submitted, created.Name)
		}
	}
	for _, name := range submitted {
		waitPodsCreated(t, c, ns, name, 2*time.Minute)
	}
}

// waitPodsCreated follows the workflow until it completes (or the timeout) and fails for every
// Pod node that ended without a pod: the apiserver refused the pod the controller built.
func waitPodsCreated(t *testing.T, c *cluster.Cluster, ns, name string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		wf, err := c.Workflows.ArgoprojV1alpha1().Workflows(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get workflow %s: %v", name, err)
		}
		created := map[string]bool{}
		for _, p := range c.WorkflowPods(t, ns, name) {
			created[p.Annotations[common.AnnotationKeyNodeID]] = true
		}
		refused := 0
		for id, n := range wf.Status.Nodes {
			if n.Type == wfv1.NodeTypePod && !created[id] && n.Fulfilled() {
				t.Errorf("workflow %s node %s (template %s) ended without a pod: %s", name, n.DisplayName, n.TemplateName, n.Message)
				refused++
			}
		}
		if refused > 0 || wf.Status.Phase.Completed() || time.Now().After(deadline) {
			t.Logf("workflow %s: phase %q, %d pods created", name, wf.Status.Phase, len(created))
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}
