package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/tidwall/gjson"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argo-eci/argo-eci/emissary"
)

// leaves flattens a JSON document into pointer → raw value for every scalar, empty object and
// empty array.
func leaves(doc string) map[string]string {
	out := map[string]string{}
	var walk func(path string, v gjson.Result)
	walk = func(path string, v gjson.Result) {
		switch {
		case v.IsObject() && len(v.Map()) > 0:
			v.ForEach(func(k, e gjson.Result) bool {
				walk(path+"/"+escapePointer(k.String()), e)
				return true
			})
		case v.IsArray() && len(v.Array()) > 0:
			for i, e := range v.Array() {
				walk(path+"/"+strconv.Itoa(i), e)
			}
		default:
			out[path] = strings.TrimSpace(v.Raw)
		}
	}
	walk("", gjson.Parse(doc))
	return out
}

// underAny reports whether path is one of changed or below or above one of them.
func underAny(path string, changed map[string]bool) bool {
	for p := path; ; {
		if changed[p] {
			return true // path or one of its ancestors changed
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return changed[ancestorKey+path] // a descendant of path changed
}

// ancestorKey marks, in a changed set, the ancestors of changed paths.
const ancestorKey = "\x00"

// withAncestors adds to changed a marked entry for every ancestor of a changed path.
func withAncestors(changed map[string]bool) map[string]bool {
	out := make(map[string]bool, 2*len(changed))
	for p := range changed {
		out[p] = true
		for i := strings.LastIndexByte(p, '/'); i >= 0; i = strings.LastIndexByte(p[:i], '/') {
			out[ancestorKey+p[:i]] = true
		}
	}
	return out
}

// checkOnlyChanges is the patch invariant: applied to raw, the patch changes exactly the leaves
// that argo-eci changed between the typed object before and after shaping. Every other leaf of
// raw (fields the Go types do not know included) stays byte for byte, and nothing that argo-eci
// did not change (typed-encoding noise such as inputs: {} or name: "") is added.
func checkOnlyChanges(t *testing.T, raw, before, after, patched []byte) {
	t.Helper()
	bl, al := leaves(string(before)), leaves(string(after))
	changed := map[string]bool{}
	for p, v := range bl {
		if al[p] != v {
			changed[p] = true
		}
	}
	for p, v := range al {
		if bl[p] != v && v != "null" {
			changed[p] = true
		}
	}
	changed = withAncestors(changed)
	rl, pl := leaves(string(raw)), leaves(string(patched))
	for p, v := range rl {
		if pl[p] != v && !underAny(p, changed) {
			t.Errorf("%s changed from %s to %q although argo-eci did not change it", p, v, pl[p])
		}
	}
	for p, v := range pl {
		if _, ok := rl[p]; ok {
			continue
		}
		if !underAny(p, changed) {
			t.Errorf("%s = %s added although argo-eci did not change it", p, v)
		} else if al[p] != v {
			t.Errorf("%s = %s added, but argo-eci's value is %s", p, v, al[p])
		}
	}
}

// applyJSONPatch applies a JSON patch (nil = none) to doc.
func applyJSONPatch(t *testing.T, doc, patch []byte) []byte {
	t.Helper()
	if len(patch) == 0 {
		return doc
	}
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatalf("decoding the patch: %v\n%s", err, patch)
	}
	out, err := p.Apply(doc)
	if err != nil {
		t.Fatalf("applying the patch: %v\n%s", err, patch)
	}
	return out
}

// v35CronWorkflow is a CronWorkflow as Argo v3.5 users write it (singular schedule, mutex and
// semaphore), with fields of a future Argo version besides.
const v35CronWorkflow = `{"apiVersion":"argoproj.io/v1alpha1","kind":"CronWorkflow",
"metadata":{"name":"nightly","namespace":"ci","labels":{"team":"data"}},
"spec":{"schedule":"0 1 * * *","timezone":"Asia/Shanghai","concurrencyPolicy":"Replace",
 "futureCronField":{"mode":"fancy","n":3},
 "workflowSpec":{"entrypoint":"main",
  "synchronization":{"mutex":{"name":"nightly"}},
  "futureSpecField":[1,2,3],
  "templates":[
   {"name":"main","steps":[[{"name":"a","template":"work"}],[{"name":"b","template":"work"}]]},
   {"name":"work","synchronization":{"semaphore":{"configMapKeyRef":{"name":"limits","key":"work"}}},
    "futureTemplateField":{"x":"y"},
    "container":{"image":"alpine:3.20","command":["sh","-c","echo hi"],
     "resources":{"requests":{"cpu":"1000m","memory":"1Gi"}},
     "futureContainerField":"keep"}}]}}}`

// v35Workflow is a Workflow of the same era: workflow semaphore, template mutex, an unknown
// template field and a quantity written as a number.
const v35Workflow = `{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow",
"metadata":{"generateName":"fan-","namespace":"ci"},
"spec":{"entrypoint":"main","synchronization":{"semaphore":{"configMapKeyRef":{"name":"limits","key":"wf"}}},
 "templates":[
  {"name":"main","dag":{"tasks":[{"name":"a","template":"work"},{"name":"b","template":"script","dependencies":["a"]}]}},
  {"name":"work","synchronization":{"mutex":{"name":"work"}},"futureTemplateField":1,
   "container":{"image":"alpine:3.20","command":["true"],"resources":{"limits":{"cpu":2,"memory":"4Gi"}}}},
  {"name":"script","retryStrategy":{"limit":"1"},
   "script":{"image":"python:3.12","command":["python"],"source":"print(1)","futureScriptField":"x"}}]}}`

// v35WorkflowTemplate is a WorkflowTemplate with an unknown field at every level.
const v35WorkflowTemplate = `{"apiVersion":"argoproj.io/v1alpha1","kind":"WorkflowTemplate",
"metadata":{"name":"lib","namespace":"ci","futureMetaField":"m"},
"spec":{"futureSpecField":"s","templates":[
  {"name":"work","metadata":{"annotations":{"team":"x"}},"futureTemplateField":{"a":[{"b":1}]},
   "container":{"image":"alpine:3.20","resources":{"requests":{"cpu":"500m","memory":"512Mi"}}}}]}}`

func TestWorkflowPatchKeepsFieldsTheTypesDoNotKnow(t *testing.T) {
	engines := realStore(t, testProfiles)
	ts := startServer(t, &Server{Engines: engines})
	for _, tc := range []struct {
		kind string
		raw  string
		keep []string // gjson paths whose values must survive
	}{
		{"CronWorkflow", v35CronWorkflow, []string{"spec.schedule", "spec.futureCronField",
			"spec.workflowSpec.synchronization.mutex", "spec.workflowSpec.futureSpecField",
			"spec.workflowSpec.templates.1.synchronization.semaphore",
			"spec.workflowSpec.templates.1.futureTemplateField",
			"spec.workflowSpec.templates.1.container.futureContainerField",
			"spec.workflowSpec.templates.1.container.resources.requests.cpu"}},
		{"Workflow", v35Workflow, []string{"spec.synchronization.semaphore", "spec.templates.1.synchronization.mutex",
			"spec.templates.1.futureTemplateField", "spec.templates.1.container.resources.limits.cpu",
			"spec.templates.2.script.futureScriptField", "spec.templates.2.retryStrategy"}},
		{"WorkflowTemplate", v35WorkflowTemplate, []string{"metadata.futureMetaField", "spec.futureSpecField",
			"spec.templates.0.futureTemplateField", "spec.templates.0.metadata.annotations.team"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			raw := compact(t, tc.raw)
			gvk := metav1.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: tc.kind}
			status, out, body := ts.post(t, PathWorkflows, review(t, "u-1", gvk, admissionv1.Create, "ci", "", raw))
			if status != http.StatusOK || !out.Response.Allowed || out.Response.Patch == nil {
				t.Fatalf("want allowed with a patch, got status %d: %s", status, body)
			}
			patched := applyJSONPatch(t, raw, out.Response.Patch)
			for _, p := range tc.keep {
				want, got := gjson.GetBytes(raw, p), gjson.GetBytes(patched, p)
				if !want.Exists() || got.Raw != want.Raw {
					t.Errorf("%s: got %s, want %s (unchanged)", p, got.Raw, want.Raw)
				}
			}
			obj := newTypedObject(t, tc.kind)
			if err := decodeObject(raw, obj); err != nil {
				t.Fatal(err)
			}
			before := marshalGo(t, obj)
			shaped, _, err := engines.Current().ShapeWorkflow(obj)
			if err != nil {
				t.Fatal(err)
			}
			checkOnlyChanges(t, raw, before, marshalGo(t, shaped), patched)

			// Shaping the patched object again changes nothing: the stored object does not grow.
			_, again, body := ts.post(t, PathWorkflows, review(t, "u-2", gvk, admissionv1.Update, "ci", "", patched))
			if !again.Response.Allowed || again.Response.Patch != nil {
				t.Errorf("second pass: %s, want no patch", body)
			}
		})
	}
}

