package emissary

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/badinput"
)

// addSeeds adds every file of testdata/fuzz/<dir> (hand-written seed inputs) to the corpus. Go's
// own corpus files for failing inputs live in testdata/fuzz/<FuzzName>.
func addSeeds(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", dir, "*"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzParseProfiles: any input either parses into profiles an Engine can use, or fails with a
// *badinput.Error; never a panic.
func FuzzParseProfiles(f *testing.F) {
	f.Add([]byte(fullProfiles))
	f.Add([]byte(DefaultProfilesYAML))
	f.Add([]byte("profiles: {a: {fallbackSpecs: 9}}"))
	addSeeds(f, "profiles")
	pod := argoPod("wf", containerTmpl("work", res("1", "2Gi", "", "")))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfiles(data)
		if err != nil {
			var fe *badinput.Error
			if !errors.As(err, &fe) || fe.Field() == "" {
				t.Fatalf("error %v is not a *badinput.Error with a path", err)
			}
			return
		}
		if p.Default != "" && p.Profiles[p.Default] == nil {
			t.Fatalf("default %q undefined", p.Default)
		}
		res, err := NewEngine(p).ShapePod(pod, nil)
		if err != nil {
			t.Fatalf("valid profiles, ShapePod: %v", err)
		}
		if res.Outcome == OutcomeShaped && res.Pod.Annotations[AnnotationShapedBy] == "" {
			t.Fatal("shaped without shaped-by")
		}
	})
}

// FuzzDecodeAndRender: any input either parses as a stream (render's reader) and renders, or fails
// with a *badinput.Error; never a panic. Rendered output parses again, rendering it again changes no
// object, and every pod the controller builds from a rendered template keeps the invariants
// (images in every container, first spec covering the billed sum, nothing for the webhook to change).
func FuzzDecodeAndRender(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "workflows", "*.yaml"))
	corpus, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*"))
	for _, name := range append(files, corpus...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	addSeeds(f, "workflows")
	e := NewEngine(DefaultProfiles())
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseStream(data)
		if err != nil {
			var fe *badinput.Error
			if !errors.As(err, &fe) {
				t.Fatalf("parse error %v is not a *badinput.Error", err)
			}
			return
		}
		for _, o := range s.Objects {
			if o.Object == nil {
				continue
			}
			if _, ok := o.Object.(*corev1.Pod); ok {
				if _, err := e.Lint(o.Object); err != nil {
					var fe *badinput.Error
					if !errors.As(err, &fe) {
						t.Fatalf("lint error %v is not a *badinput.Error", err)
					}
				}
				continue
			}
			out, _, err := e.ShapeWorkflow(o.Object)
			if err != nil {
				var fe *badinput.Error
				if !errors.As(err, &fe) {
					t.Fatalf("render error %v is not a *badinput.Error", err)
				}
				return
			}
			if err := s.Update(o, out); err != nil {
				t.Fatalf("update: %v", err)
			}
			checkWorkflowInvariants(t, e, o.Object, "fuzz")
		}
		enc, err := s.Encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		back, err := ParseStream(enc)
		if err != nil {
			t.Fatalf("rendered output does not parse: %v\n%s", err, enc)
		}
		for i, o := range back.Objects {
			if o.Object == nil || o.Kind == "Pod" {
				continue
			}
			again, _, err := e.ShapeWorkflow(o.Object)
			if err != nil {
				t.Fatalf("second render: %v", err)
			}
			a, _ := json.Marshal(o.Object)
			b, _ := json.Marshal(again)
			if string(a) != string(b) {
				t.Fatalf("object %d: render not idempotent:\n%s\n---\n%s", i, a, b)
			}
		}
	})
}
