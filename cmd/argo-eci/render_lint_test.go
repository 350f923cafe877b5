package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/lint"
)

func runCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

const workflowsDir = "../../emissary/testdata/workflows"

func TestRender(t *testing.T) {
	out, stderr, err := runCmd(t, "", "render", "-f", filepath.Join(workflowsDir, "fluid-fanout.yaml"))
	if err != nil {
		t.Fatalf("render: %v (%s)", err, stderr)
	}
	var wf wfv1.Workflow
	if err := yaml.UnmarshalStrict([]byte(out), &wf); err != nil {
		t.Fatalf("render output is not a Workflow: %v\n%s", err, out)
	}
	if strings.Contains(out, "status:") || strings.Contains(out, "creationTimestamp") {
		t.Errorf("render output carries status or creationTimestamp:\n%s", out)
	}
	var md5 *wfv1.Template
	for i := range wf.Spec.Templates {
		if wf.Spec.Templates[i].Name == "md5sum" {
			md5 = &wf.Spec.Templates[i]
		}
	}
	if md5 == nil {
		t.Fatalf("no md5sum template:\n%s", out)
	}
	if ann, _ := emissary.TemplatePodMetadata(&wf.Spec, md5); ann["k8s.aliyun.com/eci-use-specs"] != "8-16Gi,8-32Gi,12-24Gi" {
		t.Fatalf("md5sum not shaped: %+v", md5)
	}
	// Rendering the output again (here from stdin) gives the same bytes.
	again, _, err := runCmd(t, out, "render", "-f", "-")
	if err != nil || again != out {
		t.Errorf("render is not idempotent (err %v)", err)
	}
}

func TestRenderProfiles(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "profiles.yaml")
	if err := os.WriteFile(prof, []byte("default: ci\nprofiles:\n  ci:\n    placement: [nodeSelector]\n    spot: {strategy: SpotAsPriceGo}\n    retry: {limit: 5}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "", "render", "-f", filepath.Join(workflowsDir, "artifacts.yaml"), "--profiles", prof)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"type: virtual-kubelet", "key: virtual-kubelet.io/provider", "k8s.aliyun.com/eci-spot-strategy: SpotAsPriceGo", "limit: 5", "argo-eci.io/shaped-by: ci"} {
		if !strings.Contains(out, want) {
			t.Errorf("render output lacks %q", want)
		}
	}
}

func TestRenderBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badProfiles := write("p.yaml", "profiles: {standard: {fallbackSpecs: 9}}")
	typo := write("typo.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nspec:\n  entrypoint: a\n  templates:\n  - name: a\n    contianer: {image: alpine}\n")
	unknownProfile := write("up.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w, annotations: {argo-eci.io/profile: gold}}\nspec:\n  entrypoint: a\n  templates:\n  - name: a\n    container: {image: alpine, command: [sh]}\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"render", "-f", unknownProfile}, `metadata.annotations["argo-eci.io/profile"]`},
		{[]string{"render", "-f", typo, "--profiles", badProfiles}, "profiles.standard.fallbackSpecs"},
		{[]string{"lint", "-f", unknownProfile}, `unknown profile "gold"`},
		{[]string{"render", "-f", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{[]string{"lint", "-f", typo, "-o", "xml"}, "-o"},
	}
	for _, tt := range tests {
		_, _, err := runCmd(t, "", tt.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: exit %d, %v; want exit 2 naming %s", tt.args, exitCode(err), err, tt.want)
		}
	}
}

// A field Argo v4.0.7 does not know (a typo, or a field of another Argo version) is kept by render
// with a warning naming it, as kubectl and argo submit keep it; Argo's validation in lint then
// rejects the template that has no type.
func TestUnknownFieldKeptWithWarning(t *testing.T) {
	p := filepath.Join(t.TempDir(), "typo.yaml")
	if err := os.WriteFile(p, []byte("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nspec:\n  entrypoint: a\n  templates:\n  - name: a\n    contianer: {image: alpine}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCmd(t, "", "render", "-f", p)
	if err != nil || !strings.Contains(out, "contianer:") || !strings.Contains(stderr, emissary.CodeUnknownField) || !strings.Contains(stderr, "spec.templates[0].contianer") {
		t.Errorf("render: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	out, _, err = runCmd(t, "", "lint", "-f", p)
	if exitCode(err) != 1 || !strings.Contains(out, "spec.templates[0].contianer") || !strings.Contains(out, lint.CodeArgoRejects) {
		t.Errorf("lint: exit %d (%v)\n%s", exitCode(err), err, out)
	}
}

// Error findings stop `render | argo submit -`; lint -o json stays JSON on bad input.
func TestRenderExitAndLintJSONOnBadInput(t *testing.T) {
	gpu := filepath.Join(t.TempDir(), "gpu.yaml")
	if err := os.WriteFile(gpu, []byte("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nspec:\n  entrypoint: a\n  templates:\n  - name: a\n    container: {image: cuda, command: [nvidia-smi], resources: {limits: {nvidia.com/gpu: 1, cpu: 4, memory: 8Gi}}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "", "render", "-f", gpu); exitCode(err) != 1 {
		t.Errorf("render of a GPU workflow without GPU types: exit %d, want 1", exitCode(err))
	}
	out, _, err := runCmd(t, "", "lint", "-f", "-", "-o", "json")
	var findings []emissary.Finding
	if exitCode(err) != 2 || json.Unmarshal([]byte(out), &findings) != nil || len(findings) != 1 || findings[0].Code != emissary.CodeBadInput {
		t.Errorf("lint -o json of empty input: exit %d, output %q", exitCode(err), out)
	}
}

func TestRenderControllerConfig(t *testing.T) {
	dir := t.TempDir()
	cc := filepath.Join(dir, "cm.yaml")
	wf := filepath.Join(dir, "wf.yaml")
	if err := os.WriteFile(cc, []byte("kind: ConfigMap\ndata:\n  mainContainer: |\n    resources: {limits: {cpu: \"4\", memory: 8Gi}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wf, []byte("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nspec:\n  entrypoint: a\n  templates:\n  - name: a\n    container: {image: alpine, command: [\"true\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCmd(t, "", "render", "-f", wf, "--controller-config", cc)
	if err != nil || !strings.Contains(out, "eci-use-specs: 4-8Gi") {
		t.Errorf("render --controller-config: %v\n%s\n%s", err, out, stderr)
	}
	if _, _, err := runCmd(t, "", "render", "-f", wf, "--controller-config", filepath.Join(dir, "none.yaml")); exitCode(err) != 2 {
		t.Errorf("missing --controller-config file: exit %d", exitCode(err))
	}
}

func TestRenderDiff(t *testing.T) {
	out, _, err := runCmd(t, "", "render", "--diff", "-f", filepath.Join(workflowsDir, "artifacts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "+ ") && !strings.HasPrefix(line, "- ") {
			t.Errorf("--diff printed an unchanged line %q", line)
		}
	}
	if !strings.Contains(out, "+ ") || !strings.Contains(out, "eci-use-specs") {
		t.Errorf("--diff shows no additions:\n%s", out)
	}
}

func TestLint(t *testing.T) {
	out, _, err := runCmd(t, "", "lint", "-f", filepath.Join(workflowsDir, "problems.yaml"), "-o", "json")
	if exitCode(err) != 1 {
		t.Fatalf("lint with errors: exit %d (%v), want 1", exitCode(err), err)
	}
	var findings []emissary.Finding
	if err := json.Unmarshal([]byte(out), &findings); err != nil {
		t.Fatalf("lint -o json: %v\n%s", err, out)
	}
	codes := map[string]bool{}
	for _, f := range findings {
		codes[f.Code] = true
		if f.Severity == "" || f.Message == "" {
			t.Errorf("incomplete finding %+v", f)
		}
	}
	for _, c := range []string{emissary.CodeGPUNeedsType, emissary.CodeFanOutNoIMC, emissary.CodeNoResources, emissary.CodeHostPath, emissary.CodePrivileged} {
		if !codes[c] {
			t.Errorf("lint -o json lacks %s", c)
		}
	}

	out, _, err = runCmd(t, "", "lint", "-f", filepath.Join(workflowsDir, "artifacts.yaml"))
	if err != nil {
		t.Fatalf("lint with warnings only: %v", err)
	}
	if !strings.Contains(out, "warning") || !strings.Contains(out, emissary.CodeNoCommand) || !strings.Contains(out, "whalesay") {
		t.Errorf("lint text output:\n%s", out)
	}
}

// lint runs Argo's own validation too: a step that uses an output its template never declares is
// an ARGO001 error (argo submit would refuse it); a workflow built on a WorkflowTemplate cannot be
// resolved offline and says so.
func TestLintArgoValidation(t *testing.T) {
	dir := t.TempDir()
	undeclared := filepath.Join(dir, "undeclared.yaml")
	writeTestFile(t, undeclared, `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: undeclared-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: make, template: make}
    - - name: use
        template: use
        arguments: {parameters: [{name: v, value: "{{steps.make.outputs.parameters.v}}"}]}
  - name: make
    container: {image: alpine:3.20, command: [sh, -c, "echo 1 > /tmp/v"], resources: {requests: {cpu: "1", memory: 2Gi}}}
  - name: use
    inputs: {parameters: [{name: v}]}
    container: {image: alpine:3.20, command: [echo, "{{inputs.parameters.v}}"], resources: {requests: {cpu: "1", memory: 2Gi}}}
`)
	out, _, err := runCmd(t, "", "lint", "-f", undeclared)
	if exitCode(err) != 1 || !strings.Contains(out, lint.CodeArgoRejects) || !strings.Contains(out, "steps.make.outputs.parameters.v") {
		t.Fatalf("undeclared output: exit %d, output:\n%s", exitCode(err), out)
	}

	ref := filepath.Join(dir, "ref.yaml")
	writeTestFile(t, ref, `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: ref-}
spec:
  workflowTemplateRef: {name: shared}
`)
	out, _, err = runCmd(t, "", "lint", "-f", ref)
	if err != nil || !strings.Contains(out, lint.CodeArgoNotOnline) || strings.Contains(out, lint.CodeArgoRejects) {
		t.Fatalf("workflowTemplateRef: %v, output:\n%s", err, out)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A CronWorkflow written for a v3.5 controller (singular schedule) is validated the way v3.6 and
// later read it: a deprecation warning, not Argo's rejection; a CronWorkflow with no schedule at
// all is still rejected.
func TestLintOlderArgoFields(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata: {name: c}\nspec:\n"+body+
			"  workflowSpec:\n    entrypoint: a\n    templates:\n    - name: a\n      container: {image: alpine, command: [\"true\"], resources: {limits: {cpu: \"1\", memory: 2Gi}}}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out, _, err := runCmd(t, "", "lint", "-f", write("old.yaml", "  schedule: \"0 1 * * *\"\n"))
	if err != nil || strings.Contains(out, lint.CodeArgoRejects) || !strings.Contains(out, "schedules") {
		t.Errorf("v3.5 CronWorkflow: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "", "lint", "-f", write("none.yaml", ""))
	if exitCode(err) != 1 || !strings.Contains(out, lint.CodeArgoRejects) {
		t.Errorf("CronWorkflow without schedule: exit %d\n%s", exitCode(err), out)
	}
}
