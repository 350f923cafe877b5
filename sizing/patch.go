package sizing

import (
	"fmt"
	"strconv"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/argo-eci/argo-eci/eci"
)

// Patch is one entry of a kustomization's patches list: JSON 6902 operations on one
// WorkflowTemplate or ClusterWorkflowTemplate that write learned specs into the templates'
// resources, for teams that keep sizes in git.
type Patch struct {
	Target PatchTarget `json:"target"`
	// Patch is the JSON 6902 operations as YAML, as kustomize expects them.
	Patch string `json:"patch"`
}

// PatchTarget selects the object a Patch applies to.
type PatchTarget struct {
	Group     string `json:"group"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// PatchOp is one JSON 6902 operation.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// PatchOps returns the JSON 6902 operations that make template name of templates bill spec: the main
// container's (or script's) requests and limits set to the spec, and its eci-use-specs annotation
// replaced when it has one. The error says why a template cannot be patched (not found, not a
// container or script template, or it has sidecars whose resources ECI would add).
func PatchOps(templates []wfv1.Template, name string, spec eci.Spec) ([]PatchOp, error) {
	for i := range templates {
		t := &templates[i]
		if t.Name != name {
			continue
		}
		base := "/spec/templates/" + strconv.Itoa(i)
		var field string
		switch {
		case t.Container != nil:
			field = "/container/resources"
		case t.Script != nil:
			field = "/script/resources"
		default:
			return nil, fmt.Errorf("template %s is not a container or script template", name)
		}
		if len(t.Sidecars) > 0 {
			return nil, fmt.Errorf("template %s has sidecars: set its resources by hand (ECI adds the sidecars' resources to the spec)", name)
		}
		list := corev1.ResourceList{
			corev1.ResourceCPU:    *resource.NewMilliQuantity(spec.MilliCPU, resource.DecimalSI),
			corev1.ResourceMemory: *resource.NewQuantity(spec.MemoryMiB*mib, resource.BinarySI),
		}
		ops := []PatchOp{{Op: "add", Path: base + field, Value: corev1.ResourceRequirements{Requests: list, Limits: list}}}
		if _, ok := t.Metadata.Annotations[eci.AnnotationUseSpecs]; ok {
			ops = append(ops, PatchOp{Op: "replace", Path: base + "/metadata/annotations/" + strings.ReplaceAll(eci.AnnotationUseSpecs, "/", "~1"), Value: spec.String()})
		}
		return ops, nil
	}
	return nil, fmt.Errorf("template %s not found", name)
}