// TestStoredWorkflowDoesNotGrow checks the size of what the apiserver stores: a large fan-out
// Workflow grows by argo-eci's additions only, not by a typed re-encoding of every template.
func TestStoredWorkflowDoesNotGrow(t *testing.T) {
	raw := bigWorkflow(t, 256<<10)
	s := &Server{Engines: realStore(t, testProfiles), Logger: quietLogger(t), Metrics: NewMetrics()}
	s.init()
	gvk := metav1.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Workflow"}
	v := s.admitWorkflow(t.Context(), decodeRequest(t, review(t, "u", gvk, admissionv1.Create, "ci", "", raw)))
	if v.outcome != outcomeShaped {
		t.Fatalf("outcome %s: %s", v.outcome, v.message)
	}
	patched := applyJSONPatch(t, raw, v.patch)
	// What argo-eci adds is the growth of the typed encoding from before to after shaping; the
	// stored object may grow by that (plus the keys of parents the raw object lacked), no more.
	obj := newTypedObject(t, "Workflow")
	if err := decodeObject(raw, obj); err != nil {
		t.Fatal(err)
	}
	before := marshalGo(t, obj)
	shaped, _, err := s.Engines.Current().ShapeWorkflow(obj)
	if err != nil {
		t.Fatal(err)
	}
	added := len(marshalGo(t, shaped)) - len(before)
	if growth := len(patched) - len(raw); growth > added+added/10 {
		t.Errorf("stored workflow grew by %d bytes (%d → %d); argo-eci added %d", growth, len(raw), len(patched), added)
	}
	t.Logf("%d templates, %d → %d bytes (argo-eci added %d), patch %d bytes", templateCount(raw), len(raw), len(patched), added, len(v.patch))
	checkOnlyChanges(t, raw, before, marshalGo(t, shaped), patched)
	// Every operation carries at least one leaf argo-eci changed.
	bl, al := leaves(string(before)), leaves(string(marshalGo(t, shaped)))
	changed := 0
	for p, v := range al {
		if bl[p] != v && v != "null" {
			changed++
		}
	}
	for p := range bl {
		if _, ok := al[p]; !ok {
			changed++
		}
	}
	if ops := bytes.Count(v.patch, []byte(`"op":`)); ops > changed {
		t.Errorf("%d operations for %d changed leaves: operations where argo-eci changed nothing", ops, changed)
	}
}

