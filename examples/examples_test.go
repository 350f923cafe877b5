// Package examples holds the runnable workflows that mirror the seeds; this test keeps every one of
// them free of argo-eci lint errors under the example profiles.
package examples

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/workflow/validate"

	"github.com/argo-eci/argo-eci/emissary"
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
			for name, o := range map[string]any{"file": obj, "rendered": rendered} {
				wf, ok := o.(*wfv1.Workflow)
				if !ok {
					t.Fatalf("%s: %T, want a Workflow", name, o)
				}
				ctx := logging.WithLogger(context.Background(), logging.NewSlogLoggerCustom(logging.Warn, logging.Text, io.Discard))
				if err := validate.ValidateWorkflow(ctx, nil, nil, wf, nil, validate.ValidateOpts{Submit: true}); err != nil {
					t.Errorf("%s: Argo's validation: %v", name, err)
				}
			}
		})
		checked++
	}
	if checked < 5 {
		t.Fatalf("checked %d examples, want the 5 seed workflows", checked)
	}
}
