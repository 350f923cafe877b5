package sizing

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/argo-eci/argo-eci/eci"
)

// PodRun is one finished pod of a workflow, as its node status records it. Node statuses outlive
// the pods, so a run is known after podGC has deleted its pod.
type PodRun struct {
	Identity   Identity
	Pod        string
	Start, End time.Time
	Phase      wfv1.NodePhase
	// OOMKilled: a container of the pod was killed for memory (Argo's node message says OOMKilled).
	OOMKilled bool
	// Declared is the spec the pod was billed for: the template's eci-use-specs (first entry) or its
	// containers' resources rounded up as ECI does, or ECI's 2-4Gi default.
	Declared eci.Spec
}

// RunsOf lists the finished pod nodes of wf (Succeeded, Failed or Errored, with start and finish
// times), each with its template identity and pod name (as Argo names it).
func RunsOf(wf *wfv1.Workflow) []PodRun {
	v1Names := wf.Annotations[common.AnnotationKeyPodNameVersion] == "v1"
	var out []PodRun
	for _, node := range wf.Status.Nodes {
		if node.Type != wfv1.NodeTypePod || !node.Fulfilled() || node.StartedAt.IsZero() || node.FinishedAt.IsZero() {
			continue
		}
		tmpl := node.TemplateName
		if node.TemplateRef != nil {
			tmpl = node.TemplateRef.Template
		}
		out = append(out, PodRun{
			Identity:  IdentityOf(wf, tmpl),
			Pod:       podName(wf.Name, node.Name, tmpl, node.ID, v1Names),
			Start:     node.StartedAt.Time,
			End:       node.FinishedAt.Time,
			Phase:     node.Phase,
			OOMKilled: strings.Contains(node.Message, "OOMKilled"),
			Declared:  DeclaredSpec(findTemplate(wf, node)),
		})
	}
	return out
}

// podName is the pod Argo creates for a node: the node ID with pod-name-format v1; with v2 (Argo's
// default) "<workflow>-<template>-<fnv32a(node name)>", the prefix cut to 242 characters, and the
// workflow name alone for a workflow whose root node is the pod.
func podName(workflow, nodeName, template, nodeID string, v1 bool) string {
	if v1 {
		return nodeID
	}
	if workflow == nodeName {
		return workflow
	}
	prefix := workflow
	if template != "" {
		prefix += "-" + template
	}
	const maxPrefix = 253 - 10 - 1
	if len(prefix) > maxPrefix {
		prefix = prefix[:maxPrefix]
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(nodeName))
	return fmt.Sprintf("%s-%d", prefix, h.Sum32())
}

// findTemplate finds the definition of node's template in the workflow (its own templates, the
// stored WorkflowTemplate spec, or the stored templates of templateRefs); nil when absent.
func findTemplate(wf *wfv1.Workflow, node wfv1.NodeStatus) *wfv1.Template {
	if ref := node.TemplateRef; ref != nil {
		scope := "namespaced"
		if ref.ClusterScope {
			scope = "cluster"
		}
		if t, ok := wf.Status.StoredTemplates[scope+"/"+ref.Name+"/"+ref.Template]; ok {
			return &t
		}
		return nil
	}
	lists := [][]wfv1.Template{wf.Spec.Templates}
	if s := wf.Status.StoredWorkflowSpec; s != nil {
		lists = append(lists, s.Templates)
	}
	for _, list := range lists {
		for i := range list {
			if list[i].Name == node.TemplateName {
				return &list[i]
			}
		}
	}
	return nil
}

// DeclaredSpec is the spec ECI bills a pod of t for: the first entry of the template's eci-use-specs
// annotation when it is a vCPU/memory spec, else the sum of its main and sidecar containers'
// limits (requests where no limit) rounded up, else ECI's 2-4Gi default. nil t gives the default.
func DeclaredSpec(t *wfv1.Template) eci.Spec {
	if t == nil {
		return eci.DefaultSpec
	}
	if v := t.Metadata.Annotations[eci.AnnotationUseSpecs]; v != "" {
		if list, err := eci.ParseSpecList(v); err == nil && !list[0].IsInstanceType() {
			return list[0]
		}
	}
	var containers []corev1.Container
	switch {
	case t.Container != nil:
		containers = append(containers, *t.Container)
	case t.Script != nil:
		containers = append(containers, t.Script.Container)
	}
	for _, s := range t.Sidecars {
		containers = append(containers, s.Container)
	}
	var milliCPU, memMiB int64
	for _, c := range containers {
		milliCPU += amount(c.Resources, corev1.ResourceCPU).MilliValue()
		memMiB += ceilDiv(amount(c.Resources, corev1.ResourceMemory).Value(), mib)
	}
	if milliCPU == 0 && memMiB == 0 {
		return eci.DefaultSpec
	}
	if s, ok := eci.RoundUp(milliCPU, memMiB); ok {
		return s
	}
	return eci.DefaultSpec
}

func amount(r corev1.ResourceRequirements, name corev1.ResourceName) *resource.Quantity {
	if q, ok := r.Limits[name]; ok {
		return &q
	}
	if q, ok := r.Requests[name]; ok {
		return &q
	}
	return &resource.Quantity{}
}
