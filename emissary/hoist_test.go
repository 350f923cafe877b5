package emissary

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/sizing"
)

// argoPodMetadata is what the Argo v4.0.7 controller puts on the pod of template t
// (workflow/controller/workflowpod.go addMetadata, after operator.go has merged
// spec.templateDefaults into the template): spec.podMetadata's annotations and labels, then the
// template's, each key of the template winning.
func argoPodMetadata(spec *wfv1.WorkflowSpec, t *wfv1.Template) map[string]string {
	out := map[string]string{}
	if pm := spec.PodMetadata; pm != nil {
		for k, v := range pm.Annotations {
			out["annotation "+k] = v
		}
		for k, v := range pm.Labels {
			out["label "+k] = v
		}
	}
	var layers []wfv1.Metadata
	if d := spec.TemplateDefaults; d != nil {
		layers = append(layers, d.Metadata)
	}
	for _, m := range append(layers, t.Metadata) {
		for k, v := range m.Annotations {
			out["annotation "+k] = v
		}
		for k, v := range m.Labels {
			out["label "+k] = v
		}
	}
	return out
}

// argoPodPlacement is the placement the controller gives the pod of template t
// (workflowpod.go addSchedulingConstraints): nodeSelector and tolerations from the template, else
// from the workflow, schedulerName likewise. A steps or DAG template's own (the boundary's) comes
// between the two; boundaryFree checks where that matters.
func argoPodPlacement(spec *wfv1.WorkflowSpec, t *wfv1.Template) map[string]string {
	t = withDefaultFields(spec, t)
	sel, tol, sched := t.NodeSelector, t.Tolerations, t.SchedulerName
	if len(sel) == 0 {
		sel = spec.NodeSelector
	}
	if len(tol) == 0 {
		tol = spec.Tolerations
	}
	if sched == "" {
		sched = spec.SchedulerName
	}
	a, _ := json.Marshal(sel)
	b, _ := json.Marshal(tol)
	return map[string]string{"nodeSelector": string(a), "tolerations": string(b), "schedulerName": sched}
}

// argoPodSpecPatched is what the workflow's and the template's podSpecPatch, applied in the
// controller's order (workflowpod.go processPodSpecPatch), make of a pod with main and wait; a
// patch that does not apply (parameters) is compared as written.
func argoPodSpecPatched(spec *wfv1.WorkflowSpec, t *wfv1.Template) string {
	t = withDefaultFields(spec, t)
	cur, _ := json.Marshal(corev1.PodSpec{Containers: []corev1.Container{{Name: "main"}, {Name: "wait"}}})
	for _, p := range []string{spec.PodSpecPatch, t.PodSpecPatch} {
		if p == "" {
			continue
		}
		pj, err := yaml.YAMLToJSON([]byte(p))
		if err == nil {
			cur, err = strategicpatch.StrategicMergePatch(cur, pj, corev1.PodSpec{})
		}
		if err != nil {
			return "unapplied: " + spec.PodSpecPatch + " then " + t.PodSpecPatch
		}
	}
	return string(cur)
}

