package emissary

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argo-eci/argo-eci/eci"
)

// checkPodInvariants checks, for the pod the controller builds from template name of a rendered
// workflow: every container has an image (no podSpecPatch named a container the controller does
// not create), the first spec of eci-use-specs covers the pod's billed sum, and the pod webhook
// changes nothing.
func checkPodInvariants(t *testing.T, e *Engine, wf *wfv1.Workflow, name, where string) {
	t.Helper()
	tmpl := tmplByName(&wf.Spec, name)
	if tmpl == nil || tmpl.Name == "" || (tmpl.Container == nil && tmpl.Script == nil && tmpl.ContainerSet == nil) {
		return
	}
	if strings.Contains(tmpl.PodSpecPatch+wf.Spec.PodSpecPatch, "{{") {
		return // the controller substitutes parameters first; the webhook decides on that pod
	}
	for _, p := range []string{tmpl.PodSpecPatch, wf.Spec.PodSpecPatch} {
		if _, err := readPatch(p, "podSpecPatch"); err != nil {
			return // the controller refuses to build this pod ("Error applying PodSpecPatch")
		}
	}
	pod := controllerPod(t, wf, name)
	assertValidContainers(t, pod)
	if v, ok := pod.Annotations[eci.AnnotationUseSpecs]; ok {
		list, err := eci.ParseSpecList(v)
		if err != nil {
			t.Errorf("%s %s: eci-use-specs %q: %v", where, name, v, err)
		} else if n := computeNeed(pod.Spec.InitContainers, pod.Spec.Containers); n.declared && !list[0].IsInstanceType() && !list[0].Covers(n.milliCPU, n.memMiB) {
			t.Errorf("%s %s: first spec %s does not cover the billed %s", where, name, list[0], n.describe())
		}
	}
	res, err := e.ShapePod(pod, wf)
	if err != nil {
		t.Errorf("%s %s: ShapePod: %v", where, name, err)
		return
	}
	if !reflect.DeepEqual(res.Pod, pod) && res.Outcome == OutcomeShaped {
		t.Errorf("%s %s: the pod webhook changed a rendered workflow's pod:\nbefore %v\nafter  %v", where, name, pod.Annotations, res.Pod.Annotations)
	}
}

func checkWorkflowInvariants(t *testing.T, e *Engine, obj runtime.Object, where string) {
	t.Helper()
	shaped, findings, err := e.ShapeWorkflow(obj)
	if err != nil || CountErrors(findings) > 0 {
		return // bad input, or error findings: render exits non-zero and nothing is submitted
	}
	doc, err := docOf(shaped)
	if err != nil {
		t.Fatal(err)
	}
	wf := &wfv1.Workflow{ObjectMeta: *doc.meta, Spec: *doc.spec}
	for _, tmpl := range wf.Spec.Templates {
		checkPodInvariants(t, e, wf, tmpl.Name, where)
	}
}

// The invariants over every workflow Argo v4.0.7 ships in examples/ and test/e2e/testdata/.
func TestInvariantsArgoExamples(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-json", "github.com/argoproj/argo-workflows/v4").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/argoproj/argo-workflows/v4: %v", err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("Argo's module is not in the module cache: %v", err)
	}
	var files []string
	for _, sub := range []string{"examples", "test/e2e/testdata"} {
		matches, _ := filepath.Glob(filepath.Join(m.Dir, sub, "*.yaml"))
		more, _ := filepath.Glob(filepath.Join(m.Dir, sub, "*", "*.yaml"))
		files = append(files, append(matches, more...)...)
	}
	sort.Strings(files)
	if len(files) < 300 {
		t.Fatalf("only %d files in Argo's corpus", len(files))
	}
	e := NewEngine(DefaultProfiles())
	objects := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseStream(data)
		if err != nil {
			continue // files Argo rejects; the render corpus test lists them
		}
		for _, o := range s.Objects {
			if o.Object == nil || o.Kind == "Pod" {
				continue
			}
			objects++
			checkWorkflowInvariants(t, e, o.Object, strings.TrimPrefix(f, m.Dir+"/"))
		}
	}
	if objects < 300 {
		t.Errorf("only %d Argo objects checked", objects)
	}
}

// The invariants over this package's own workflow corpora (testdata/workflows, testdata/corpus).
func TestInvariantsTestdata(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "workflows", "*.yaml"))
	corpus, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*"))
	if len(corpus) < 40 {
		t.Fatalf("testdata/corpus holds %d workflows, want at least 40", len(corpus))
	}
	files = append(files, corpus...)
	e := NewEngine(DefaultProfiles())
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseStream(data)
		if err != nil {
			continue
		}
		for _, o := range s.Objects {
			if o.Object != nil && o.Kind != "Pod" {
				checkWorkflowInvariants(t, e, o.Object, f)
			}
		}
	}
}
