// Package lint holds the checks of `argo-eci lint` that need more than argo-eci's shaping engine:
// Argo's own workflow validation, run offline. It lives apart from package emissary so that the
// engine, linked into every subcommand, does not pull in Argo's validation and the artifact
// drivers (HDFS, Kerberos, ...) it imports.
package lint

import (
	"context"
	"io"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/workflow/templateresolution"
	"github.com/argoproj/argo-workflows/v4/workflow/validate"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argo-eci/argo-eci/emissary"
)

// Finding codes of the Argo validation check.
const (
	CodeArgoRejects   = "ARGO001" // Argo's own validation rejects the object
	CodeArgoNotOnline = "ARGO000" // not validated: it references templates only a cluster has
)

// ArgoValidation runs Argo's own validation — what `argo submit`, `argo lint` and the controller
// check — on a Workflow, CronWorkflow or WorkflowTemplate, offline. Objects that reference other
// templates (workflowTemplateRef, templateRef) cannot be resolved without a cluster and get an
// info finding instead. It does no I/O: template look-ups go to Argo's null getters.
func ArgoValidation(obj runtime.Object) *emissary.Finding {
	obj = obj.DeepCopyObject() // Argo's validation may fill in defaults; inputs stay untouched
	var spec *wfv1.WorkflowSpec
	switch o := obj.(type) {
	case *wfv1.Workflow:
		spec = &o.Spec
	case *wfv1.CronWorkflow:
		spec = &o.Spec.WorkflowSpec
	case *wfv1.WorkflowTemplate:
		spec = &o.Spec
	default:
		return nil
	}
	if referencesTemplates(spec) {
		return &emissary.Finding{Code: CodeArgoNotOnline, Severity: emissary.SeverityInfo, Path: "spec",
			Message: "not checked against Argo's validation: it references WorkflowTemplates that only the cluster has",
			Hint:    "run `argo lint` against the cluster"}
	}
	ctx := logging.WithLogger(context.Background(), logging.NewSlogLoggerCustom(logging.Error, logging.Text, io.Discard))
	wfGetter, cwfGetter := &templateresolution.NullWorkflowTemplateNamespacedGetter{}, &templateresolution.NullClusterWorkflowTemplateGetter{}
	var err error
	switch o := obj.(type) {
	case *wfv1.Workflow:
		err = validate.ValidateWorkflow(ctx, wfGetter, cwfGetter, o, nil, validate.ValidateOpts{Submit: true})
	case *wfv1.CronWorkflow:
		err = validate.ValidateCronWorkflow(ctx, wfGetter, cwfGetter, o, nil)
	case *wfv1.WorkflowTemplate:
		err = validate.ValidateWorkflowTemplate(ctx, wfGetter, cwfGetter, o, nil, validate.ValidateOpts{Lint: true})
	}
	if err == nil {
		return nil
	}
	return &emissary.Finding{Code: CodeArgoRejects, Severity: emissary.SeverityError, Path: "spec",
		Message: "Argo rejects it: " + err.Error(),
		Hint:    "fix what Argo names; `argo submit` and the controller would refuse it the same way"}
}

func referencesTemplates(spec *wfv1.WorkflowSpec) bool {
	if spec.WorkflowTemplateRef != nil {
		return true
	}
	for _, t := range spec.Templates {
		for _, step := range t.Steps {
			for _, s := range step.Steps {
				if s.TemplateRef != nil {
					return true
				}
			}
		}
		if t.DAG != nil {
			for _, task := range t.DAG.Tasks {
				if task.TemplateRef != nil {
					return true
				}
			}
		}
	}
	return false
}