// declaredSpecs maps each pod template of obj to the spec the sizing package reads from it (its
// eci-use-specs annotation, which must stay on the template).
func declaredSpecs(t *testing.T, obj runtime.Object) map[string]string {
	t.Helper()
	doc, err := docOf(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, at := range allTemplates(doc) {
		if pod, _ := podTemplate(at.t); pod {
			out[at.path] = sizing.DeclaredSpec(at.t).String()
		}
	}
	return out
}

// withDefaultFields is t with the placement fields and podSpecPatch of spec.templateDefaults where
// t has none, as the controller's strategic merge of the defaults into the template gives them
// (operator.go mergedTemplateDefaultsInto).
func withDefaultFields(spec *wfv1.WorkflowSpec, t *wfv1.Template) *wfv1.Template {
	d := spec.TemplateDefaults
	if d == nil {
		return t
	}
	c := t.DeepCopy()
	if len(c.NodeSelector) == 0 {
		c.NodeSelector = d.NodeSelector
	}
	if len(c.Tolerations) == 0 {
		c.Tolerations = d.Tolerations
	}
	if c.SchedulerName == "" {
		c.SchedulerName = d.SchedulerName
	}
	if c.PodSpecPatch == "" {
		c.PodSpecPatch = d.PodSpecPatch
	}
	return c
}

// podsMetadata maps the path of every pod template of obj to its pods' metadata and placement.
func podsMetadata(t *testing.T, obj runtime.Object) map[string]map[string]string {
	t.Helper()
	doc, err := docOf(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, at := range allTemplates(doc) {
		if pod, _ := podTemplate(at.t); pod {
			out[at.path] = argoPodMetadata(doc.spec, at.t)
			maps.Copy(out[at.path], argoPodPlacement(doc.spec, at.t))
			out[at.path]["podSpecPatch"] = argoPodSpecPatched(doc.spec, at.t)
		}
	}
	return out
}

// withoutMetadata encodes obj with spec.podMetadata, every template's metadata and the placement
// fields of the workflow and its templates left out.
func withoutMetadata(t *testing.T, obj runtime.Object) []byte {
	t.Helper()
	c := obj.DeepCopyObject()
	doc, err := docOf(c)
	if err != nil {
		t.Fatal(err)
	}
	placed := boundaryFree(doc) // otherwise placement stays where it is: compare it
	doc.spec.PodMetadata, doc.spec.PodSpecPatch = nil, ""
	if placed {
		doc.spec.NodeSelector, doc.spec.Tolerations, doc.spec.SchedulerName = nil, nil, ""
	}
	for _, at := range allTemplates(doc) {
		at.t.Metadata, at.t.PodSpecPatch = wfv1.Metadata{}, ""
		if placed {
			at.t.NodeSelector, at.t.Tolerations, at.t.SchedulerName = nil, nil, ""
		}
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// layouts shapes obj with settings per template (the layout before shared metadata) and with
// shared settings gathered into spec.podMetadata.
func layouts(t *testing.T, p *Profiles, obj runtime.Object) (flat, shared runtime.Object) {
	t.Helper()
	e := NewEngine(p)
	e.perTemplateMetadata = true
	flat, ff, err1 := e.ShapeWorkflow(obj)
	e.perTemplateMetadata = false
	shared, sf, err2 := e.ShapeWorkflow(obj)
	if (err1 == nil) != (err2 == nil) || !reflect.DeepEqual(ff, sf) {
		t.Fatalf("the layouts decide differently: %v / %v\n%v\n%v", err1, err2, ff, sf)
	}
	if err1 == nil { // lint reads the shaped workflow: it must see the same pods in both
		e.perTemplateMetadata = true
		lf, _ := e.Lint(obj)
		e.perTemplateMetadata = false
		ls, _ := e.Lint(obj)
		if !reflect.DeepEqual(lf, ls) {
			t.Errorf("lint differs between the layouts:\n%v\n%v", lf, ls)
		}
	}
	return flat, shared
}

// corpusObjects reads the Argo objects of testdata/corpus and testdata/workflows.
func corpusObjects(t *testing.T) map[string]runtime.Object {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*"))
	more, _ := filepath.Glob(filepath.Join("testdata", "workflows", "*.yaml"))
	if len(files) < 40 {
		t.Fatalf("testdata/corpus holds %d files, want at least 40", len(files))
	}
	out := map[string]runtime.Object{}
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseStream(data)
		if err != nil {
			continue
		}
		for _, o := range s.Objects {
			if o.Object != nil && o.Kind != "Pod" {
				out[f+" "+o.Where] = o.Object
			}
		}
	}
	return out
}

// argoExampleObjects reads the Argo objects of the examples Argo v4.0.7 ships.
func argoExampleObjects(t *testing.T) map[string]runtime.Object {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-json", "github.com/argoproj/argo-workflows/v4").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/argoproj/argo-workflows/v4: %v", err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("Argo's module is not in the module cache: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(m.Dir, "examples", "*.yaml"))
	objs := map[string]runtime.Object{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if s, err := ParseStream(data); err == nil {
			for _, o := range s.Objects {
				if o.Object != nil && o.Kind != "Pod" {
					objs[filepath.Base(f)+" "+o.Where] = o.Object
				}
			}
		}
	}
	if len(objs) < 150 {
		t.Fatalf("only %d Argo examples", len(objs))
	}
	return objs
}

// TestSharedMetadataSamePods: over the corpus and Argo's examples, gathering shared settings into spec.podMetadata
// gives every pod the controller builds exactly the annotations and labels it got with every
// setting on its template, and changes nothing else; rendering the result again changes nothing.
func TestSharedMetadataSamePods(t *testing.T) {
	moved, checked := 0, 0
	selectorOnly := mustProfiles(t, `
default: standard
profiles:
  standard: {placement: [nodeSelector], specs: auto, executorResources: count, spot: {strategy: SpotAsPriceGo}}
`)
	examples := argoExampleObjects(t)
	for _, profiles := range []*Profiles{DefaultProfiles(), mustProfiles(t, fullProfiles), selectorOnly} {
		objs := corpusObjects(t)
		if profiles != selectorOnly {
			maps.Copy(objs, examples)
		}
		for where, obj := range objs {
			flat, shared := layouts(t, profiles, obj)
			if flat == nil {
				continue
			}
			if !reflect.DeepEqual(podsMetadata(t, flat), podsMetadata(t, shared)) {
				t.Errorf("%s: pods get other metadata:\nper template %v\nshared       %v", where, podsMetadata(t, flat), podsMetadata(t, shared))
			}
			if !reflect.DeepEqual(declaredSpecs(t, flat), declaredSpecs(t, shared)) {
				t.Errorf("%s: sizing reads other specs from the templates: %v / %v", where, declaredSpecs(t, flat), declaredSpecs(t, shared))
			}
			if !bytes.Equal(withoutMetadata(t, flat), withoutMetadata(t, shared)) {
				t.Errorf("%s: the layouts differ beyond metadata", where)
			}
			checked++
			if !reflect.DeepEqual(flat, shared) {
				moved++
			}
			again, _, err := NewEngine(profiles).ShapeWorkflow(shared)
			if err != nil || !reflect.DeepEqual(again, shared) {
				t.Errorf("%s: rendering twice changed the object (%v)", where, err)
			}
		}
	}
	t.Logf("%d shaped objects, %d with settings moved to the workflow level: pods the same", checked, moved)
	if moved == 0 {
		t.Error("no setting moved to the workflow level anywhere in the corpus")
	}
}

// TestSharedMetadataOnlyWhereItReachesNoOtherPod: spec.podMetadata also reaches the agent pod and
// the pods of templates from other objects, and a WorkflowTemplate's templates run under the
// podMetadata of the workflows that refer to them: there every setting stays on its template.
func TestSharedMetadataOnlyWhereItReachesNoOtherPod(t *testing.T) {
	two := `
  - name: a
    container: {image: alpine, resources: {requests: {cpu: "1", memory: 2Gi}}}
  - name: b
    container: {image: alpine, resources: {requests: {cpu: "1", memory: 2Gi}}}
`
	cases := map[string]struct {
		doc   string
		moves bool
	}{
		"workflow": {"kind: Workflow\nmetadata: {name: w}\nspec:\n  entrypoint: a\n  templates:" + two, true},
		"cron": {"kind: CronWorkflow\nmetadata: {name: c}\nspec:\n  schedules: ['* * * * *']\n  workflowSpec:\n    entrypoint: a\n    templates:" +
			indent(two, "  "), true},
		"workflowtemplate": {"kind: WorkflowTemplate\nmetadata: {name: t}\nspec:\n  templates:" + two, false},
		"http template (agent pod)": {"kind: Workflow\nmetadata: {name: w}\nspec:\n  entrypoint: a\n  templates:" + two +
			"  - name: h\n    http: {url: 'http://example.com'}\n", false},
		"templateRef": {"kind: Workflow\nmetadata: {name: w}\nspec:\n  entrypoint: s\n  templates:" + two +
			"  - name: s\n    steps: [[{name: x, templateRef: {name: other, template: t}}]]\n", false},
		"hook templateRef": {"kind: Workflow\nmetadata: {name: w}\nspec:\n  entrypoint: a\n  hooks: {exit: {templateRef: {name: other, template: t}}}\n  templates:" + two, false},
	}
	for name, c := range cases {
		obj, err := DecodeObject([]byte("apiVersion: argoproj.io/v1alpha1\n" + c.doc))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		flat, shared := layouts(t, DefaultProfiles(), obj)
		pm := WorkflowSpecOf(shared).PodMetadata
		if got := pm != nil && pm.Annotations[AnnotationShapedBy] != ""; got != c.moves {
			t.Errorf("%s: shaped-by in spec.podMetadata: %v, want %v", name, got, c.moves)
		}
		if !c.moves && !reflect.DeepEqual(flat, shared) {
			t.Errorf("%s: the object changed layout", name)
		}
	}
}

func indent(s, by string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte("\n"), []byte("\n"+by)))
}

// TestSharedMetadataRenderedAgain: settings gathered into spec.podMetadata by one render are
// decided again by the next, exactly as settings on templates are: turning spot off, or skipping
// the workflow, leaves the pods what they would be with every setting on its template.
func TestSharedMetadataRenderedAgain(t *testing.T) {
	base := `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entrypoint: a
  templates:
  - name: a
    container: {image: alpine, resources: {requests: {cpu: "1", memory: 2Gi}}}
  - name: b
    container: {image: alpine, resources: {requests: {cpu: "1", memory: 2Gi}}}
  - name: c
    container: {image: alpine, resources: {requests: {cpu: "2", memory: 4Gi}}}
`
	annotate := func(k, v string) func(*wfv1.Workflow) {
		return func(wf *wfv1.Workflow) { wf.Annotations = map[string]string{k: v} }
	}
	changes := map[string]func(*wfv1.Workflow){
		"spot off":   annotate(AnnotationSpot, "false"),
		"skip":       annotate(AnnotationSkip, "true"),
		"fail-over":  annotate(AnnotationFailStrategy, "fail-over"),
		"profile ci": annotate(AnnotationProfile, "ci"),
		"b skipped":  func(wf *wfv1.Workflow) { tmplByName(&wf.Spec, "b").Metadata.Annotations[AnnotationSkip] = "true" },
		"a resized": func(wf *wfv1.Workflow) {
			tmplByName(&wf.Spec, "a").Container.Resources = tmplByName(&wf.Spec, "c").Container.Resources
		},
		"b gets a pin": func(wf *wfv1.Workflow) { tmplByName(&wf.Spec, "b").Metadata.Annotations[AnnotationSpecs] = "4-8Gi" },
	}
	for name, change := range changes {
		obj, err := DecodeObject([]byte(base))
		if err != nil {
			t.Fatal(err)
		}
		p := mustProfiles(t, fullProfiles)
		flat, shared := layouts(t, p, obj)
		for _, o := range []runtime.Object{flat, shared} {
			wf := o.(*wfv1.Workflow)
			for i := range wf.Spec.Templates {
				if wf.Spec.Templates[i].Metadata.Annotations == nil {
					wf.Spec.Templates[i].Metadata.Annotations = map[string]string{}
				}
			}
			change(wf)
		}
		// Each layout is rendered again by the engine that wrote it.
		flat2, _ := layouts(t, p, flat)
		e := NewEngine(p)
		shared2, sf, err := e.ShapeWorkflow(shared)
		if err != nil {
			t.Fatal(err)
		}
		e.perTemplateMetadata = true
		if _, ff, _ := e.ShapeWorkflow(flat); !reflect.DeepEqual(ff, sf) {
			t.Errorf("%s: findings differ:\n%v\n%v", name, ff, sf)
		}
		if !reflect.DeepEqual(podsMetadata(t, flat2), podsMetadata(t, shared2)) {
			t.Errorf("%s: pods differ:\nper template %v\nshared       %v", name, podsMetadata(t, flat2), podsMetadata(t, shared2))
		}
		if name == "spot off" {
			for path, m := range podsMetadata(t, shared2) {
				if m["annotation "+eci.AnnotationSpotStrategy] != "" {
					t.Errorf("%s: %s keeps spot %q", name, path, m["annotation "+eci.AnnotationSpotStrategy])
				}
			}
		}
	}
}

// TestPlacementMovesOnlyWithoutBoundary: nodeSelector and tolerations every pod template carries
// move to the workflow, except when a DAG template sets its own (the controller prefers it to the
// workflow's) or a template left alone has none.
func TestPlacementMovesOnlyWithoutBoundary(t *testing.T) {
	p := mustProfiles(t, `
default: standard
profiles:
  standard: {placement: [label, nodeSelector], specs: auto}
`)
	wf := func(dagSelector, skipB string) runtime.Object {
		obj, err := DecodeObject([]byte(`apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entrypoint: main
  templates:
  - name: main
    ` + dagSelector + `
    dag: {tasks: [{name: a, template: a}, {name: b, template: b}]}
  - name: a
    container: {image: alpine}
  - name: b
    metadata: {annotations: {argo-eci.io/skip: "` + skipB + `"}}
    container: {image: alpine}
`))
		if err != nil {
			t.Fatal(err)
		}
		return obj
	}
	defaulted := func(obj runtime.Object, sel map[string]string) runtime.Object {
		spec := WorkflowSpecOf(obj)
		spec.TemplateDefaults = &wfv1.Template{NodeSelector: sel, Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}},
			PodSpecPatch: `{"priorityClassName":"batch"}`}
		return obj
	}
	for _, c := range []struct {
		name       string
		obj        runtime.Object
		moves      bool
		wantPlaced int // pod templates whose pods go to the virtual nodes
	}{
		{"plain", wf("", "false"), true, 2},
		{"DAG nodeSelector", wf("nodeSelector: {pool: batch}", "false"), false, 2},
		{"one template skipped", wf("", "true"), false, 1},
		{"templateDefaults nodeSelector", defaulted(wf("", "false"), map[string]string{"disk": "ssd"}), false, 2},
	} {
		flat, shared := layouts(t, p, c.obj)
		spec := WorkflowSpecOf(shared)
		if moved := spec.NodeSelector[eci.NodeLabelType] != "" && len(spec.Tolerations) == 1; moved != c.moves {
			t.Errorf("%s: placement in the workflow: %v, want %v", c.name, moved, c.moves)
		}
		placed := 0
		for path, m := range podsMetadata(t, shared) {
			if strings.Contains(m["nodeSelector"], eci.NodeTypeVirtualKubelet) {
				placed++
			}
			if !reflect.DeepEqual(m, podsMetadata(t, flat)[path]) {
				t.Errorf("%s: %s: pods differ:\n%v\n%v", c.name, path, m, podsMetadata(t, flat)[path])
			}
		}
		if placed != c.wantPlaced {
			t.Errorf("%s: %d pod templates placed on ECI, want %d", c.name, placed, c.wantPlaced)
		}
	}
}

