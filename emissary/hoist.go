package emissary

import (
	"encoding/json"
	"maps"
	"sort"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"

	"github.com/argo-eci/argo-eci/eci"
)

// Settings that are the same on many templates are written once, in the workflow's
// spec.podMetadata. The Argo v4.0.7 controller builds a pod's metadata in
// workflow/controller/workflowpod.go addMetadata: spec.podMetadata's annotations and labels first,
// then the template's (spec.templateDefaults merged in), so a template's value wins. A key that
// every pod template carries can therefore live in spec.podMetadata with its most common value,
// and stay only on the templates whose value differs: every pod gets the annotations it got
// before. A template cannot remove a podMetadata key, so a key missing from one pod template is
// never moved.
//
// spec.podMetadata also reaches pods the workflow file does not show: the agent pod (agent.go
// calls addMetadata with an empty template) and pods of templates reached through templateRef or
// workflowTemplateRef, which the referring workflow runs under its own podMetadata. The move is
// made only when neither exists, and never in a WorkflowTemplate or ClusterWorkflowTemplate, whose
// templates run under the podMetadata of the workflows that refer to them.

// sharedMetadata reports whether doc's spec.podMetadata reaches exactly the pods of its own
// templates.
func sharedMetadata(doc *wfDoc) bool {
	switch doc.obj.(type) {
	case *wfv1.Workflow, *wfv1.CronWorkflow:
	default:
		return false
	}
	return doc.spec.WorkflowTemplateRef == nil && !hasAgentTemplates(doc) && !hasTemplateRefs(doc)
}

// hasTemplateRefs reports steps, DAG tasks or lifecycle hooks that run a template of another object.
func hasTemplateRefs(doc *wfDoc) bool {
	hooks := func(h wfv1.LifecycleHooks) bool {
		for _, hook := range h {
			if hook.TemplateRef != nil {
				return true
			}
		}
		return false
	}
	if hooks(doc.spec.Hooks) {
		return true
	}
	for _, at := range allTemplates(doc) {
		for _, par := range at.t.Steps {
			for _, s := range par.Steps {
				if s.TemplateRef != nil || hooks(s.Hooks) {
					return true
				}
			}
		}
		if at.t.DAG != nil {
			for _, task := range at.t.DAG.Tasks {
				if task.TemplateRef != nil || hooks(task.Hooks) {
					return true
				}
			}
		}
	}
	return false
}

// writtenKey reports keys argo-eci writes on templates, the only ones it moves. eci-use-specs stays
// on each template: the sizing package reads a template's spec from it, and applies a learned spec
// by replacing it there.
func writtenKey(k string) bool {
	if k == eci.AnnotationUseSpecs {
		return false
	}
	return strings.HasPrefix(k, eci.AnnotationPrefix) || k == AnnotationShapedBy || k == AnnotationSpecReason || k == AnnotationDecision
}

// writtenLabel reports labels argo-eci writes on templates.
func writtenLabel(k string) bool { return k == eci.LabelECI }

// podTemplates lists the templates of doc that create pods.
func podTemplates(doc *wfDoc) []*wfv1.Template {
	var out []*wfv1.Template
	for _, at := range allTemplates(doc) {
		if pod, _ := podTemplate(at.t); pod {
			out = append(out, at.t)
		}
	}
	return out
}

// spreadShared undoes gatherShared before a workflow is shaped again: the keys argo-eci writes
// move from spec.podMetadata back onto every pod template that does not set them (through itself
// or spec.templateDefaults), which is what those pods received from spec.podMetadata.
// It reports whether it moved anything.
func spreadShared(spec *wfv1.WorkflowSpec, pods []*wfv1.Template) bool {
	if spec.PodMetadata == nil {
		return false
	}
	moved := false
	var defaults wfv1.Metadata
	if spec.TemplateDefaults != nil {
		defaults = spec.TemplateDefaults.Metadata
	}
	spread := func(from map[string]string, defaults map[string]string, dst func(*wfv1.Template) *map[string]string, ours func(string) bool) {
		for k, v := range from {
			if _, set := defaults[k]; set || !ours(k) {
				continue
			}
			for _, t := range pods {
				m := dst(t)
				if _, set := (*m)[k]; !set {
					if *m == nil {
						*m = map[string]string{}
					}
					(*m)[k] = v
				}
			}
			delete(from, k)
			moved = true
		}
	}
	spread(spec.PodMetadata.Annotations, defaults.Annotations, func(t *wfv1.Template) *map[string]string { return &t.Metadata.Annotations }, writtenKey)
	spread(spec.PodMetadata.Labels, defaults.Labels, func(t *wfv1.Template) *map[string]string { return &t.Metadata.Labels }, writtenLabel)
	if moved {
		tidyMetadata(spec)
	}
	return moved
}

