package emissary

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argo-eci/argo-eci/eci"
)

// patchNames lists the container names a podSpecPatch names.
func patchNames(t *testing.T, patch string) []string {
	t.Helper()
	var p struct {
		Containers []struct {
			Name string `json:"name"`
		} `json:"containers"`
	}
	if patch != "" {
		if err := json.Unmarshal([]byte(patch), &p); err != nil {
			t.Fatalf("podSpecPatch %q: %v", patch, err)
		}
	}
	var names []string
	for _, c := range p.Containers {
		names = append(names, c.Name)
	}
	return names
}

// assertValidContainers fails when a container of the pod has no image: what a podSpecPatch naming
// a container the controller did not create leaves behind, and what the apiserver refuses.
func assertValidContainers(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			if c.Image == "" {
				t.Errorf("pod %s: container %q has no image (podSpecPatch named a container the controller does not create)", pod.Name, c.Name)
			}
		}
	}
}

const pluginArtifactsWF = `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: arts-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: consume, template: consume}
      - {name: produce, template: produce}
  - name: consume
    inputs:
      artifacts:
      - {name: data, path: /in, plugin: {name: argo-eci-oss, key: data}}
    container: {image: alpine, command: [cat, /in], resources: {limits: {cpu: "1", memory: 2Gi}}}
  - name: produce
    outputs:
      artifacts:
      - {name: out, path: /out, plugin: {name: argo-eci-oss, key: out}}
    container: {image: alpine, command: [sh, -c, "echo > /out"], resources: {limits: {cpu: "1", memory: 2Gi}}}
`

func TestPluginSidecarOnlyForOutputArtifacts(t *testing.T) {
	wf, _ := shapeYAML(t, NewEngine(DefaultProfiles()), pluginArtifactsWF)
	for _, tc := range []struct {
		tmpl string
		want []string
	}{
		{"consume", []string{"wait"}},
		{"produce", []string{"wait", "artifact-plugin-argo-eci-oss"}},
	} {
		if got := patchNames(t, tmplByName(&wf.Spec, tc.tmpl).PodSpecPatch); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: podSpecPatch names %v, want %v", tc.tmpl, got, tc.want)
		}
		assertValidContainers(t, controllerPod(t, wf, tc.tmpl))
	}
}

func TestArgoPodKind(t *testing.T) {
	wfLabel := map[string]string{"workflows.argoproj.io/workflow": "wf"}
	nodeAnn := map[string]string{"workflows.argoproj.io/node-id": "wf-1"}
	with := func(l map[string]string, extra ...string) map[string]string {
		out := map[string]string{}
		for k, v := range l {
			out[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			out[extra[i]] = extra[i+1]
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		ann    map[string]string
		want   PodKind
	}{
		{"workflow pod", wfLabel, nodeAnn, PodKindWorkflow},
		{"agent", with(wfLabel, "workflows.argoproj.io/component", "agent"), nil, PodKindAgent},
		{"artifact-gc", with(wfLabel, "workflows.argoproj.io/component", "artifact-gc"), nil, PodKindArtifactGC},
		{"workflow label without node annotations", wfLabel, nil, PodKindNone},
		{"component without workflow label", map[string]string{"workflows.argoproj.io/component": "agent"}, nil, PodKindNone},
		{"unknown component", with(wfLabel, "workflows.argoproj.io/component", "server"), nodeAnn, PodKindNone},
		{"plain pod", map[string]string{"app": "x"}, nil, PodKindNone},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: tc.labels, Annotations: tc.ann}}
		if got := ArgoPodKind(pod); got != tc.want {
			t.Errorf("%s: ArgoPodKind = %q, want %q", tc.name, got, tc.want)
		}
		if IsArgoPod(pod) != (tc.want != PodKindNone) {
			t.Errorf("%s: IsArgoPod disagrees with ArgoPodKind", tc.name)
		}
	}
}

func TestWorkflowRetryStrategyKept(t *testing.T) {
	wf, _ := shapeYAML(t, NewEngine(DefaultProfiles()), `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: r-}
spec:
  entrypoint: main
  retryStrategy: {limit: 7, retryPolicy: OnError, backoff: {duration: 30s}}
  templates:
  - name: main
    container: {image: alpine, command: ["true"], resources: {limits: {cpu: "1", memory: 2Gi}}}
`)
	if rs := tmplByName(&wf.Spec, "main").RetryStrategy; rs != nil {
		t.Errorf("template got retryStrategy %+v; Argo applies the workflow's spec.retryStrategy to it", rs)
	}
}

