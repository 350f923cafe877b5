package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/lint"
)

// argoModuleDir finds Argo's module in the module cache the way a user would.
func argoModuleDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-json", "github.com/argoproj/argo-workflows/v4").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/argoproj/argo-workflows/v4: %v", err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("no module directory for Argo (run go mod download): %v", err)
	}
	return m.Dir
}

// corpusFiles lists the workflow files Argo ships in examples/ and test/e2e/testdata/.
func corpusFiles(t *testing.T, dir string) []string {
	var files []string
	for _, sub := range []string{"examples", filepath.Join("test", "e2e", "testdata")} {
		err := filepath.Walk(filepath.Join(dir, sub), func(p string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if !info.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".json")) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(files)
	return files
}

// renderOnce parses and renders a stream, returning the output and the workflow objects seen.
func renderOnce(engine *emissary.Engine, data []byte) ([]byte, *emissary.Stream, error) {
	s, err := emissary.ParseStream(data)
	if err != nil {
		return nil, nil, err
	}
	if _, err := renderStream(engine, s, "corpus", emissary.DefaultMaxObjectBytes); err != nil {
		return nil, nil, err
	}
	out, err := s.Encode()
	return out, s, err
}

// expectedSkips are the files of Argo's corpus that render refuses or has nothing to do with, each
// with the reason.
var expectedSkips = map[string]string{
	"test/e2e/testdata/malformed/malformed-clusterworkflowtemplate.yaml":           "Argo rejects it: arguments.parameters is not a list",
	"test/e2e/testdata/malformed/malformed-cronworkflow.yaml":                      "Argo rejects it: arguments.parameters is not a list",
	"test/e2e/testdata/malformed/malformed-workflow.yaml":                          "Argo rejects it: arguments.parameters is not a list",
	"test/e2e/testdata/malformed/malformed-workflowtemplate.yaml":                  "Argo rejects it: arguments.parameters is not a list",
	"examples/k8s-patch-json-workflow.yaml":                                        "metadata.annotations written twice: YAML forbids duplicate keys (the file is marked no-test)",
	"examples/grafana-dashboard.json":                                              "a Grafana dashboard, not a Kubernetes object",
	"examples/configmaps/simple-parameters-configmap.yaml":                         "a ConfigMap only: nothing to shape",
	"examples/testvolume.yaml":                                                     "a PersistentVolumeClaim only: nothing to shape",
	"examples/workflow-count-resourcequota.yaml":                                   "a ResourceQuota only: nothing to shape",
	"examples/workflow-event-binding/event-consumer-workfloweventbinding.yaml":     "a WorkflowEventBinding: no pods",
	"examples/workflow-event-binding/github-path-filter-workfloweventbinding.yaml": "a WorkflowEventBinding: no pods",
	"test/e2e/testdata/argo-server-test-role.yaml":                                 "RBAC only: nothing to shape",
	"test/e2e/testdata/fail-first-pass-second.yaml":                                "a test payload, not a Kubernetes object",
	"test/e2e/testdata/github-webhook-payload.json":                                "a GitHub webhook payload, not a Kubernetes object",
}

// sameObjects reports whether two parses hold the same objects (typed JSON and unknown fields).
func sameObjects(t *testing.T, a, b *emissary.Stream) bool {
	if len(a.Objects) != len(b.Objects) {
		return false
	}
	for i := range a.Objects {
		x, _ := json.Marshal(a.Objects[i].Object)
		y, _ := json.Marshal(b.Objects[i].Object)
		if !bytes.Equal(x, y) || strings.Join(a.Objects[i].Unknown, ",") != strings.Join(b.Objects[i].Unknown, ",") {
			t.Logf("object %d differs:\n%s\n%s", i, x, y)
			return false
		}
	}
	return true
}

// Argo's own examples: every file Argo accepts renders, rendering twice changes nothing, and
// Argo's validation finds no new error after render.
func TestArgoExamplesCorpus(t *testing.T) {
	dir := argoModuleDir(t)
	files := corpusFiles(t, dir)
	if len(files) < 300 {
		t.Fatalf("only %d files under %s: the corpus is incomplete", len(files), dir)
	}
	engine := emissary.NewEngine(emissary.DefaultProfiles())
	var rendered, argoObjects int
	skipped := map[string][]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, f)
		out, s, err := renderOnce(engine, data)
		if err != nil {
			skipped["render error: "+err.Error()] = append(skipped["render error: "+err.Error()], rel)
			continue
		}
		hasArgo := false
		for _, o := range s.Objects {
			hasArgo = hasArgo || (o.Object != nil && o.Kind != "Pod")
		}
		if !hasArgo {
			skipped["no Argo workflow object"] = append(skipped["no Argo workflow object"], rel)
			continue
		}
		rendered++
		again, _, err := renderOnce(engine, out)
		s1, err1 := emissary.ParseStream(out)
		s2, err2 := emissary.ParseStream(again)
		if err != nil || err1 != nil || err2 != nil || !sameObjects(t, s1, s2) {
			t.Errorf("%s: rendering twice changed the objects (%v)", rel, err)
			continue
		}
		orig, _ := emissary.ParseStream(data)
		for i, o := range orig.Objects {
			if o.Object == nil || o.Kind == "Pod" {
				continue
			}
			argoObjects++
			checkEveryPodTemplateDecided(t, engine, o, rel)
			before := lint.ArgoValidation(o.Object)
			after := lint.ArgoValidation(s2.Objects[i].Object)
			if after != nil && after.Code == lint.CodeArgoRejects && (before == nil || before.Code != lint.CodeArgoRejects) {
				t.Errorf("%s %s: Argo rejects it only after render: %s", rel, o.Where, after.Message)
			}
		}
	}
	var reasons []string
	nskipped := 0
	for r, fs := range skipped {
		nskipped += len(fs)
		for _, f := range fs {
			if expectedSkips[f] == "" {
				t.Errorf("%s: not rendered (%s) and not an expected exception", f, r)
			}
		}
		reasons = append(reasons, fmt.Sprintf("%d %s (e.g. %s)", len(fs), r, fs[0]))
	}
	sort.Strings(reasons)
	fmt.Printf("argo-examples corpus: %d files, %d rendered (%d Argo objects), %d skipped: %s\n",
		len(files), rendered, argoObjects, nskipped, strings.Join(reasons, "; "))
}

// checkEveryPodTemplateDecided: every template that makes a pod got eci-use-specs, or a finding
// that names it (or the whole workflow) and says why not.
func checkEveryPodTemplateDecided(t *testing.T, engine *emissary.Engine, o *emissary.StreamObject, rel string) {
	t.Helper()
	shaped, findings, err := engine.ShapeWorkflow(o.Object)
	if err != nil {
		return
	}
	explained := map[string]bool{}
	for _, f := range findings {
		explained[f.Template] = true
	}
	spec := emissary.WorkflowSpecOf(shaped)
	for i := range spec.Templates {
		tmpl := &spec.Templates[i]
		makesPod := tmpl.Container != nil || tmpl.Script != nil || tmpl.ContainerSet != nil || tmpl.Resource != nil || tmpl.Data != nil
		ann, _ := emissary.TemplatePodMetadata(spec, tmpl) // what its pods carry
		if !makesPod || ann[eci.AnnotationUseSpecs] != "" || explained[tmpl.Name] || explained[""] {
			continue
		}
		t.Errorf("%s %s: template %s makes a pod but got neither a spec nor a finding", rel, o.Where, tmpl.Name)
	}
}
