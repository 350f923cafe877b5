package emissary

import (
	"bytes"
	"encoding/json"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/badinput"
)

// DecodeObject decodes one Workflow, CronWorkflow, WorkflowTemplate, ClusterWorkflowTemplate (or
// Pod, for lint) from YAML or JSON. Unknown fields and values of the wrong type are errors naming
// their field (render would otherwise drop them silently); errors are *badinput.Error.
func DecodeObject(data []byte) (runtime.Object, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fieldError("input", "empty document")
	}
	if n := countDocuments(data); n > 1 {
		return nil, fieldErrorf("input", "%d YAML documents; expected one object (split the file)", n)
	}
	jsonData, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fieldError("input", "malformed YAML/JSON: "+err.Error())
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(jsonData, &head); err != nil {
		return nil, fieldError("input", "expected a single Kubernetes object: "+err.Error())
	}
	obj := NewWorkflowObject(head.Kind)
	switch {
	case head.Kind == "Pod":
		obj = &corev1.Pod{}
	case head.Kind == "":
		return nil, fieldError("kind", "missing (expected Workflow, CronWorkflow, WorkflowTemplate or ClusterWorkflowTemplate)")
	case obj == nil:
		return nil, fieldErrorf("kind", "expected Workflow, CronWorkflow, WorkflowTemplate or ClusterWorkflowTemplate, got %q", head.Kind)
	}
	wantGroup := "argoproj.io/"
	if head.Kind == "Pod" {
		wantGroup = "v1"
	}
	if !strings.HasPrefix(head.APIVersion, wantGroup) {
		return nil, fieldErrorf("apiVersion", "expected %sv1alpha1 for kind %s, got %q", strings.TrimSuffix(wantGroup, "v1"), head.Kind, head.APIVersion)
	}
	if errs := badinput.DecodeJSON(jsonData, obj, nil); len(errs) > 0 {
		return nil, &badinput.Error{Errs: errs}
	}
	return obj, nil
}

// countDocuments counts the non-empty documents of a YAML stream (separated by "---" lines).
func countDocuments(data []byte) int {
	n, content := 0, false
	for _, line := range bytes.Split(data, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if bytes.HasPrefix(line, []byte("---")) && (len(t) == 3 || t[3] == ' ' || t[3] == '#') {
			if content {
				n++
			}
			content = false
			continue
		}
		if len(t) > 0 && t[0] != '#' {
			content = true
		}
	}
	if content {
		n++
	}
	return n
}

// NewWorkflowObject returns an empty Argo object of kind (Workflow, CronWorkflow, WorkflowTemplate
// or ClusterWorkflowTemplate) to decode into, or nil for any other kind.
func NewWorkflowObject(kind string) runtime.Object {
	switch kind {
	case "Workflow":
		return &wfv1.Workflow{}
	case "CronWorkflow":
		return &wfv1.CronWorkflow{}
	case "WorkflowTemplate":
		return &wfv1.WorkflowTemplate{}
	case "ClusterWorkflowTemplate":
		return &wfv1.ClusterWorkflowTemplate{}
	}
	return nil
}
