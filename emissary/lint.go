package emissary

import (
	"fmt"
	"strconv"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/argo-eci/argo-eci/eci"
)

// FanOutThreshold is the number of parallel pods above which a fan-out should pin an image cache.
const FanOutThreshold = 20

// Lint reports ECI problems in a Workflow, CronWorkflow, WorkflowTemplate, ClusterWorkflowTemplate
// or Pod without changing it. It looks at what would run once argo-eci has shaped the object with
// the selected profile (so problems the profile fixes, such as missing retries, are not reported),
// and reports what is left: hostPath/hostNetwork/privileged, templates without command (the
// controller then looks the entrypoint up in the image registry), a wait sidecar that bumps the
// spec, GPU without explicit ECS types, spot without retries, fan-out over FanOutThreshold pods
// without a pinned image cache, Fluid dataset PVCs without serverless sidecar injection, and
// missing resources (2-4Gi default billing). Errors are *badinput.Error for bad input.
func (e *Engine) Lint(obj runtime.Object) ([]Finding, error) {
	if pod, ok := obj.(*corev1.Pod); ok {
		res, err := e.ShapePod(pod, nil)
		if err != nil {
			return nil, err
		}
		return res.Findings, nil
	}
	shaped, findings, err := e.ShapeWorkflow(obj)
	if err != nil {
		return nil, err
	}
	doc, err := docOf(shaped)
	if err != nil {
		return nil, err
	}
	findings = append(findings, e.lintDoc(doc)...)
	return findings, nil
}

func (e *Engine) lintDoc(doc *wfDoc) []Finding {
	var out []Finding
	datasets := fluidDatasets(doc)
	for _, at := range allTemplates(doc) {
		if isPod, _ := podTemplate(at.t); isPod {
			out = append(out, e.lintTemplate(doc, at.t, at.path, datasets)...)
		}
	}
	return append(out, lintFanOuts(doc)...)
}

// podAnn is an annotation the template's pods will carry (template metadata over podMetadata).
func (doc *wfDoc) podAnn(t *wfv1.Template, key string) string {
	if v, ok := t.Metadata.Annotations[key]; ok {
		return v
	}
	if doc.spec.PodMetadata != nil {
		return doc.spec.PodMetadata.Annotations[key]
	}
	return ""
}

// podLabel is a label the template's pods will carry.
func (doc *wfDoc) podLabel(t *wfv1.Template, key string) string {
	if v, ok := t.Metadata.Labels[key]; ok {
		return v
	}
	if doc.spec.PodMetadata != nil {
		return doc.spec.PodMetadata.Labels[key]
	}
	return ""
}

// onECI reports whether the (shaped) template's pods go to ECI.
func (doc *wfDoc) onECI(t *wfv1.Template) bool {
	sel := t.NodeSelector
	if len(sel) == 0 {
		sel = doc.spec.NodeSelector // placement every template shares is the workflow's
	}
	return doc.podLabel(t, eci.LabelECI) == "true" || t.SchedulerName == eci.SchedulerName ||
		(t.SchedulerName == "" && doc.spec.SchedulerName == eci.SchedulerName) || sel[eci.NodeLabelType] == eci.NodeTypeVirtualKubelet
}

// lintCommands reports main and user sidecars without command: emissary must know the entrypoint.
func lintCommands(t *wfv1.Template, path string) []Finding {
	var out []Finding
	check := func(c *corev1.Container, field string) {
		if len(c.Command) == 0 {
			out = append(out, Finding{Code: CodeNoCommand, Severity: SeverityWarning, Template: t.Name, Path: path + field + ".command",
				Message: fmt.Sprintf("no command for image %q: the controller looks its entrypoint up in the registry on every pod", c.Image),
				Hint:    "set command explicitly, or list the image in the controller ConfigMap's images index"})
		}
	}
	switch {
	case t.Container != nil:
		check(t.Container, ".container")
	case t.Script != nil:
		check(&t.Script.Container, ".script")
	case t.ContainerSet != nil:
		for j := range t.ContainerSet.Containers {
			check(&t.ContainerSet.Containers[j].Container, fmt.Sprintf(".containerSet.containers[%d]", j))
		}
	}
	for j := range t.Sidecars {
		check(&t.Sidecars[j].Container, fmt.Sprintf(".sidecars[%d]", j))
	}
	return out
}

// lintTemplate checks one pod template of the shaped workflow. Cost findings (ECI020) are made
// only for templates whose pods go to ECI: a template left on normal nodes is not billed by ECI.
func (e *Engine) lintTemplate(doc *wfDoc, t *wfv1.Template, path string, datasets map[string]bool) []Finding {
	spec := doc.spec
	out := lintCommands(t, path)
	if doc.podAnn(t, eci.AnnotationSpotStrategy) != "" && t.RetryStrategy == nil && spec.RetryStrategy == nil {
		out = append(out, Finding{Code: CodeSpotNoRetry, Severity: SeverityWarning, Template: t.Name, Path: path + ".retryStrategy",
			Message: "runs on spot instances without retryStrategy: a reclaimed instance fails the workflow",
			Hint:    "add retryStrategy {limit: 3, retryPolicy: Always}, or a retry block in the profile"})
	}
	if !doc.onECI(t) {
		return out
	}
	if mountsDataset(t, spec, datasets) && doc.podLabel(t, eci.LabelFluidSidecarTarget) == "" && doc.podLabel(t, eci.LabelFluidServerlessInject) == "" {
		out = append(out, Finding{Code: CodeFluidNoSidecar, Severity: SeverityError, Template: t.Name, Path: path + ".volumes",
			Message: "mounts a Fluid dataset PVC on ECI without serverless sidecar injection: the mount will not work",
			Hint:    "add podMetadata label alibabacloud.com/fluid-sidecar-target: eci (ack-fluid) or serverless.fluid.io/inject: \"true\""})
	}
	// ShapeWorkflow has already refused invalid settings, so errors cannot occur here.
	if p, _ := e.selectProfile(doc.namespace, doc.templateSettings(t, path)); p != nil && p.ExecutorResources == ExecutorResourcesCount {
		if f, ok := lintWaitBump(t, path); ok {
			out = append(out, f)
		}
	}
	return out
}