func TestTemplateDefaultsCounted(t *testing.T) {
	wf, _ := shapeYAML(t, NewEngine(DefaultProfiles()), `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: d-}
spec:
  entrypoint: main
  templateDefaults:
    retryStrategy: {limit: 1}
    metadata: {annotations: {argo-eci.io/fail-strategy: fail-over}}
    container: {resources: {limits: {cpu: "4", memory: 8Gi}}}
  templates:
  - name: main
    container: {image: alpine, command: ["true"]}
`)
	m := tmplByName(&wf.Spec, "main")
	if got := m.Metadata.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "4-8Gi") {
		t.Errorf("eci-use-specs = %q, want 4-8Gi first (templateDefaults resources)", got)
	}
	if m.RetryStrategy != nil {
		t.Errorf("retryStrategy added over templateDefaults' own: %+v", m.RetryStrategy)
	}
	if got := m.Metadata.Annotations[eci.AnnotationFailStrategy]; got != "fail-over" {
		t.Errorf("eci-fail-strategy = %q, want fail-over from templateDefaults.metadata", got)
	}
}

func TestFirstSpecTooSmall(t *testing.T) {
	e := NewEngine(mustProfiles(t, "default: p\nprofiles: {p: {specs: [1-2Gi, 4-8Gi]}}"))
	_, findings := shapeYAML(t, e, `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: s-}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: ["true"], resources: {limits: {cpu: "2", memory: 3Gi}}}
`)
	f := hasCode(findings, CodeSpecTooSmall)
	if f == nil || f.Severity != SeverityError || !strings.Contains(f.Message, "1-2Gi") || !strings.Contains(f.Message, "2 vCPU/3Gi") || f.Template != "main" {
		t.Errorf("want an ECI025 error naming 1-2Gi and 2 vCPU/3Gi, got %+v", findings)
	}
}

// A template rendered under one profile and run from a workflow under another gets the other
// profile's decisions, not a mix; a changed resource gets a new spec.
func TestDecisionRecomputed(t *testing.T) {
	e := NewEngine(mustProfiles(t, `default: a
profiles:
  a: {spot: {strategy: SpotAsPriceGo, fallback: true}, failStrategy: fail-fast}
  b: {failStrategy: fail-back}
`))
	wf, _ := shapeYAML(t, e, `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: x-}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: ["true"], resources: {limits: {cpu: "1", memory: 2Gi}}}
`)
	pod := controllerPod(t, wf, "main")
	other := wf.DeepCopy()
	other.Annotations = map[string]string{AnnotationProfile: "b"}
	res, err := e.ShapePod(pod, other)
	if err != nil {
		t.Fatal(err)
	}
	ann := res.Pod.Annotations
	if ann[AnnotationShapedBy] != "b" || ann[eci.AnnotationSpotStrategy] != "" || ann[eci.AnnotationFailStrategy] != "fail-back" {
		t.Errorf("pod under profile b kept profile a's decisions: %v", ann)
	}
	// Same profile: nothing changes.
	res, err = e.ShapePod(pod, wf)
	if err != nil || !reflect.DeepEqual(res.Pod, pod) {
		t.Errorf("webhook changed a rendered workflow's pod (err %v)", err)
	}
	// The user doubles the resources of the rendered workflow: render again picks a new spec.
	m := tmplByName(&wf.Spec, "main")
	m.Container.Resources = res2("2", "4Gi")
	again, _, err := e.ShapeWorkflow(wf)
	if err != nil {
		t.Fatal(err)
	}
	if got := tmplByName(&again.(*wfv1.Workflow).Spec, "main").Metadata.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "2-4Gi") {
		t.Errorf("stale spec survived a resource change: %q", got)
	}
	// A hand-edited value breaks the record: everything is kept as the user's.
	m = tmplByName(&wf.Spec, "main")
	m.Metadata.Annotations[eci.AnnotationUseSpecs] = "8-16Gi"
	if _, _, ok := DecisionKeys(m.Metadata.Annotations); ok {
		t.Error("DecisionKeys accepted a record whose values were edited")
	}
}

func res2(cpu, mem string) corev1.ResourceRequirements { return res(cpu, mem, "", "") }