// TestInvariantsSelectorPlacement: the invariants over the corpus with a profile that places by
// nodeSelector and tolerations, which move to the workflow when every template shares them: the
// pod webhook changes nothing on the pods the controller builds from the rendered workflows.
func TestInvariantsSelectorPlacement(t *testing.T) {
	e := NewEngine(mustProfiles(t, `
default: standard
profiles:
  standard: {placement: [nodeSelector], specs: auto, spot: {strategy: SpotAsPriceGo}, executorResources: ignore}
`))
	for where, obj := range corpusObjects(t) {
		checkWorkflowInvariants(t, e, obj, where)
	}
}

// TestParametersStayOnTemplates: the controller substitutes a template's "{{...}}" with its inputs,
// which the workflow's fields do not have, so values with parameters are never moved.
func TestParametersStayOnTemplates(t *testing.T) {
	tmpl := func(name string) string {
		return `
  - name: ` + name + `
    inputs: {parameters: [{name: vsw}, {name: pool}]}
    metadata: {annotations: {k8s.aliyun.com/eci-vswitch: "{{inputs.parameters.vsw}}"}}
    nodeSelector: {pool: "{{inputs.parameters.pool}}"}
    container: {image: alpine, resources: {requests: {cpu: "1", memory: 2Gi}}}`
	}
	obj, err := DecodeObject([]byte("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nspec:\n  entrypoint: a\n  templates:" +
		tmpl("a") + tmpl("b") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := mustProfiles(t, "default: standard\nprofiles:\n  standard: {placement: [nodeSelector], specs: auto}\n")
	_, shared := layouts(t, p, obj)
	spec := WorkflowSpecOf(shared)
	for i := range spec.Templates {
		tm := &spec.Templates[i]
		if tm.Metadata.Annotations[eci.AnnotationVSwitch] == "" || tm.NodeSelector["pool"] == "" {
			t.Errorf("template %s lost a value with parameters: %v %v", tm.Name, tm.Metadata.Annotations, tm.NodeSelector)
		}
	}
	if pm := spec.PodMetadata; pm == nil || pm.Annotations[AnnotationShapedBy] == "" {
		t.Errorf("values without parameters did not move: %+v", pm)
	}
}