// lintFanOuts reports fan-outs over pod templates without a pinned image cache.
func lintFanOuts(doc *wfDoc) []Finding {
	spec := doc.spec
	byName := map[string]*wfv1.Template{}
	for i := range spec.Templates {
		byName[spec.Templates[i].Name] = &spec.Templates[i]
	}
	var out []Finding
	fanOut := func(tmplName, path string, items []wfv1.Item, param string, seq *wfv1.Sequence) {
		t := byName[tmplName]
		if t == nil {
			return
		}
		if isPod, _ := podTemplate(t); !isPod {
			return
		}
		if doc.podAnn(t, eci.AnnotationIMCID) != "" || doc.podAnn(t, eci.AnnotationImageSnapshotID) != "" {
			return
		}
		if f, ok := fanOutFinding(tmplName, path, items, param, seq); ok {
			out = append(out, f)
		}
	}
	for i := range spec.Templates {
		t := &spec.Templates[i]
		for si, ps := range t.Steps {
			for sj := range ps.Steps {
				s := &ps.Steps[sj]
				if s.ShouldExpand() {
					fanOut(s.Template, fmt.Sprintf("%s.templates[%d].steps[%d][%d]", doc.specPath, i, si, sj), s.WithItems, s.WithParam, s.WithSequence)
				}
			}
		}
		if t.DAG != nil {
			for ti := range t.DAG.Tasks {
				task := &t.DAG.Tasks[ti]
				if task.ShouldExpand() {
					fanOut(task.Template, fmt.Sprintf("%s.templates[%d].dag.tasks[%d]", doc.specPath, i, ti), task.WithItems, task.WithParam, task.WithSequence)
				}
			}
		}
	}
	return out
}

// fanOutFinding reports a fan-out of more than FanOutThreshold pods, or of unknown size.
func fanOutFinding(tmplName, path string, items []wfv1.Item, param string, seq *wfv1.Sequence) (Finding, bool) {
	n, known := len(items), true
	switch {
	case seq != nil:
		n, known = sequenceLen(seq)
	case param != "":
		n, known = 0, false
	}
	hint := "create an image cache first (argo-eci imageCache plugin step) and pin it with k8s.aliyun.com/eci-imc-id, or set imageCache: <imc-id> in the profile"
	switch {
	case !known:
		return Finding{Code: CodeFanOutNoIMC, Severity: SeverityInfo, Template: tmplName, Path: path,
			Message: "fan-out of unknown size (withParam or parameterised withSequence) without a pinned image cache", Hint: hint}, true
	case n > FanOutThreshold:
		return Finding{Code: CodeFanOutNoIMC, Severity: SeverityWarning, Template: tmplName, Path: path,
			Message: fmt.Sprintf("fan-out of %d pods without a pinned image cache: every pod pulls the image", n), Hint: hint}, true
	}
	return Finding{}, false
}

// Resources assumed for Argo's wait sidecar when linting a workflow file, which does not show the
// controller ConfigMap's executor.resources: the small requests Argo's documentation suggests.
const (
	assumedWaitMilliCPU = 10
	assumedWaitMemMiB   = 64
)

// lintWaitBump reports a template whose containers fill their spec so exactly that Argo's wait
// sidecar, counted by ECI, pushes the pod into the next spec.
func lintWaitBump(t *wfv1.Template, path string) (Finding, bool) {
	inits, containers := templateContainers(t)
	n := computeNeed(inits, containers)
	if !n.declared || n.gpu > 0 {
		return Finding{}, false
	}
	alone, ok1 := eci.RoundUp(n.milliCPU, n.memMiB)
	with, ok2 := eci.RoundUp(n.milliCPU+assumedWaitMilliCPU, n.memMiB+assumedWaitMemMiB)
	if !ok1 || !ok2 || alone == with {
		return Finding{}, false
	}
	return Finding{Code: CodeWaitBumpsSpec, Severity: SeverityWarning, Template: t.Name, Path: path,
		Message: fmt.Sprintf("the containers fill %s exactly: Argo's wait sidecar (executorResources: count) pushes the pod to %s", alone, with),
		Hint:    "set executorResources: ignore in the profile, or leave room for wait in the resources"}, true
}

// sequenceLen is the number of items a withSequence yields, when it is not parameterised.
func sequenceLen(s *wfv1.Sequence) (int, bool) {
	val := func(x *intstr.IntOrString) (int, bool) {
		if x == nil {
			return 0, true
		}
		if x.Type == intstr.Int {
			return int(x.IntVal), true
		}
		n, err := strconv.Atoi(x.StrVal)
		return n, err == nil
	}
	if s.Count != nil {
		return val(s.Count)
	}
	start, ok1 := val(s.Start)
	end, ok2 := val(s.End)
	if !ok1 || !ok2 {
		return 0, false
	}
	if end < start {
		start, end = end, start
	}
	return end - start + 1, true
}