// gatherShared moves each key argo-eci writes that every pod template carries into
// spec.podMetadata with its most common value (ties: the smallest value) when at least two
// templates share it, and removes it from the templates that have that value. Keys spec.templateDefaults sets are left where they are: its
// value beats spec.podMetadata's on the pod.
func gatherShared(spec *wfv1.WorkflowSpec, pods []*wfv1.Template) {
	if len(pods) < 2 {
		return
	}
	var defaults wfv1.Metadata
	if spec.TemplateDefaults != nil {
		defaults = spec.TemplateDefaults.Metadata
	}
	created := spec.PodMetadata == nil
	if created {
		spec.PodMetadata = &wfv1.Metadata{}
	}
	gather := func(dst *map[string]string, defaults map[string]string, src func(*wfv1.Template) *map[string]string, ours func(string) bool) {
		for _, k := range commonKeys(pods, src, ours) {
			if _, set := defaults[k]; set {
				continue
			}
			v, n := mostCommon(pods, src, k)
			if n < 2 || hasParam(v) {
				continue // a value no two templates share gains nothing from moving
			}
			if *dst == nil {
				*dst = map[string]string{}
			}
			(*dst)[k] = v
			for _, t := range pods {
				if m := src(t); (*m)[k] == v {
					delete(*m, k)
					if len(*m) == 0 {
						*m = nil
					}
				}
			}
		}
	}
	gather(&spec.PodMetadata.Annotations, defaults.Annotations, func(t *wfv1.Template) *map[string]string { return &t.Metadata.Annotations }, writtenKey)
	gather(&spec.PodMetadata.Labels, defaults.Labels, func(t *wfv1.Template) *map[string]string { return &t.Metadata.Labels }, writtenLabel)
	if created {
		tidyMetadata(spec)
	}
}