// TestKeysMatchCaseSensitively: the apiserver and Argo's controller match JSON keys exactly, so
// a "Templates" key is not spec.templates and must be neither shaped nor rewritten.
func TestKeysMatchCaseSensitively(t *testing.T) {
	raw := compact(t, `{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"name":"w","namespace":"ci"},
"spec":{"entrypoint":"main","Templates":[{"name":"main","container":{"image":"alpine:3.20","resources":{"requests":{"cpu":"1"}}}}]}}`)
	s := &Server{Engines: realStore(t, testProfiles), Logger: quietLogger(t), Metrics: NewMetrics()}
	s.init()
	gvk := metav1.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Workflow"}
	v := s.admitWorkflow(t.Context(), decodeRequest(t, review(t, "u", gvk, admissionv1.Create, "ci", "", raw)))
	if bytes.Contains(v.patch, []byte("emplates")) {
		t.Errorf("the patch touches a key Argo does not read as spec.templates: %s", v.patch)
	}
	patched := applyJSONPatch(t, raw, v.patch)
	if got, want := gjson.GetBytes(patched, "spec.Templates").Raw, gjson.GetBytes(raw, "spec.Templates").Raw; got != want {
		t.Errorf("spec.Templates = %s, want %s", got, want)
	}
}

// TestPodPatchKeepsFieldsTheTypesDoNotKnow: pod fields newer than our k8s.io/api survive.
func TestPodPatchKeepsFieldsTheTypesDoNotKnow(t *testing.T) {
	_, typical := typicalPod(t)
	var pod map[string]any
	if err := json.Unmarshal(typical, &pod); err != nil {
		t.Fatal(err)
	}
	spec := pod["spec"].(map[string]any)
	spec["hostnameOverride"] = "future-host"
	spec["futurePodField"] = map[string]any{"a": []any{1.0, "b"}}
	for _, c := range spec["containers"].([]any) {
		c.(map[string]any)["restartPolicyRules"] = []any{map[string]any{"action": "Restart"}}
	}
	raw := marshalGo(t, pod)
	engines := realStore(t, testProfiles)
	s := &Server{Engines: engines, Logger: quietLogger(t), Metrics: NewMetrics()}
	s.init()
	v := s.admitPod(t.Context(), decodeRequest(t, podReview(t, "u", raw)))
	if v.outcome != outcomeShaped {
		t.Fatalf("outcome %s: %s", v.outcome, v.message)
	}
	patched := applyJSONPatch(t, raw, v.patch)
	for _, p := range []string{"spec.hostnameOverride", "spec.futurePodField", "spec.containers.0.restartPolicyRules", "spec.containers.1.restartPolicyRules"} {
		if want, got := gjson.GetBytes(raw, p), gjson.GetBytes(patched, p); !want.Exists() || got.Raw != want.Raw {
			t.Errorf("%s: got %s, want %s", p, got.Raw, want.Raw)
		}
	}
	typed, _ := readPodBytes(t, raw)
	before := marshalGo(t, typed)
	res, err := engines.Current().ShapePodAt(typed, nil, time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recordOwnAnnotations(typed, res.Pod)
	checkOnlyChanges(t, raw, before, marshalGo(t, res.Pod), patched)
}

// TestChangePatchArrays covers the array cases directly: appended elements, an element changed
// in place, and an element removed from the middle, each keeping raw's unknown members.
func TestChangePatchArrays(t *testing.T) {
	for _, tc := range []struct {
		name               string
		raw, before, after string
		want               string
	}{
		{"append", `{"a":[{"name":"x","u":1}]}`, `{"a":[{"name":"x"}]}`, `{"a":[{"name":"x"},{"name":"y"}]}`,
			`{"a":[{"name":"x","u":1},{"name":"y"}]}`},
		{"change in place", `{"a":[{"name":"x","u":1,"v":"1"}]}`, `{"a":[{"name":"x","v":"1"}]}`, `{"a":[{"name":"x","v":"2"}]}`,
			`{"a":[{"name":"x","u":1,"v":"2"}]}`},
		{"remove from the middle", `{"a":[{"name":"x","u":1},{"name":"y"},{"name":"z","u":3}]}`,
			`{"a":[{"name":"x"},{"name":"y"},{"name":"z"}]}`, `{"a":[{"name":"x"},{"name":"z","w":4}]}`,
			`{"a":[{"name":"x","u":1},{"name":"z","u":3,"w":4}]}`},
		{"missing parent gets only the change", `{"m":{}}`, `{"m":{"inputs":{},"metadata":{"labels":null}}}`,
			`{"m":{"inputs":{},"metadata":{"labels":null,"annotations":{"k":"v"}}}}`,
			`{"m":{"metadata":{"annotations":{"k":"v"}}}}`},
		{"removed member", `{"m":{"k":"v","u":1}}`, `{"m":{"k":"v"}}`, `{"m":{}}`, `{"m":{"u":1}}`},
		{"null in after removes", `{"m":{"k":"v"}}`, `{"m":{"k":"v"}}`, `{"m":{"k":null}}`, `{"m":{}}`},
		{"unchanged", `{"m":{"cpu":"1000m"}}`, `{"m":{"cpu":"1"}}`, `{"m":{"cpu":"1"}}`, `{"m":{"cpu":"1000m"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			patch, err := changePatch([]byte(tc.raw), []byte(tc.before), []byte(tc.after))
			if err != nil {
				t.Fatal(err)
			}
			got := applyJSONPatch(t, []byte(tc.raw), patch)
			if !jsonpatch.Equal(got, []byte(tc.want)) {
				t.Errorf("got %s, want %s (patch %s)", got, tc.want, patch)
			}
		})
	}
}

// bigWorkflow returns a Workflow of at least size bytes as the apiserver sends it: a DAG fanning
// out to container templates, each a little different.
func bigWorkflow(t testing.TB, size int) []byte {
	t.Helper()
	var tasks, templates []string
	total := 0
	for i := 0; total < size; i++ {
		task := fmt.Sprintf(`{"name":"t%d","template":"work-%d","arguments":{"parameters":[{"name":"shard","value":"%d"}]}}`, i, i, i)
		tmpl := fmt.Sprintf(`{"name":"work-%d","inputs":{"parameters":[{"name":"shard"}]},
"container":{"image":"registry.example.com/team/worker:v1.%d","command":["python","-m","worker"],
"args":["--shard","{{inputs.parameters.shard}}","--input","oss://bucket/data/part-%05d","--output","oss://bucket/out/part-%05d"],
"env":[{"name":"MODE","value":"batch"},{"name":"SHARD","value":"{{inputs.parameters.shard}}"},{"name":"LOG_LEVEL","value":"info"}],
"resources":{"requests":{"cpu":"%dm","memory":"%dMi"}}}}`, i, i%7, i, i, 500+(i%4)*500, 1024+(i%3)*1024)
		tasks, templates = append(tasks, task), append(templates, tmpl)
		total += len(task) + len(tmpl)
	}
	doc := fmt.Sprintf(`{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"generateName":"fan-","namespace":"ci"},
"spec":{"entrypoint":"main","templates":[{"name":"main","dag":{"tasks":[%s]}},%s]}}`, strings.Join(tasks, ","), strings.Join(templates, ","))
	return compact(t, doc)
}

func templateCount(raw []byte) int { return int(gjson.GetBytes(raw, "spec.templates.#").Int()) }

func compact(t testing.TB, doc string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(doc)); err != nil {
		t.Fatalf("test JSON: %v", err)
	}
	return buf.Bytes()
}

func marshalGo(t testing.TB, v any) []byte {
	t.Helper()
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func decodeRequest(t testing.TB, body []byte) *admissionv1.AdmissionRequest {
	t.Helper()
	r, err := DecodeReview(body)
	if err != nil {
		t.Fatal(err)
	}
	return r.Request
}

func readPodBytes(t testing.TB, raw []byte) (*corev1.Pod, []byte) {
	t.Helper()
	pod := &corev1.Pod{}
	if err := decodeObject(raw, pod); err != nil {
		t.Fatal(err)
	}
	return pod, raw
}

func newTypedObject(t testing.TB, kind string) runtime.Object {
	t.Helper()
	obj := emissary.NewWorkflowObject(kind)
	if obj == nil {
		t.Fatalf("no typed object for kind %s", kind)
	}
	return obj
}
