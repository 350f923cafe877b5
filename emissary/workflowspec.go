package emissary

import (
	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
)

// WorkflowSpecOf returns the WorkflowSpec inside a Workflow, CronWorkflow, WorkflowTemplate or
// ClusterWorkflowTemplate (the object's own, not a copy), or nil for any other object.
func WorkflowSpecOf(obj runtime.Object) *wfv1.WorkflowSpec {
	switch o := obj.(type) {
	case *wfv1.Workflow:
		return &o.Spec
	case *wfv1.CronWorkflow:
		return &o.Spec.WorkflowSpec
	case *wfv1.WorkflowTemplate:
		return &o.Spec
	case *wfv1.ClusterWorkflowTemplate:
		return &o.Spec
	}
	return nil
}
