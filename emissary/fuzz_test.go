package emissary

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
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
// *FieldError; never a panic.
func FuzzParseProfiles(f *testing.F) {
	f.Add([]byte(fullProfiles))
	f.Add([]byte(DefaultProfilesYAML))
	f.Add([]byte("profiles: {a: {fallbackSpecs: 9}}"))
	addSeeds(f, "profiles")
	pod := argoPod("wf", containerTmpl("work", res("1", "2Gi", "", "")))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfiles(data)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Path == "" {
				t.Fatalf("error %v is not a *FieldError with a path", err)
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

// FuzzDecodeAndRender: any input either decodes (render's decoder) and renders idempotently, or
// fails with a *FieldError; never a panic.
func FuzzDecodeAndRender(f *testing.F) {
	for _, name := range []string{"fluid-fanout.yaml", "artifacts.yaml", "problems.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "workflows", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	addSeeds(f, "workflows")
	e := NewEngine(DefaultProfiles())
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := DecodeObject(data)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("decode error %v is not a *FieldError", err)
			}
			return
		}
		if _, ok := obj.(*corev1.Pod); ok {
			if _, err := e.Lint(obj); err != nil {
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("lint error %v is not a *FieldError", err)
				}
			}
			return
		}
		// render's encoder loses nothing the decoder read.
		enc, err := EncodeYAML(obj)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		back, err := DecodeObject(enc)
		if err != nil {
			t.Fatalf("re-decode of encoded object: %v\n%s", err, enc)
		}
		if enc2, _ := EncodeYAML(back); string(enc2) != string(enc) {
			t.Fatalf("encode/decode round trip differs:\n%s\n---\n%s", enc, enc2)
		}
		out, _, err := e.ShapeWorkflow(obj)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("render error %v is not a *FieldError", err)
			}
			return
		}
		if _, err := EncodeYAML(out); err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, _, err := e.ShapeWorkflow(out)
		if err != nil {
			t.Fatalf("second render: %v", err)
		}
		a, _ := EncodeYAML(out)
		b, _ := EncodeYAML(again)
		if string(a) != string(b) {
			t.Fatalf("render not idempotent:\n%s\n---\n%s", a, b)
		}
	})
}
