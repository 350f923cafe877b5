package emissary

import (
	"errors"
	"strings"
	"testing"

	"github.com/argo-eci/argo-eci/badinput"
)

// renderStream renders every Argo object of a stream the way `argo-eci render` does.
func renderStream(t *testing.T, e *Engine, in string) string {
	t.Helper()
	s, err := ParseStream([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range s.Objects {
		if o.Object == nil || o.Kind == "Pod" {
			continue
		}
		shaped, _, err := e.ShapeWorkflow(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(o, shaped); err != nil {
			t.Fatal(err)
		}
	}
	out, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

const streamIn = `# two templates and a workflow, as Argo's examples bundle them
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: hello
spec:
  templates:
  - name: hello
    container:
      image: alpine
      command: [echo, hi]   # keep me
      resources: {limits: {cpu: "1", memory: 2Gi}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {k: v}
---
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata:
  name: nightly
spec:
  schedule: "0 1 * * *"
  workflowSpec:
    entrypoint: main
    synchronization:
      semaphore: {configMapKeyRef: {name: sem, key: k}}
    templates:
    - name: main
      container: {image: alpine, command: ["true"], resources: {limits: {cpu: "1", memory: 2Gi}}}
`

func TestStreamRenderKeepsWhatItDoesNotOwn(t *testing.T) {
	out := renderStream(t, NewEngine(DefaultProfiles()), streamIn)
	for _, want := range []string{
		"# two templates and a workflow", "# keep me", // comments
		`schedule: "0 1 * * *"`, "semaphore:", "name: sem", // fields Argo v4.0.7 does not know
		"kind: ConfigMap", "k: v", // other kinds
		"k8s.aliyun.com/eci-use-specs: 1-2Gi", // and the shaping itself
	} {
		if !strings.Contains(out, want) {
			t.Errorf("render output lacks %q:\n%s", want, out)
		}
	}
	for _, noise := range []string{"inputs: {}", "arguments: {}", `name: ""`, "outputs: {}", "creationTimestamp"} {
		if strings.Contains(out, noise) {
			t.Errorf("render output carries %q, which the user did not write:\n%s", noise, out)
		}
	}
	if i, j, k := strings.Index(out, "WorkflowTemplate"), strings.Index(out, "ConfigMap"), strings.Index(out, "CronWorkflow"); !(i < j && j < k) {
		t.Errorf("document order not kept:\n%s", out)
	}
	if again := renderStream(t, NewEngine(DefaultProfiles()), out); again != out {
		t.Errorf("rendering twice changed the output:\n%s\n---\n%s", out, again)
	}
}

func TestStreamUnknownFieldsListed(t *testing.T) {
	s, err := ParseStream([]byte(streamIn))
	if err != nil {
		t.Fatal(err)
	}
	cron := s.Objects[2]
	if cron.Kind != "CronWorkflow" || strings.Join(cron.Unknown, ",") != "spec.schedule,spec.workflowSpec.synchronization.semaphore" {
		t.Errorf("unknown fields = %v", cron.Unknown)
	}
}

func TestStreamListAndJSON(t *testing.T) {
	in := `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"generateName":"j-"},"spec":{"entrypoint":"main","templates":[{"name":"main","container":{"image":"alpine","command":["true"],"resources":{"limits":{"cpu":"1","memory":"2Gi"}}}}]}}]}`
	out := renderStream(t, NewEngine(DefaultProfiles()), in)
	if !strings.Contains(out, "kind: List") || !strings.Contains(out, "eci-use-specs: 1-2Gi") || strings.Contains(out, `{"apiVersion"`) {
		t.Errorf("List in JSON not rendered as block YAML with its items shaped:\n%s", out)
	}
}

func TestParameterisedResourceError(t *testing.T) {
	_, err := ParseStream([]byte(`apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: p-}
spec:
  entrypoint: main
  templates:
  - name: main
    inputs: {parameters: [{name: cpu}]}
    container: {image: alpine, resources: {limits: {cpu: "{{inputs.parameters.cpu}}"}}}
`))
	var fe *badinput.Error
	if !errors.As(err, &fe) || fe.Field() != "spec.templates[0].container.resources.limits.cpu" ||
		!strings.Contains(fe.Message(), `template "main"`) || !strings.Contains(fe.Message(), "podSpecPatch") {
		t.Errorf("got %v, want a *badinput.Error naming the template, the field and podSpecPatch", err)
	}
}

// List items stay at the column the user wrote them: at their key's (most Kubernetes YAML) or
// indented under it, so a rendered file diffs only where argo-eci added something.
func TestStreamKeepsSequenceIndentation(t *testing.T) {
	const head = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  generateName: i-\nspec:\n  entrypoint: main\n"
	for _, tc := range []struct{ body, want string }{
		{"  templates:\n  - name: main\n    container: {image: alpine, command: [\"true\"]}\n", "\n  templates:\n  - name: main\n"},
		{"  templates:\n    - name: main\n      container: {image: alpine, command: [\"true\"]}\n", "\n  templates:\n    - name: main\n"},
	} {
		out := renderStream(t, NewEngine(DefaultProfiles()), head+tc.body)
		if !strings.Contains(out, tc.want) {
			t.Errorf("indentation not kept:\n%s\n---\n%s", tc.body, out)
		}
	}
}

func TestUnknownFieldFindings(t *testing.T) {
	for _, tc := range []struct {
		path, want string
		sev        Severity
	}{
		{"spec.schedule", "schedules", SeverityWarning},
		{"spec.workflowSpec.synchronization.semaphore", "synchronization.semaphores", SeverityWarning},
		{"spec.templates[0].synchronization.mutex", "synchronization.mutexes", SeverityWarning},
		{"spec.templates[1].podResources", "pod webhook", SeverityInfo},
		{"spec.executorPlugins", "agent pod", SeverityInfo},
		{"spec.templates[0].contianer", "unknown to Argo v4.0.7", SeverityWarning},
	} {
		fs := UnknownFieldFindings(&StreamObject{Unknown: []string{tc.path}})
		if len(fs) != 1 || fs[0].Code != CodeUnknownField || fs[0].Path != tc.path || fs[0].Severity != tc.sev ||
			!strings.Contains(fs[0].Message+fs[0].Hint, tc.want) {
			t.Errorf("%s: %+v, want %s naming %q", tc.path, fs, tc.sev, tc.want)
		}
	}
}