// A resource template's pod runs only argoexec: the smallest spec, the same through render and
// through the pod webhook, and the webhook changes nothing on the rendered workflow's pod.
func TestResourceTemplateSmallestSpec(t *testing.T) {
	e := NewEngine(DefaultProfiles())
	wf, findings := shapeYAML(t, e, `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: r-}
spec:
  entrypoint: make-cm
  templates:
  - name: make-cm
    resource:
      action: create
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {generateName: x-}
`)
	m := tmplByName(&wf.Spec, "make-cm")
	if got := m.Metadata.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "0.25-0.5Gi,") {
		t.Errorf("resource template eci-use-specs = %q, want 0.25-0.5Gi first", got)
	}
	if hasCode(findings, CodeNoResources) != nil {
		t.Errorf("resource template reported as declaring no resources: %+v", findings)
	}
	if m.PodSpecPatch != "" {
		t.Errorf("resource pod has no wait container, but podSpecPatch = %s", m.PodSpecPatch)
	}
	pod := argoPod("r-abcde", m)
	pod.Spec.Containers = []corev1.Container{{Name: "main", Image: "quay.io/argoproj/argoexec:v4.0.7",
		Command: []string{"argoexec", "resource", "create"}}}
	res, err := e.ShapePod(pod, wf)
	if err != nil || !reflect.DeepEqual(res.Pod, pod) {
		t.Errorf("webhook changed the rendered resource pod (err %v): %v", err, res.Pod.Annotations)
	}
	bare := pod.DeepCopy()
	bare.Annotations = map[string]string{"workflows.argoproj.io/node-id": "r-1"}
	res, err = e.ShapePod(bare, nil)
	if err != nil || !strings.HasPrefix(res.Pod.Annotations[eci.AnnotationUseSpecs], "0.25-0.5Gi,") {
		t.Errorf("webhook alone: eci-use-specs = %q (err %v), want 0.25-0.5Gi first", res.Pod.Annotations[eci.AnnotationUseSpecs], err)
	}
}

func TestPodSpecPatchParsed(t *testing.T) {
	e := NewEngine(DefaultProfiles())
	wf, findings := shapeYAML(t, e, `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: p-}
spec:
  entrypoint: main
  templates:
  - name: host
    podSpecPatch: '{"hostNetwork": true}'
    container: {image: alpine, command: ["true"], resources: {limits: {cpu: "1", memory: 2Gi}}}
  - name: literal
    podSpecPatch: |
      containers:
      - name: main
        resources: {limits: {cpu: "4", memory: 8Gi}}
    container: {image: alpine, command: ["true"], resources: {limits: {cpu: "1", memory: 2Gi}}}
  - name: param
    inputs: {parameters: [{name: cpu, value: "2"}]}
    podSpecPatch: '{"containers":[{"name":"main","resources":{"limits":{"cpu":"{{inputs.parameters.cpu}}"}}}]}'
    container: {image: alpine, command: ["true"], resources: {limits: {cpu: "1", memory: 2Gi}}}
  - name: word
    podSpecPatch: '{"containers":[{"name":"main","args":["print resources"]}]}'
    container: {image: alpine, command: ["true"], resources: {limits: {cpu: "1", memory: 2Gi}}}
`)
	if f := hasCode(findings, CodeHostNetwork); f == nil || f.Template != "host" || !strings.Contains(f.Path, "podSpecPatch") {
		t.Errorf("hostNetwork set by podSpecPatch not found: %+v", findings)
	}
	if _, ok := tmplByName(&wf.Spec, "host").Metadata.Annotations[eci.AnnotationUseSpecs]; ok {
		t.Error("a hostNetwork template was shaped for ECI (incompatible: skip)")
	}
	if got := tmplByName(&wf.Spec, "literal").Metadata.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "4-8Gi") {
		t.Errorf("literal podSpecPatch resources: eci-use-specs = %q, want 4-8Gi first", got)
	}
	if _, ok := tmplByName(&wf.Spec, "param").Metadata.Annotations[eci.AnnotationUseSpecs]; ok {
		t.Error("parameterised podSpecPatch resources: a spec was baked in; the webhook must decide")
	}
	if f := hasCode(findings, CodeUserSpecs); f == nil || f.Path != "spec.templates[2].podSpecPatch" {
		t.Errorf("deferred spec without a finding naming the podSpecPatch: %+v", findings)
	}
	if got := tmplByName(&wf.Spec, "word").Metadata.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "1-2Gi") {
		t.Errorf("a podSpecPatch mentioning the word resources deferred the spec: %q", got)
	}
}