// commonKeys lists, sorted, the keys ours accepts that every template's map has.
func commonKeys(pods []*wfv1.Template, src func(*wfv1.Template) *map[string]string, ours func(string) bool) []string {
	var out []string
	for k := range *src(pods[0]) {
		if !ours(k) {
			continue
		}
		everywhere := true
		for _, t := range pods[1:] {
			if _, ok := (*src(t))[k]; !ok {
				everywhere = false
				break
			}
		}
		if everywhere {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func mostCommon(pods []*wfv1.Template, src func(*wfv1.Template) *map[string]string, k string) (string, int) {
	count := map[string]int{}
	for _, t := range pods {
		count[(*src(t))[k]]++
	}
	values := slicesSorted(count)
	best := values[0]
	for _, v := range values[1:] {
		if count[v] > count[best] {
			best = v
		}
	}
	return best, count[best]
}

func slicesSorted(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// hasParam reports an Argo expression or parameter ("{{...}}"): the controller substitutes those in
// a template with the template's inputs, which the workflow's own fields do not have.
func hasParam(s string) bool { return strings.Contains(s, "{{") }

// tidyMetadata drops an empty spec.podMetadata.
func tidyMetadata(spec *wfv1.WorkflowSpec) {
	pm := spec.PodMetadata
	if pm == nil {
		return
	}
	if len(pm.Annotations) == 0 {
		pm.Annotations = nil
	}
	if len(pm.Labels) == 0 {
		pm.Labels = nil
	}
	if pm.Annotations == nil && pm.Labels == nil {
		spec.PodMetadata = nil
	}
}

// TemplatePodMetadata returns the annotations and labels the Argo v4.0.7 controller gives the pods
// of template t of a workflow with spec (workflowpod.go addMetadata): spec.podMetadata's, then
// spec.templateDefaults', then the template's own, later ones winning.
func TemplatePodMetadata(spec *wfv1.WorkflowSpec, t *wfv1.Template) (annotations, labels map[string]string) {
	annotations, labels = map[string]string{}, map[string]string{}
	if pm := spec.PodMetadata; pm != nil {
		maps.Copy(annotations, pm.Annotations)
		maps.Copy(labels, pm.Labels)
	}
	if d := spec.TemplateDefaults; d != nil {
		maps.Copy(annotations, d.Metadata.Annotations)
		maps.Copy(labels, d.Metadata.Labels)
	}
	maps.Copy(annotations, t.Metadata.Annotations)
	maps.Copy(labels, t.Metadata.Labels)
	return annotations, labels
}

// Placement that is the same on every pod template moves to the workflow too: the controller takes
// a pod's nodeSelector and tolerations from its template, else from the nearest steps or DAG
// template that has them (the boundary), else from the workflow, and its schedulerName from the
// template, else from the workflow (workflowpod.go addSchedulingConstraints). The move is made
// only where no steps or DAG template sets them, and only for values every pod template carries.
// A later render needs nothing spread back: placement copies the workflow's values into each
// template before adding ECI's, exactly as it did the first time.

// boundaryFree reports that no template of doc other than pod templates sets nodeSelector or
// tolerations.
func boundaryFree(doc *wfDoc) bool {
	for _, at := range allTemplates(doc) {
		if pod, _ := podTemplate(at.t); !pod && (len(at.t.NodeSelector) > 0 || len(at.t.Tolerations) > 0) {
			return false
		}
	}
	return true
}

// gatherPlacement moves a nodeSelector, tolerations or schedulerName that every pod template
// carries, identical, to the workflow, and clears it on the templates; not one that
// spec.templateDefaults sets, which a template without its own would take instead.
func gatherPlacement(spec *wfv1.WorkflowSpec, pods []*wfv1.Template) {
	var defaults wfv1.Template // spec.templateDefaults is merged into a template before the workflow's fields count
	if spec.TemplateDefaults != nil {
		defaults = *spec.TemplateDefaults
	}
	// shared reports that field (as JSON, "" when unset) is set, the same and without parameters on
	// every pod template, and not set in the defaults.
	shared := func(field func(*wfv1.Template) any) bool {
		enc := func(t *wfv1.Template) string {
			b, _ := json.Marshal(field(t))
			if s := string(b); s != "null" && s != "{}" && s != "[]" && s != `""` {
				return s
			}
			return ""
		}
		first := enc(pods[0])
		if first == "" || hasParam(first) || enc(&defaults) != "" {
			return false
		}
		for _, t := range pods[1:] {
			if enc(t) != first {
				return false
			}
		}
		return true
	}
	if shared(func(t *wfv1.Template) any { return t.NodeSelector }) {
		spec.NodeSelector = pods[0].NodeSelector
		for _, t := range pods {
			t.NodeSelector = nil
		}
	}
	if shared(func(t *wfv1.Template) any { return t.Tolerations }) {
		spec.Tolerations = pods[0].Tolerations
		for _, t := range pods {
			t.Tolerations = nil
		}
	}
	if shared(func(t *wfv1.Template) any { return t.SchedulerName }) {
		spec.SchedulerName = pods[0].SchedulerName
		for _, t := range pods {
			t.SchedulerName = ""
		}
	}
}

// gatherPodSpecPatch moves a podSpecPatch every pod template carries, identical, to the workflow
// when the workflow has none or the same: the controller applies the workflow's patch, then the
// template's (workflowpod.go processPodSpecPatch), and applying one strategic merge patch once or
// twice gives the same pod. Not when spec.templateDefaults has a podSpecPatch, which a template
// without its own would take. Templates without Argo's wait container (resource, data) get no
// executor patch, so a patch naming wait never reaches their pods this way.
func gatherPodSpecPatch(spec *wfv1.WorkflowSpec, pods []*wfv1.Template) {
	p := pods[0].PodSpecPatch
	if p == "" || hasParam(p) || (spec.PodSpecPatch != "" && spec.PodSpecPatch != p) ||
		(spec.TemplateDefaults != nil && spec.TemplateDefaults.PodSpecPatch != "") {
		return
	}
	for _, t := range pods {
		if t.PodSpecPatch != p {
			return
		}
	}
	spec.PodSpecPatch = p
	for _, t := range pods {
		t.PodSpecPatch = ""
	}
}
