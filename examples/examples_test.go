// Package examples holds the runnable workflows of the README; this test keeps every one of
// them free of argo-eci lint errors under the example profiles.
package examples

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/lint"
)

func TestExamplesLintClean(t *testing.T) {
	raw, err := os.ReadFile("profiles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := emissary.ParseProfiles(raw)
	if err != nil {
		t.Fatalf("profiles.yaml: %v", err)
	}
	engine := emissary.NewEngine(profiles)
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if f == "profiles.yaml" {
			continue
		}
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := emissary.DecodeObject(data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			findings, err := engine.Lint(obj)
			if err != nil {
				t.Fatalf("lint: %v", err)
			}
			for _, f := range findings {
				t.Logf("%s %s %s %s: %s", f.Severity, f.Code, f.Template, f.Path, f.Message)
			}
			if n := emissary.CountErrors(findings); n > 0 {
				t.Errorf("%d lint errors", n)
			}
			// Rendering must succeed too, and both the file and what `argo-eci render | argo submit -`
			// sends must pass Argo's own validation (the checks `argo submit` and the controller run).
			rendered, _, err := engine.ShapeWorkflow(obj)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			for name, o := range map[string]runtime.Object{"file": obj, "rendered": rendered} {
				if f := lint.ArgoValidation(o); f != nil {
					t.Errorf("%s: %s %s", name, f.Code, f.Message)
				}
			}
		})
		checked++
	}
	if checked < 5 {
		t.Fatalf("checked %d examples, want the 5 example workflows", checked)
	}
}
