package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/sizing"
)

func TestRenderSizingFlag(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, body []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	data, err := sizing.EncodeConfigMapData([]sizing.Entry{{Namespace: "ci", Kind: sizing.OwnerWorkflow, Owner: "build", Template: "compile",
		Spec: "4-8Gi", Runs: 5, Window: sizing.Window{From: from, To: from.Add(time.Hour)}, CPU: sizing.CPUStats{P50: 2, P95: 3, Max: 3.5},
		Memory: sizing.MemoryStats{P50: resource.MustParse("4Gi"), P95: resource.MustParse("6Gi"), Max: resource.MustParse("7Gi")},
		Reason: "learned from 5 runs → 4-8Gi"}})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := yaml.Marshal(corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: sizing.ConfigMapName, Namespace: "argo"}, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	sizingFile := write("sizing.yaml", cm)
	profiles := write("profiles.yaml", []byte("default: p\nprofiles: {p: {sizing: learned}}\n"))
	wf := write("wf.yaml", []byte("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: build-, namespace: ci}\nspec:\n  entrypoint: compile\n  templates:\n  - name: compile\n    container: {image: golang, command: [go], resources: {limits: {cpu: \"1\", memory: 2Gi}}}\n"))

	out, _, err := runCmd(t, "", "render", "-f", wf, "--profiles", profiles, "--sizing", sizingFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "eci-use-specs: 4-8Gi,") || !strings.Contains(out, "learned from 5 runs") {
		t.Errorf("render --sizing did not apply the learned spec:\n%s", out)
	}
	out, _, err = runCmd(t, "", "render", "-f", wf, "--profiles", profiles)
	if err != nil || !strings.Contains(out, "eci-use-specs: 1-2Gi,") {
		t.Errorf("render without --sizing: %v\n%s", err, out)
	}

	broken := write("broken.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argo-eci-sizing}\ndata:\n  ci_wf_build_compile: 'spec: 99-1Gi'\n"))
	for file, want := range map[string]string{broken: "broken.yaml", filepath.Join(dir, "none.yaml"): "--sizing",
		write("secret.yaml", []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n")): "kind"} {
		_, _, err := runCmd(t, "", "render", "-f", wf, "--profiles", profiles, "--sizing", file)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), want) {
			t.Errorf("--sizing %s: exit %d, %v; want exit 2 naming %s", file, exitCode(err), err, want)
		}
	}
	// Bad files are bad input naming the field.
	for file, field := range map[string]string{broken: "data[ci_wf_build_compile]",
		write("secret.yaml", []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n")):  "kind",
		write("typo.yaml", []byte("apiVersion: v1\nkind: ConfigMap\ndta: {}\n")):             "dta",
		write("twice.yaml", []byte("apiVersion: v1\nkind: ConfigMap\ndata: {}\ndata: {}\n")): "data"} {
		_, _, err := runCmd(t, "", "render", "-f", wf, "--profiles", profiles, "--sizing", file)
		if bad, ok := badinput.As(err); !ok || !strings.HasPrefix(bad.Field(), field) {
			t.Errorf("--sizing %s: %v, want bad input at %s", file, err, field)
		}
	}
}

// FuzzSizingFile: any --sizing file either loads or is bad input (exit 2) naming the file; never a
// panic.
func FuzzSizingFile(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "sizing-configmap.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\ndata: {}\n"))
	f.Add([]byte("kind: Secret\n"))
	f.Add([]byte("data: [1]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "sizing.yaml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		in := &shapeInput{sizing: p}
		_, err := in.withSizing(emissary.NewEngine(emissary.DefaultProfiles()))
		if err != nil && (exitCode(err) != 2 || !strings.Contains(err.Error(), "sizing")) {
			t.Fatalf("error %v: want exit 2 naming the file", err)
		}
	})
}

func TestSizingFileSeedLoads(t *testing.T) {
	in := &shapeInput{sizing: filepath.Join("testdata", "sizing-configmap.yaml")}
	if _, err := in.withSizing(emissary.NewEngine(emissary.DefaultProfiles())); err != nil {
		t.Fatalf("the seed ConfigMap does not load: %v", err)
	}
}
