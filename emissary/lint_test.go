package emissary

import (
	"strings"
	"testing"
)

func TestLintProblems(t *testing.T) {
	findings, err := NewEngine(DefaultProfiles()).Lint(decodeFile(t, "problems.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		code, template, path string
		sev                  Severity
	}{
		{CodeFanOutNoIMC, "no-resources", "spec.templates[0].dag.tasks[0]", SeverityWarning},
		{CodeFanOutNoIMC, "no-resources", "spec.templates[0].dag.tasks[1]", SeverityInfo},
		{CodeNoResources, "no-resources", "spec.templates[1]", SeverityWarning},
		{CodeGPUNeedsType, "gpu", "spec.templates[2]", SeverityError},
		{CodeHostPath, "docker", "spec.templates[3].volumes[0].hostPath", SeverityInfo},
		{CodePrivileged, "docker", "spec.templates[3].container.securityContext.privileged", SeverityInfo},
		{CodeSpecTooLarge, "huge", "spec.templates[4]", SeverityError},
	}
	for _, w := range want {
		found := false
		for _, f := range findings {
			if f.Code == w.code && f.Template == w.template && f.Path == w.path && f.Severity == w.sev {
				found = true
				if f.Message == "" {
					t.Errorf("%s has no message", f.Code)
				}
			}
		}
		if !found {
			t.Errorf("missing %s %s at %s (%s); got %+v", w.code, w.template, w.path, w.sev, findings)
		}
	}
	if CountErrors(findings) != 2 {
		t.Errorf("CountErrors = %d, want 2 (GPU, too large)", CountErrors(findings))
	}
}

func TestLintSeeds(t *testing.T) {
	findings, err := NewEngine(DefaultProfiles()).Lint(decodeFile(t, "artifacts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f := hasCode(findings, CodeNoCommand)
	if f == nil || f.Template != "whalesay" || f.Path != "spec.templates[1].container.command" {
		t.Errorf("no-command finding = %+v", f)
	}
	if hasCode(findings, CodeSpotNoRetry) != nil {
		t.Errorf("the profile adds retries, yet: %+v", findings)
	}
	// The 100-way Fluid fan-out is shaped completely; only the missing image cache remains.
	findings, err = NewEngine(DefaultProfiles()).Lint(decodeFile(t, "fluid-fanout.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 1 || findings[0].Code != CodeFanOutNoIMC || findings[0].Severity != SeverityWarning {
		t.Errorf("fluid fan-out findings = %+v", findings)
	}
}

func TestLintSpotWithoutRetries(t *testing.T) {
	e := NewEngine(mustProfiles(t, "default: p\nprofiles: {p: {spot: {strategy: SpotAsPriceGo}}}"))
	findings, err := e.Lint(decodeFile(t, "fluid-fanout.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if f := hasCode(findings, CodeSpotNoRetry); f == nil || f.Template != "md5sum" {
		t.Errorf("spot without retries: %+v", findings)
	}
}

func TestLintFluidWithoutSidecar(t *testing.T) {
	// A Fluid fan-out placed on ECI by hand, with no profile to add the Fluid label.
	obj, err := DecodeObject([]byte(`
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: fluid-, annotations: {argo-eci.io/datasets: serverless-data}}
spec:
  entrypoint: md5sum
  podSpecPatch: '{"schedulerName": "eci-scheduler"}'
  podMetadata: {labels: {alibabacloud.com/eci: "true"}}
  templates:
  - name: md5sum
    container:
      image: alpine:latest
      command: [sh, -c, "md5sum /data/test.dat"]
      volumeMounts: [{name: data-vol, mountPath: /data}]
    volumes: [{name: data-vol, persistentVolumeClaim: {claimName: serverless-data}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	findings, err := NewEngine(nil).Lint(obj)
	if err != nil {
		t.Fatal(err)
	}
	if f := hasCode(findings, CodeFluidNoSidecar); f == nil || f.Severity != SeverityError {
		t.Errorf("Fluid without sidecar: %+v", findings)
	}
	// With a profile, render adds the label and the finding goes away.
	findings, err = NewEngine(DefaultProfiles()).Lint(obj)
	if err != nil {
		t.Fatal(err)
	}
	if hasCode(findings, CodeFluidNoSidecar) != nil {
		t.Errorf("profile should fix it: %+v", findings)
	}
}

func TestLintWaitCounted(t *testing.T) {
	obj, err := DecodeObject([]byte(`
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entrypoint: full
  templates:
  - name: full
    container: {image: golang, command: [go, build], resources: {limits: {cpu: "2", memory: 4Gi}}}
  - name: roomy
    container: {image: golang, command: [go, vet], resources: {limits: {cpu: "1500m", memory: 3Gi}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	findings, err := NewEngine(mustProfiles(t, "default: p\nprofiles: {p: {executorResources: count}}")).Lint(obj)
	if err != nil {
		t.Fatal(err)
	}
	var bumped []string
	for _, f := range findings {
		if f.Code == CodeWaitBumpsSpec {
			bumped = append(bumped, f.Template)
			if !strings.Contains(f.Message, "2-4Gi") || !strings.Contains(f.Message, "4-8Gi") {
				t.Errorf("message %q", f.Message)
			}
		}
	}
	if len(bumped) != 1 || bumped[0] != "full" {
		t.Errorf("wait bump findings for %v, want [full]", bumped)
	}
	// With executorResources: ignore (the default) wait is left out and nothing is reported.
	findings, err = NewEngine(DefaultProfiles()).Lint(obj)
	if err != nil {
		t.Fatal(err)
	}
	if hasCode(findings, CodeWaitBumpsSpec) != nil {
		t.Errorf("wait ignored, yet %+v", findings)
	}
}
