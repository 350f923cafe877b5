package emissary

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/eci"
)

func decodeFile(t testing.TB, name string) runtime.Object {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "workflows", name))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := DecodeObject(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return obj
}

// shapeYAML decodes a Workflow and renders it with e.
func shapeYAML(t *testing.T, e *Engine, doc string) (*wfv1.Workflow, []Finding) {
	t.Helper()
	obj, err := DecodeObject([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	out, findings, err := e.ShapeWorkflow(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out.(*wfv1.Workflow), findings
}

func tmplByName(spec *wfv1.WorkflowSpec, name string) *wfv1.Template {
	for i := range spec.Templates {
		if spec.Templates[i].Name == name {
			return &spec.Templates[i]
		}
	}
	return nil
}

// controllerPod builds the pod Argo's controller would create for template name of a (rendered)
// workflow: scheduling (template over workflow), metadata (workflow podMetadata, then template
// metadata), then the workflow's and the template's podSpecPatch applied with Argo's own code.
func controllerPod(t *testing.T, wf *wfv1.Workflow, name string) *corev1.Pod {
	t.Helper()
	tmpl := tmplByName(&wf.Spec, name).DeepCopy()
	// The controller merges spec.templateDefaults into the template first (operator.go
	// mergedTemplateDefaultsInto, a strategic merge; withTemplateDefaults does the same).
	tmpl, err := withTemplateDefaults(tmpl, wf.Spec.TemplateDefaults)
	if err != nil {
		t.Fatal(err)
	}
	pod := argoPod("wf-abcde", tmpl)
	if m := wf.Spec.PodMetadata; m != nil {
		for k, v := range m.Labels {
			if _, ok := tmpl.Metadata.Labels[k]; !ok {
				pod.Labels[k] = v
			}
		}
		for k, v := range m.Annotations {
			if _, ok := tmpl.Metadata.Annotations[k]; !ok {
				pod.Annotations[k] = v
			}
		}
	}
	if pod.Spec.SchedulerName == "" {
		pod.Spec.SchedulerName = wf.Spec.SchedulerName
	}
	// nodeSelector and tolerations: the template's, else the workflow's (a steps or DAG
	// template's own would come between; addSchedulingConstraints in workflowpod.go).
	if len(pod.Spec.NodeSelector) == 0 {
		pod.Spec.NodeSelector = wf.Spec.NodeSelector
	}
	if len(pod.Spec.Tolerations) == 0 {
		pod.Spec.Tolerations = wf.Spec.Tolerations
	}
	// Workflow volumes that the containers mount (addVolumeReferences in workflowpod.go).
	mounted := map[string]bool{}
	for _, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, m := range c.VolumeMounts {
			mounted[m.Name] = true
		}
	}
	for _, v := range wf.Spec.Volumes {
		if mounted[v.Name] {
			pod.Spec.Volumes = append(pod.Spec.Volumes, v)
		}
	}
	var patches []string
	for _, p := range []string{wf.Spec.PodSpecPatch, tmpl.PodSpecPatch} {
		if p != "" {
			patches = append(patches, p)
		}
	}
	if len(patches) > 0 {
		pod.Spec = applyPodSpecPatch(t, pod.Spec, patches...)
	}
	return pod
}

// applyPodSpecPatch does what Argo's util.ApplyPodSpecPatch does (workflow/util/util.go): each
// patch, YAML or JSON, must decode as a PodSpec and is applied as a strategic merge patch.
// (Importing Argo's util package would pull its whole CLI dependency tree into this module.)
func applyPodSpecPatch(t *testing.T, spec corev1.PodSpec, patches ...string) corev1.PodSpec {
	t.Helper()
	cur, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range patches {
		pj, err := yaml.YAMLToJSON([]byte(p))
		if err != nil {
			t.Fatalf("podSpecPatch %q: %v", p, err)
		}
		if err := json.Unmarshal(pj, &corev1.PodSpec{}); err != nil {
			t.Fatalf("invalid podSpecPatch %q: %v", p, err)
		}
		if cur, err = strategicpatch.StrategicMergePatch(cur, pj, corev1.PodSpec{}); err != nil {
			t.Fatalf("podSpecPatch %q: %v", p, err)
		}
	}
	var out corev1.PodSpec
	if err := json.Unmarshal(cur, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestShapeWorkflowFluidFanOut(t *testing.T) {
	e := NewEngine(DefaultProfiles())
	in := decodeFile(t, "fluid-fanout.yaml")
	before := in.DeepCopyObject()
	out, findings, err := e.ShapeWorkflow(in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, before) {
		t.Fatal("ShapeWorkflow mutated its input")
	}
	wf := out.(*wfv1.Workflow)
	md5 := tmplByName(&wf.Spec, "md5sum")
	ann := md5.Metadata.Annotations
	if got := ann[eci.AnnotationUseSpecs]; got != "8-16Gi,8-32Gi,12-24Gi" {
		t.Errorf("eci-use-specs = %q (7 vCPU/13Gi must round to 8-16Gi)", got)
	}
	if ann[AnnotationShapedBy] != "standard" || ann[eci.AnnotationFailStrategy] != "fail-fast" ||
		ann[eci.AnnotationCustomTags] != "workflow:parallelism-fluid,template:md5sum" {
		t.Errorf("annotations = %v", ann)
	}
	if md5.Metadata.Labels[eci.LabelECI] != "true" || md5.SchedulerName != eci.SchedulerName {
		t.Errorf("placement: labels %v scheduler %q", md5.Metadata.Labels, md5.SchedulerName)
	}
	if md5.RetryStrategy == nil || md5.RetryStrategy.Limit.IntValue() != 3 || md5.RetryStrategy.RetryPolicy != wfv1.RetryPolicyAlways {
		t.Errorf("retryStrategy = %+v", md5.RetryStrategy)
	}
	if wf.Spec.PodMetadata.Labels[eci.LabelFluidSidecarTarget] != "eci" || !strings.Contains(wf.Spec.PodSpecPatch, `"terminationGracePeriodSeconds":0`) {
		t.Errorf("Fluid: podMetadata %v podSpecPatch %q", wf.Spec.PodMetadata, wf.Spec.PodSpecPatch)
	}
	// The agent pod (plugin template) gets only workflow-level settings.
	if wf.Spec.PodMetadata.Labels[eci.LabelECI] != "true" || wf.Spec.SchedulerName != eci.SchedulerName {
		t.Errorf("workflow-level placement for the agent: %v %q", wf.Spec.PodMetadata.Labels, wf.Spec.SchedulerName)
	}
	for _, name := range []string{"main", "warm"} {
		if tm := tmplByName(&wf.Spec, name); len(tm.Metadata.Annotations) != 0 || tm.RetryStrategy != nil {
			t.Errorf("template %s (no pod) was shaped", name)
		}
	}
	if hasCode(findings, CodeNoResources) != nil {
		t.Errorf("unexpected findings %+v", findings)
	}

	// Idempotent: rendering again changes nothing.
	again, _, err := e.ShapeWorkflow(out)
	if err != nil || !reflect.DeepEqual(again, out) {
		t.Errorf("second ShapeWorkflow changed the workflow (err %v)", err)
	}

	// The webhook over a pod of the rendered workflow changes nothing.
	pod := controllerPod(t, wf, "md5sum")
	if v, _ := envOf(container(pod, "wait"), eci.EnvResourceIgnore); v != "TRUE" {
		t.Fatalf("render's podSpecPatch did not mark wait as ignored: %+v", container(pod, "wait").Env)
	}
	if _, ok := envOf(container(pod, "main"), eci.EnvResourceIgnore); ok {
		t.Fatal("render's podSpecPatch marked main as ignored")
	}
	if pod.Spec.TerminationGracePeriodSeconds == nil || *pod.Spec.TerminationGracePeriodSeconds != 0 {
		t.Error("terminationGracePeriodSeconds not 0")
	}
	res, err := e.ShapePod(pod, wf)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeShaped || !reflect.DeepEqual(res.Pod, pod) {
		t.Errorf("ShapePod changed a pod of a rendered workflow:\nbefore %v\nafter  %v", pod.Annotations, res.Pod.Annotations)
	}
	// And without render, the webhook alone decides the same spec.
	raw := controllerPod(t, before.(*wfv1.Workflow), "md5sum")
	direct, err := e.ShapePod(raw, before.(*wfv1.Workflow))
	if err != nil {
		t.Fatal(err)
	}
	if direct.Pod.Annotations[eci.AnnotationUseSpecs] != ann[eci.AnnotationUseSpecs] {
		t.Errorf("webhook alone chose %q, render %q", direct.Pod.Annotations[eci.AnnotationUseSpecs], ann[eci.AnnotationUseSpecs])
	}
}

func TestShapeWorkflowArtifacts(t *testing.T) {
	e := NewEngine(DefaultProfiles())
	out, _, err := e.ShapeWorkflow(decodeFile(t, "artifacts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wf := out.(*wfv1.Workflow)
	ws := tmplByName(&wf.Spec, "whalesay")
	podMeta := argoPodMetadata(&wf.Spec, ws) // what its pods carry
	if got := podMeta["annotation "+eci.AnnotationUseSpecs]; got != "0.5-1Gi,0.5-2Gi,1-2Gi" {
		t.Errorf("whalesay specs = %q", got)
	}
	if podMeta["annotation "+eci.AnnotationSpotStrategy] != "SpotAsPriceGo" || podMeta["annotation "+eci.AnnotationSpotFallback] != "true" {
		t.Errorf("argo-eci.io/spot: true did not turn spot on: %v", podMeta)
	}
	var patch struct {
		Containers []struct {
			Name string          `json:"name"`
			Env  []corev1.EnvVar `json:"env"`
		} `json:"containers"`
	}
	if err := json.Unmarshal([]byte(ws.PodSpecPatch), &patch); err != nil || len(patch.Containers) != 2 ||
		patch.Containers[0].Name != "wait" || patch.Containers[1].Name != "artifact-plugin-argo-eci-oss" {
		t.Errorf("whalesay podSpecPatch = %s (%v)", ws.PodSpecPatch, err)
	}
	pm := tmplByName(&wf.Spec, "print-message")
	if pm.RetryStrategy.Limit.String() != "2" {
		t.Errorf("existing retryStrategy replaced: %+v", pm.RetryStrategy)
	}
	if !strings.Contains(pm.PodSpecPatch, `"terminationGracePeriodSeconds":5`) || !strings.Contains(pm.PodSpecPatch, `"name":"wait"`) {
		t.Errorf("user podSpecPatch not kept and extended: %s", pm.PodSpecPatch)
	}
	pod := controllerPod(t, wf, "print-message")
	if *pod.Spec.TerminationGracePeriodSeconds != 5 {
		t.Error("user's terminationGracePeriodSeconds lost")
	}
	res, err := e.ShapePod(pod, wf)
	if err != nil || !reflect.DeepEqual(res.Pod, pod) {
		t.Errorf("ShapePod changed a pod of a rendered workflow (err %v)", err)
	}
	again, _, _ := e.ShapeWorkflow(out)
	if !reflect.DeepEqual(again, out) {
		t.Error("second ShapeWorkflow changed the workflow")
	}
}

func TestShapeWorkflowKinds(t *testing.T) {
	e := NewEngine(DefaultProfiles())
	tmpl := `
  entrypoint: a
  templates:
  - name: a
    container: {image: alpine, command: [sh], resources: {limits: {cpu: "1", memory: 2Gi}}}`
	docs := map[string]string{
		"CronWorkflow":            "apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata: {name: nightly}\nspec:\n  schedules: ['0 1 * * *']\n  workflowSpec:" + strings.ReplaceAll(tmpl, "\n  ", "\n    "),
		"WorkflowTemplate":        "apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: wt}\nspec:" + tmpl,
		"ClusterWorkflowTemplate": "apiVersion: argoproj.io/v1alpha1\nkind: ClusterWorkflowTemplate\nmetadata: {name: cwt}\nspec:" + tmpl,
	}
	for kind, doc := range docs {
		obj, err := DecodeObject([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		out, _, err := e.ShapeWorkflow(obj)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		var spec *wfv1.WorkflowSpec
		switch o := out.(type) {
		case *wfv1.CronWorkflow:
			spec = &o.Spec.WorkflowSpec
		case *wfv1.WorkflowTemplate:
			spec = &o.Spec
		case *wfv1.ClusterWorkflowTemplate:
			spec = &o.Spec
		}
		if got := spec.Templates[0].Metadata.Annotations[eci.AnnotationUseSpecs]; got != "1-2Gi,1-4Gi,1-8Gi" {
			t.Errorf("%s: specs %q", kind, got)
		}
	}
	if _, _, err := e.ShapeWorkflow(&corev1.Pod{}); err == nil {
		t.Error("ShapeWorkflow accepted a Pod")
	}
}

func TestShapeWorkflowTemplateOverrides(t *testing.T) {
	e := NewEngine(mustProfiles(t, fullProfiles))
	wf, findings := shapeYAML(t, e, `
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w, annotations: {argo-eci.io/profile: standard, argo-eci.io/fail-strategy: fail-over}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: a}
    - - {name: b, template: b}
    - - {name: c, template: c}
  - {name: e, plugin: {argo-eci: {imageCache: {name: x, images: [alpine]}}}}
  - name: a
    metadata: {annotations: {argo-eci.io/specs: "ecs.c6.large", argo-eci.io/spot: "false"}}
    container: {image: alpine, command: [sh]}
  - name: b
    metadata: {annotations: {argo-eci.io/skip: "true"}}
    container: {image: alpine, command: [sh]}
  - name: c
    volumes: [{name: h, hostPath: {path: /tmp}}]
    container: {image: alpine, command: [sh], volumeMounts: [{name: h, mountPath: /h}]}
`)
	a := tmplByName(&wf.Spec, "a").Metadata.Annotations
	if a[eci.AnnotationUseSpecs] != "ecs.c6.large" || a[eci.AnnotationSpotStrategy] != "" || a[eci.AnnotationFailStrategy] != "fail-over" {
		t.Errorf("template a: %v", a)
	}
	for _, name := range []string{"b", "c"} {
		tm := tmplByName(&wf.Spec, name)
		if tm.Metadata.Labels[eci.LabelECI] != "false" || tm.SchedulerName != corev1.DefaultSchedulerName || tm.Metadata.Annotations[AnnotationShapedBy] != "" {
			t.Errorf("template %s must opt out of the workflow-level placement: %+v %q", name, tm.Metadata, tm.SchedulerName)
		}
	}
	if f := hasCode(findings, CodeHostPath); f == nil || f.Template != "c" || f.Path != "spec.templates[4].volumes[0].hostPath" {
		t.Errorf("hostPath finding = %+v", f)
	}

	bad := wf.DeepCopy()
	bad.Spec.Templates[2].Metadata.Annotations[AnnotationProfile] = "gold"
	var fe *badinput.Error
	if _, _, err := e.ShapeWorkflow(bad); !errors.As(err, &fe) || fe.Field() != `spec.templates[2].metadata.annotations["argo-eci.io/profile"]` {
		t.Errorf("unknown template profile: %v", err)
	}
}

func TestShapeWorkflowKeepsWorkflowScheduling(t *testing.T) {
	e := NewEngine(mustProfiles(t, "default: p\nprofiles: {p: {placement: [label, scheduler, nodeSelector]}}"))
	wf, findings := shapeYAML(t, e, `
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entrypoint: a
  schedulerName: volcano
  nodeSelector: {disk: ssd}
  tolerations: [{key: dedicated, operator: Equal, value: ci, effect: NoSchedule}]
  templates:
  - name: a
    container: {image: alpine, command: [sh], resources: {limits: {cpu: "1", memory: 2Gi}}}
`)
	a := &wf.Spec.Templates[0]
	if a.SchedulerName != "" || hasCode(findings, CodeSchedulerKept) == nil {
		t.Errorf("custom workflow scheduler overridden: %q %+v", a.SchedulerName, findings)
	}
	if a.NodeSelector["disk"] != "ssd" || a.NodeSelector["type"] != "virtual-kubelet" {
		t.Errorf("nodeSelector = %v", a.NodeSelector)
	}
	if len(a.Tolerations) != 2 || a.Tolerations[0].Key != "dedicated" || a.Tolerations[1].Key != eci.TaintKeyProvider {
		t.Errorf("tolerations = %+v", a.Tolerations)
	}
	// The pod the controller makes from it, shaped by the webhook, changes no further.
	pod := controllerPod(t, wf, "a")
	pod.Spec.SchedulerName = "volcano"
	res, err := e.ShapePod(pod, wf)
	if err != nil || !reflect.DeepEqual(res.Pod, pod) {
		t.Errorf("ShapePod changed a pod of a rendered workflow (err %v)", err)
	}
}

func TestShapeWorkflowPodSpecPatch(t *testing.T) {
	e := NewEngine(DefaultProfiles())
	wf, findings := shapeYAML(t, e, `
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entrypoint: sized
  templates:
  - name: sized
    inputs: {parameters: [{name: cpu, value: "4"}]}
    podSpecPatch: '{"containers":[{"name":"main","resources":{"limits":{"cpu":"{{inputs.parameters.cpu}}","memory":"8Gi"}}}]}'
    container: {image: alpine, command: [sh]}
  - name: broken
    podSpecPatch: 'containers: [{{x}}'
    container: {image: alpine, command: [sh], resources: {limits: {cpu: "1", memory: 2Gi}}}
`)
	sized := tmplByName(&wf.Spec, "sized")
	if _, ok := sized.Metadata.Annotations[eci.AnnotationUseSpecs]; ok {
		t.Error("render wrote a spec for resources set by podSpecPatch")
	}
	if !strings.Contains(sized.PodSpecPatch, `"name":"wait"`) || !strings.Contains(sized.PodSpecPatch, "{{inputs.parameters.cpu}}") {
		t.Errorf("podSpecPatch = %s", sized.PodSpecPatch)
	}
	// The controller substitutes the parameter and applies the patch; the webhook then computes.
	tm := sized.DeepCopy()
	tm.PodSpecPatch = strings.ReplaceAll(tm.PodSpecPatch, "{{inputs.parameters.cpu}}", "4")
	pod := argoPod("w", tm)
	pod.Spec = applyPodSpecPatch(t, pod.Spec, tm.PodSpecPatch)
	res, err := e.ShapePod(pod, wf)
	if err != nil || res.Pod.Annotations[eci.AnnotationUseSpecs] != "4-8Gi,4-16Gi,4-32Gi" {
		t.Errorf("webhook spec for the patched pod = %q (err %v)", res.Pod.Annotations[eci.AnnotationUseSpecs], err)
	}

	broken := tmplByName(&wf.Spec, "broken")
	if f := hasCode(findings, CodePodSpecPatchBad); f == nil || f.Template != "broken" || f.Path != "spec.templates[1].podSpecPatch" {
		t.Errorf("broken podSpecPatch finding = %+v", f)
	}
	if broken.PodSpecPatch != "containers: [{{x}}" || strings.Contains(broken.Metadata.Annotations[AnnotationSpecReason], "wait ignored") {
		t.Errorf("broken template: patch %q, reason %q", broken.PodSpecPatch, broken.Metadata.Annotations[AnnotationSpecReason])
	}
}

func TestDecodeObject(t *testing.T) {
	wf := "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nspec: {entrypoint: a}\n"
	good := []string{wf, "---\n" + wf, wf + "---\n# trailing comment\n", `{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"name":"w"}}`}
	for _, in := range good {
		if _, err := DecodeObject([]byte(in)); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
	bad := map[string]string{
		wf + "---\n" + wf:                       "input",
		"":                                      "input",
		"kind: Deployment\napiVersion: apps/v1": "kind",
		"apiVersion: v1\nkind: Workflow":        "apiVersion",
		"metadata: {name: x}":                   "kind",
		"apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nspec: {entrypoint: [a]}":                                                                "spec.entrypoint",
		"apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nspec: {templates: [{name: a}, {name: b, container: {image: x, imagePullPolicy: [1]}}]}": "spec.templates[1].container.imagePullPolicy",
		"apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nspec: {templates: [{name: a, contianer: {}}]}":                                          "spec.templates[0].contianer",
		"{": "input",
	}
	for in, path := range bad {
		_, err := DecodeObject([]byte(in))
		var fe *badinput.Error
		if !errors.As(err, &fe) || fe.Field() != path {
			t.Errorf("%q: error %v, want a *badinput.Error at %s", in, err, path)
		}
	}
}

const overrideDoc = `
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w, annotations: {argo-eci.io/skip: "true", argo-eci.io/profile: gold}}
spec:
  entrypoint: a
  templates:
  - name: a
    metadata: {annotations: {argo-eci.io/skip: "false"}}
    container: {image: alpine, command: [sh], resources: {limits: {cpu: "1", memory: 2Gi}}}
  - name: b
    container: {image: alpine, command: [sh], resources: {limits: {cpu: "1", memory: 2Gi}}}
`

func TestShapeWorkflowTemplateOverridesWorkflowChoice(t *testing.T) {
	// No default profile; the workflow says skip, one template says otherwise, another names a
	// profile. Render and the webhook must agree template by template.
	e := NewEngine(mustProfiles(t, "profiles: {gold: {fallbackSpecs: 0}}"))
	wf, findings := shapeYAML(t, e, overrideDoc)
	if got := tmplByName(&wf.Spec, "a").Metadata.Annotations[eci.AnnotationUseSpecs]; got != "1-2Gi" {
		t.Errorf("template a: %q, want 1-2Gi", got)
	}
	if got := tmplByName(&wf.Spec, "b").Metadata.Annotations; len(got) != 0 {
		t.Errorf("template b shaped despite the workflow's skip: %v", got)
	}
	if hasCode(findings, CodeNotShaped) != nil {
		t.Errorf("findings %+v", findings)
	}
	obj, err := DecodeObject([]byte(overrideDoc))
	if err != nil {
		t.Fatal(err)
	}
	orig := obj.(*wfv1.Workflow)
	for name, want := range map[string]Outcome{"a": OutcomeShaped, "b": OutcomeSkipped} {
		res, err := e.ShapePod(controllerPod(t, orig, name), orig)
		if err != nil || res.Outcome != want {
			t.Errorf("webhook on template %s's pod: %v (%v), want %s", name, res.Outcome, err, want)
		}
	}
}