func TestInlineTemplatesAndReferences(t *testing.T) {
	e := NewEngine(DefaultProfiles())
	wf, findings := shapeYAML(t, e, `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: in-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: inline-step
        inline:
          container: {image: alpine, command: ["true"], resources: {limits: {cpu: "2", memory: 4Gi}}}
      - name: shared
        templateRef: {name: common-tasks, template: build}
  - name: graph
    dag:
      tasks:
      - name: t
        inline:
          script: {image: python, command: [python], source: "print(1)", resources: {limits: {cpu: "1", memory: 1Gi}}}
`)
	step := wf.Spec.Templates[0].Steps[0].Steps[0].Inline
	if got := step.Metadata.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "2-4Gi") {
		t.Errorf("inline step template: eci-use-specs = %q, want 2-4Gi first", got)
	}
	task := wf.Spec.Templates[1].DAG.Tasks[0].Inline
	if got := task.Metadata.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "1-1Gi") && !strings.HasPrefix(got, "0.5-1Gi") && !strings.HasPrefix(got, "1-2Gi") {
		t.Errorf("inline DAG template: eci-use-specs = %q", got)
	}
	pod := argoPod("in-abcde", step)
	pod.Spec = applyPodSpecPatch(t, pod.Spec, step.PodSpecPatch)
	res, err := e.ShapePod(pod, wf)
	if err != nil || !reflect.DeepEqual(res.Pod, pod) {
		t.Errorf("webhook changed the pod of a rendered inline template (err %v)", err)
	}
	if f := hasCode(findings, CodeTemplateRef); f == nil || f.Path != "spec.templates[0].steps[0][1].templateRef" || !strings.Contains(f.Message, "common-tasks") {
		t.Errorf("templateRef not reported: %+v", findings)
	}
}

func TestFindingsOnlyWhereTheyApply(t *testing.T) {
	e := NewEngine(mustProfiles(t, "default: p\nprofiles: {p: {executorResources: count, incompatible: skip}}"))
	findings, err := e.Lint(decodeDoc(t, `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: f-}
spec:
  entrypoint: host
  templates:
  - name: host
    volumes: [{name: h, hostPath: {path: /var/log}}]
    container: {image: alpine, command: ["true"], volumeMounts: [{name: h, mountPath: /h}], resources: {limits: {cpu: "2", memory: 4Gi}}}
  - name: pool
    nodeSelector: {node-pool: batch}
    container: {image: alpine, command: ["true"], resources: {limits: {cpu: "1", memory: 2Gi}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		if f.Code == CodeWaitBumpsSpec && f.Template == "host" {
			t.Errorf("cost warning on a template that stays on normal nodes: %+v", f)
		}
	}
	if f := hasCode(findings, CodeNodeSelectorNoECI); f == nil || f.Template != "pool" || f.Path != "spec.templates[1].nodeSelector.node-pool" {
		t.Errorf("nodeSelector no virtual node matches: %+v", findings)
	}
}

func decodeDoc(t *testing.T, doc string) runtime.Object {
	t.Helper()
	obj, err := DecodeObject([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func loadPod(t *testing.T, path string) *corev1.Pod {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := json.Unmarshal(data, &pod); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &pod
}

// Argo v4.1 layouts, written from its documentation.
func TestArgoV41Pods(t *testing.T) {
	e := NewEngine(DefaultProfiles())
	res, err := e.ShapePod(loadPod(t, "testdata/pods-v4.1/initless-plugin.json"), nil)
	if err != nil || res.Outcome != OutcomeShaped {
		t.Fatalf("initless pod: %v %+v", err, res)
	}
	for _, name := range []string{"supervisor", "artifact-plugin-argo-eci-oss"} {
		if v, _ := envOf(container(res.Pod, name), eci.EnvResourceIgnore); v != "TRUE" {
			t.Errorf("initless pod: %s is not left out of the spec", name)
		}
	}
	if v, _ := envOf(container(res.Pod, "main"), eci.EnvResourceIgnore); v != "" {
		t.Error("initless pod: main was left out of the spec")
	}
	if got := res.Pod.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "2-4Gi") {
		t.Errorf("initless pod: eci-use-specs = %q, want 2-4Gi first (main 1.5/3Gi)", got)
	}
	res, err = e.ShapePod(loadPod(t, "testdata/pods-v4.1/pod-level-resources.json"), nil)
	if err != nil || !strings.HasPrefix(res.Pod.Annotations[eci.AnnotationUseSpecs], "4-8Gi") ||
		!strings.Contains(res.Pod.Annotations[AnnotationSpecReason], "pod-level") {
		t.Errorf("pod-level resources: %v %v", err, res.Pod.Annotations)
	}
}

// HTTP templates run in the agent pod like plugin templates: with agentPod: eci the workflow-level
// placement (the only placement the agent pod takes) is written for them too.
func TestHTTPTemplatesPlaceTheAgentPod(t *testing.T) {
	wf, _ := shapeYAML(t, NewEngine(DefaultProfiles()), `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: h-}
spec:
  entrypoint: notify
  templates:
  - name: notify
    http: {url: "https://example.com/hook", method: POST}
`)
	if wf.Spec.PodMetadata == nil || wf.Spec.PodMetadata.Labels[eci.LabelECI] != "true" || wf.Spec.SchedulerName != eci.SchedulerName {
		t.Errorf("agent pod of an HTTP-template workflow not placed: podMetadata %+v, schedulerName %q", wf.Spec.PodMetadata, wf.Spec.SchedulerName)
	}
}
