package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/emissary"
)

// corpusCase is what a testdata/corpus file expects, from its header comments:
//
//	# render: ok | error | bad-input     (exit 0, 1, 2)
//	# lint: ECI022,ECI080                 (codes lint -o json must report)
//	# specs: tmpl=2-4Gi other=-          (first eci-use-specs spec; - for none)
//	# keep: text                         (in the render output)
//	# absent: text                       (not in the render output)
type corpusCase struct {
	render       string
	lint, specs  []string
	keep, absent []string
}

func readCorpusCase(t *testing.T, data []byte) corpusCase {
	var c corpusCase
	for _, line := range strings.Split(string(data), "\n") {
		key, val, ok := strings.Cut(strings.TrimPrefix(line, "# "), ": ")
		if !strings.HasPrefix(line, "# ") || !ok {
			continue
		}
		switch key {
		case "render":
			c.render = val
		case "lint":
			c.lint = strings.Split(val, ",")
		case "specs":
			c.specs = strings.Fields(val)
		case "keep":
			c.keep = append(c.keep, val)
		case "absent":
			c.absent = append(c.absent, val)
		}
	}
	if c.render == "" && !strings.HasPrefix(strings.TrimSpace(string(data)), "{") {
		t.Fatal("corpus file without a '# render:' expectation")
	}
	if c.render == "" {
		c.render = "ok" // JSON files cannot carry comments
	}
	return c
}

// firstSpecs maps template names of a rendered stream to their first eci-use-specs spec.
func firstSpecs(t *testing.T, out string) map[string]string {
	s, err := emissary.ParseStream([]byte(out))
	if err != nil {
		t.Fatalf("render output does not parse: %v", err)
	}
	got := map[string]string{}
	for _, o := range s.Objects {
		spec := emissary.WorkflowSpecOf(o.Object)
		if spec == nil {
			continue
		}
		for i := range spec.Templates {
			tmpl := &spec.Templates[i]
			ann, _ := emissary.TemplatePodMetadata(spec, tmpl) // what its pods carry
			first, _, _ := strings.Cut(ann[eci.AnnotationUseSpecs], ",")
			if first == "" {
				first = "-"
			}
			got[tmpl.Name] = first
		}
	}
	return got
}

// The corpus of realistic workflows in emissary/testdata/corpus through render and lint.
func TestCorpusRenderLint(t *testing.T) {
	files, _ := filepath.Glob("../../emissary/testdata/corpus/*")
	if len(files) < 40 {
		t.Fatalf("%d corpus files, want at least 40", len(files))
	}
	exits := map[string]int{"ok": 0, "error": 1, "bad-input": 2}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c := readCorpusCase(t, data)
			out, stderr, err := runCmd(t, "", "render", "-f", f)
			if want, ok := exits[c.render]; !ok || exitCode(err) != want {
				t.Fatalf("render: exit %d (%v), want %s\n%s", exitCode(err), err, c.render, stderr)
			}
			if c.render == "ok" {
				got := firstSpecs(t, out)
				out = withoutComments(out) // the expectations themselves are kept as comments
				for _, kv := range c.specs {
					name, want, _ := strings.Cut(kv, "=")
					if got[name] != want {
						t.Errorf("template %s: first spec %q, want %q", name, got[name], want)
					}
				}
				for _, k := range c.keep {
					if !strings.Contains(out, k) {
						t.Errorf("render output lacks %q:\n%s", k, out)
					}
				}
				for _, a := range c.absent {
					if strings.Contains(out, a) {
						t.Errorf("render output has %q:\n%s", a, out)
					}
				}
			}
			lintOut, _, err := runCmd(t, "", "lint", "-f", f, "-o", "json")
			var findings []emissary.Finding
			if jerr := json.Unmarshal([]byte(lintOut), &findings); jerr != nil {
				t.Fatalf("lint -o json printed no JSON (%v): %q", err, lintOut)
			}
			codes := map[string]bool{}
			for _, fd := range findings {
				codes[fd.Code] = true
			}
			for _, code := range c.lint {
				if !codes[code] {
					t.Errorf("lint lacks %s: %+v", code, findings)
				}
			}
			if c.render == "bad-input" && exitCode(err) != 2 {
				t.Errorf("lint of bad input: exit %d", exitCode(err))
			}
		})
	}
}

func withoutComments(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
