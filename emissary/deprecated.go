package emissary

import (
	"encoding/json"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// replacedFields maps fields of older Argo versions, which Argo v4.0.7's types no longer have, to
// the fields that replace them (Argo v3.6 upgrade notes: schedules, mutexes, semaphores).
var replacedFields = map[string]string{
	"schedule":                  "schedules",
	"synchronization.semaphore": "synchronization.semaphores",
	"synchronization.mutex":     "synchronization.mutexes",
}

// UnknownFieldFindings turns the unknown fields of a stream object into warnings: render keeps
// them as written; fields of older Argo versions are named with the field that replaces them.
func UnknownFieldFindings(o *StreamObject) []Finding {
	var out []Finding
	for _, path := range o.Unknown {
		f := Finding{Code: CodeUnknownField, Severity: SeverityWarning, Path: path,
			Message: "field unknown to Argo v4.0.7: kept as written; controllers that do not know it ignore it"}
		switch {
		case strings.HasSuffix(path, "podResources"):
			f.Severity = SeverityInfo
			f.Message = "Argo v4.1 pod-level resources: kept as written; render cannot count them, the pod webhook sizes the pod from pod.spec.resources"
		case strings.HasSuffix(path, "executorPlugins"):
			f.Severity = SeverityInfo
			f.Message = "Argo v4.1 workflow-level executor plugins: kept as written; their sidecars run in the agent pod, which the pod webhook shapes"
		}
		for old, repl := range replacedFields {
			if path == "spec."+old || strings.HasSuffix(path, "."+old) {
				f.Message = "deprecated field: kept as written, but Argo v3.6 and later read " + repl + " instead"
				f.Hint = "use " + repl
			}
		}
		out = append(out, f)
	}
	return out
}

// Upgraded returns the object as Argo v3.6 and later read it: the singular fields of older
// versions moved into the lists that replace them (schedule → schedules,
// synchronization.semaphore → semaphores, synchronization.mutex → mutexes), where the list is not
// set already. Lint validates this form, so a file written for a v3.5 controller is not reported
// as rejected for using the fields that controller reads. It returns o.Object when nothing moved.
func (o *StreamObject) Upgraded() (runtime.Object, error) {
	if o.Object == nil || len(o.Unknown) == 0 {
		return o.Object, nil
	}
	var tree any
	if err := o.node.Decode(&tree); err != nil {
		return nil, err
	}
	if !upgradeTree(tree, "") {
		return o.Object, nil
	}
	raw, err := json.Marshal(tree)
	if err != nil {
		return nil, err
	}
	obj := o.Object.DeepCopyObject()
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// upgradeTree moves deprecated singular fields into their lists, in place; key is v's key.
func upgradeTree(v any, key string) bool {
	moved := false
	switch x := v.(type) {
	case map[string]any:
		move := func(from, to string) {
			if val, ok := x[from]; ok {
				if _, set := x[to]; !set {
					x[to] = []any{val}
				}
				delete(x, from)
				moved = true
			}
		}
		if _, isCron := x["workflowSpec"]; isCron && key == "spec" {
			move("schedule", "schedules")
		}
		if key == "synchronization" {
			move("semaphore", "semaphores")
			move("mutex", "mutexes")
		}
		for k, c := range x {
			moved = upgradeTree(c, k) || moved
		}
	case []any:
		for _, c := range x {
			moved = upgradeTree(c, key) || moved
		}
	}
	return moved
}
