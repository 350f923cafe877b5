package emissary

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/recovery"
	"github.com/argo-eci/argo-eci/sizing"
)

// wfDoc is the part of a Workflow, CronWorkflow or WorkflowTemplate the engine works on.
type wfDoc struct {
	meta      *metav1.ObjectMeta
	settings  settings // argo-eci.io/* at workflow level, strongest first
	spec      *wfv1.WorkflowSpec
	specPath  string // "spec" or "spec.workflowSpec"
	tagName   string // name for cost tags
	namespace string
	obj       runtime.Object // the object itself, for its learned specs
}

// docOf views a typed Argo object as a wfDoc. obj must be a pointer the caller owns.
func docOf(obj runtime.Object) (*wfDoc, error) {
	switch o := obj.(type) {
	case *wfv1.Workflow:
		return &wfDoc{meta: &o.ObjectMeta, settings: settings{{ann: o.Annotations, path: "metadata.annotations"}},
			spec: &o.Spec, specPath: "spec", tagName: workflowTagName(o.Labels, o.Name, o.GenerateName), namespace: o.Namespace, obj: obj}, nil
	case *wfv1.CronWorkflow:
		s := settings{}
		if m := o.Spec.WorkflowMetadata; m != nil {
			s = append(s, layer{ann: m.Annotations, path: "spec.workflowMetadata.annotations"})
		}
		s = append(s, layer{ann: o.Annotations, path: "metadata.annotations"})
		return &wfDoc{meta: &o.ObjectMeta, settings: s, spec: &o.Spec.WorkflowSpec, specPath: "spec.workflowSpec",
			tagName: workflowTagName(nil, o.Name, o.GenerateName), namespace: o.Namespace, obj: obj}, nil
	case *wfv1.WorkflowTemplate:
		return &wfDoc{meta: &o.ObjectMeta, settings: settings{{ann: o.Annotations, path: "metadata.annotations"}},
			spec: &o.Spec, specPath: "spec", tagName: workflowTagName(nil, o.Name, o.GenerateName), namespace: o.Namespace, obj: obj}, nil
	case *wfv1.ClusterWorkflowTemplate:
		return &wfDoc{meta: &o.ObjectMeta, settings: settings{{ann: o.Annotations, path: "metadata.annotations"}},
			spec: &o.Spec, specPath: "spec", tagName: workflowTagName(nil, o.Name, o.GenerateName), namespace: o.Namespace, obj: obj}, nil
	case nil:
		return nil, fieldError("kind", "no object")
	default:
		return nil, fieldErrorf("kind", "expected a Workflow, CronWorkflow, WorkflowTemplate or ClusterWorkflowTemplate, got %T", obj)
	}
}

// ShapeWorkflow renders a Workflow, CronWorkflow, WorkflowTemplate or ClusterWorkflowTemplate the
// way `argo-eci render` and the /mutate/workflows webhook do: it writes into the object everything
// the pod webhook would decide, so a cluster without the webhook gets the same pods, and returns a
// shaped deep copy plus findings. Running it twice, or running ShapePod over the pods of a rendered
// workflow, changes nothing more.
//
// What it writes, per template that creates a pod (container, script, containerSet, resource, data):
// the k8s.aliyun.com/* annotations (eci-use-specs computed from the template's containers, spot,
// zones, failure strategy, image cache, storage, RAM role, tags) plus argo-eci.io/shaped-by and
// spec-reason in the template's metadata.annotations; placement on the template (metadata label,
// schedulerName, nodeSelector and toleration); retryStrategy when the template has none (nor the
// workflow's spec.retryStrategy or templateDefaults) and the profile has one: recovery.RetryStrategy,
// which retries only ECI's failures, with the profile's limit and policy; and, with executorResources: ignore, a template podSpecPatch that adds
// __ECI_RESOURCE_IGNORE__=TRUE to the wait container and the template's artifact-plugin sidecars.
// The patch is a strategic merge keyed by container name, applied by the controller after it has
// added wait (workflow/controller/workflowpod.go), so main and user sidecars are untouched; it is
// put on templates that have a wait container only (a workflow-level patch would add a bare "wait"
// container to the agent pod and to resource/data pods). Cluster-wide, the controller ConfigMap's
// executor.env can carry the same variable instead (it applies to init too, which is harmless).
//
// At workflow level: when agentPod is eci and the workflow has plugin templates, the ECI label in
// podMetadata and spec.schedulerName (the agent pod gets only workflow-level settings); templates
// left alone then opt out explicitly. When a template mounts a Fluid dataset PVC (a dataset named
// by an argo-eci plugin template or listed in argo-eci.io/datasets), the Fluid serverless sidecar
// label in podMetadata and terminationGracePeriodSeconds: 0 in podSpecPatch.
//
// What every pod template ends up sharing is then written once, at workflow level, where that
// reaches no other pod (see gatherShared, gatherPlacement, gatherPodSpecPatch): the pods the
// controller builds carry the same annotations, labels, placement and patch either way.
//
// The agent pod's spec and the artifact-GC pod are left to the pod webhook: their containers come
// from the controller's configuration, which a workflow file does not show.
//
// Errors are *badinput.Error for bad input (unknown profile, invalid annotation values or specs).
// Findings with SeverityError describe pods that would fail or be denied on ECI.
func (e *Engine) ShapeWorkflow(obj runtime.Object) (runtime.Object, []Finding, error) {
	if obj == nil {
		return nil, nil, fieldError("kind", "no object")
	}
	out := obj.DeepCopyObject()
	doc, err := docOf(out)
	if err != nil {
		return nil, nil, err
	}
	findings, err := e.shapeDoc(doc)
	if err != nil {
		return nil, nil, err
	}
	return out, findings, nil
}

// templateSettings are the argo-eci.io/* settings for template t at path, strongest first: its own
// metadata, the workflow's podMetadata (both reach its pods as pod annotations), the workflow's.
func (doc *wfDoc) templateSettings(t *wfv1.Template, path string) settings {
	var podMeta map[string]string
	if doc.spec.PodMetadata != nil {
		podMeta = doc.spec.PodMetadata.Annotations
	}
	s := make(settings, 0, 3+len(doc.settings))
	s = append(s, layer{ann: t.Metadata.Annotations, path: path + ".metadata.annotations"})
	if d := doc.spec.TemplateDefaults; d != nil {
		s = append(s, layer{ann: d.Metadata.Annotations, path: doc.specPath + ".templateDefaults.metadata.annotations"})
	}
	s = append(s, layer{ann: podMeta, path: doc.specPath + ".podMetadata.annotations"})
	return append(s, doc.settings...)
}

// podTemplate reports whether t makes a pod, and whether that pod has Argo's wait container.
func podTemplate(t *wfv1.Template) (pod, wait bool) {
	switch {
	case t.Container != nil, t.Script != nil, t.ContainerSet != nil:
		return true, true
	case t.Resource != nil:
		return true, t.SaveLogsAsArtifact()
	case t.Data != nil:
		return true, false
	}
	return false, false
}

// templateContainers lists the containers a template's pod will have (without Argo's init/wait).
func templateContainers(t *wfv1.Template) (inits, containers []corev1.Container) {
	for _, c := range t.InitContainers {
		inits = append(inits, c.Container)
	}
	switch {
	case t.Container != nil, t.Script != nil:
		c := t.Container
		if c == nil {
			c = &t.Script.Container
		}
		main := *c
		main.Name = common.MainContainerName // as the controller names it
		containers = append(containers, main)
	case t.ContainerSet != nil:
		for _, c := range t.ContainerSet.Containers {
			containers = append(containers, c.Container)
		}
	}
	for _, c := range t.Sidecars {
		containers = append(containers, c.Container)
	}
	return inits, containers
}

// pluginSidecars names the artifact-plugin-<name> sidecars the Argo v4.0.7 controller adds to t's
// pod: one per plugin of an *output* artifact, including key-only artifacts that use the
// template's archiveLocation plugin, found with Argo's own Artifacts.GetPluginNames exactly as
// workflow/controller/workflowpod.go addArtifactPlugins calls it. Input-only plugins get an
// init-artifact-<name> init container and no sidecar. The controller's default artifact repository
// is not visible in a workflow file (only through --controller-config), so without it its plugin is
// not named: a podSpecPatch naming a container
// the controller does not create adds a container without an image, which the apiserver refuses.
func pluginSidecars(t *wfv1.Template, defaultRepo *wfv1.ArtifactRepository) []string {
	names := t.Outputs.Artifacts.GetPluginNames(quietCtx, defaultRepo, wfv1.IncludeLogs, t.ArchiveLocation)
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, common.ArtifactPluginSidecarPrefix+string(n))
	}
	sort.Strings(out)
	return out
}

// quietCtx carries the logger Argo's helpers require, discarding what they log.
var quietCtx = logging.WithLogger(context.Background(), logging.NewSlogLoggerCustom(logging.Error, logging.Text, io.Discard))

// docState is what shapeDoc learns across templates.
type docState struct {
	profile           *Profile // the workflow-level profile (nil: none)
	workflowPlacement bool     // agent pod goes to ECI: placement at workflow level, opt-outs per template
	datasets          map[string]bool
	usesFluid         bool
	shaped            int
}

func (e *Engine) shapeDoc(doc *wfDoc) ([]Finding, error) {
	// Workflow-level choices; a template's own argo-eci.io/* annotations may still override them,
	// exactly as they do on its pods.
	docSkip, err := doc.settings.skipped()
	if err != nil {
		return nil, err
	}
	p, err := e.selectProfile(doc.namespace, doc.settings)
	if err != nil {
		return nil, err
	}
	st := &docState{profile: p, datasets: fluidDatasets(doc),
		workflowPlacement: !docSkip && p != nil && p.AgentPod == AgentPodECI && hasAgentTemplates(doc)}
	pods := podTemplates(doc)
	shared := !e.perTemplateMetadata && len(pods) > 1 && sharedMetadata(doc)
	placed := shared && boundaryFree(doc)
	spread := shared && spreadShared(doc.spec, pods)
	var findings []Finding
	for _, at := range allTemplates(doc) {
		fs, err := e.shapeTemplate(doc, at.t, at.path, st)
		if err != nil {
			return nil, err
		}
		findings = append(findings, fs...)
	}
	findings = append(findings, referenceFindings(doc)...)
	if st.shaped == 0 {
		msg := "no profile selected and no default profile: workflow left alone"
		if docSkip {
			msg = "argo-eci.io/skip is true: workflow left alone"
		}
		findings = append(findings, Finding{Code: CodeNotShaped, Severity: SeverityInfo, Message: msg})
	}
	findings = append(findings, shapeWorkflowLevel(doc, st)...)
	if shared && (st.shaped > 0 || spread) {
		gatherShared(doc.spec, pods)
		if placed {
			gatherPlacement(doc.spec, pods)
		}
		gatherPodSpecPatch(doc.spec, pods)
	}
	return findings, nil
}

// templateAt is a template and its field path.
type templateAt struct {
	t    *wfv1.Template
	path string
}

// allTemplates lists the workflow's templates and the inline templates of its steps and DAG tasks
// (which the controller runs like any other), with their paths.
func allTemplates(doc *wfDoc) []templateAt {
	var out []templateAt
	for i := range doc.spec.Templates {
		t := &doc.spec.Templates[i]
		path := fmt.Sprintf("%s.templates[%d]", doc.specPath, i)
		out = append(out, templateAt{t, path})
		for si := range t.Steps {
			for sj := range t.Steps[si].Steps {
				if in := t.Steps[si].Steps[sj].Inline; in != nil {
					out = append(out, templateAt{in, fmt.Sprintf("%s.steps[%d][%d].inline", path, si, sj)})
				}
			}
		}
		if t.DAG != nil {
			for ti := range t.DAG.Tasks {
				if in := t.DAG.Tasks[ti].Inline; in != nil {
					out = append(out, templateAt{in, fmt.Sprintf("%s.dag.tasks[%d].inline", path, ti)})
				}
			}
		}
	}
	return out
}

// referenceFindings says what render cannot see: templates reached through templateRef or a
// workflowTemplateRef live in other objects. Render those objects too; the pod webhook shapes
// their pods at creation in any case.
func referenceFindings(doc *wfDoc) []Finding {
	var out []Finding
	hint := "render the WorkflowTemplate itself, or rely on the pod webhook, which shapes these pods when they are created"
	if ref := doc.spec.WorkflowTemplateRef; ref != nil {
		out = append(out, Finding{Code: CodeTemplateRef, Severity: SeverityInfo, Path: doc.specPath + ".workflowTemplateRef",
			Message: fmt.Sprintf("templates come from WorkflowTemplate %q, which render cannot see", ref.Name), Hint: hint})
	}
	for i := range doc.spec.Templates {
		t := &doc.spec.Templates[i]
		path := fmt.Sprintf("%s.templates[%d]", doc.specPath, i)
		add := func(ref *wfv1.TemplateRef, at string) {
			if ref != nil {
				out = append(out, Finding{Code: CodeTemplateRef, Severity: SeverityInfo, Template: t.Name, Path: at + ".templateRef",
					Message: fmt.Sprintf("template %q of WorkflowTemplate %q is not shaped by render: it lives in that object", ref.Template, ref.Name), Hint: hint})
			}
		}
		for si := range t.Steps {
			for sj := range t.Steps[si].Steps {
				add(t.Steps[si].Steps[sj].TemplateRef, fmt.Sprintf("%s.steps[%d][%d]", path, si, sj))
			}
		}
		if t.DAG != nil {
			for ti := range t.DAG.Tasks {
				add(t.DAG.Tasks[ti].TemplateRef, fmt.Sprintf("%s.dag.tasks[%d]", path, ti))
			}
		}
	}
	return out
}

// shapeWorkflowLevel writes what only the workflow level can carry: the agent pod's placement and
// the Fluid sidecar label and grace period.
func shapeWorkflowLevel(doc *wfDoc, st *docState) []Finding {
	spec := doc.spec
	if st.workflowPlacement {
		for _, pl := range st.profile.Placement {
			switch pl {
			case PlacementLabel:
				setPodMetadataLabel(spec, eci.LabelECI, "true")
			case PlacementScheduler:
				if spec.SchedulerName == "" {
					spec.SchedulerName = eci.SchedulerName
				}
			}
		}
	}
	if !st.usesFluid {
		return nil
	}
	if !hasFluidLabel(spec) {
		setPodMetadataLabel(spec, eci.LabelFluidSidecarTarget, "eci")
	}
	patched, err := mergePatch(spec.PodSpecPatch, map[string]any{"terminationGracePeriodSeconds": 0})
	if err != nil {
		return []Finding{{Code: CodePodSpecPatchBad, Severity: SeverityWarning, Path: doc.specPath + ".podSpecPatch",
			Message: "cannot add terminationGracePeriodSeconds: 0 for the Fluid sidecar: " + err.Error()}}
	}
	spec.PodSpecPatch = patched
	return nil
}

// shapeTemplate shapes template i when it makes a pod. It reads the template as the controller
// will run it (spec.templateDefaults merged in) and writes only into the template itself.
func (e *Engine) shapeTemplate(doc *wfDoc, t *wfv1.Template, path string, st *docState) ([]Finding, error) {
	spec := doc.spec
	isPod, hasWait := podTemplate(t)
	if !isPod {
		return nil, nil
	}
	forgetDecision(t.Metadata.Annotations) // what an earlier render wrote is decided again
	view, err := withTemplateDefaults(t, spec.TemplateDefaults)
	if err != nil {
		return []Finding{{Code: CodePodSpecPatchBad, Severity: SeverityWarning, Template: t.Name, Path: doc.specPath + ".templateDefaults",
			Message: "cannot merge templateDefaults into the template: " + err.Error()}}, nil
	}
	tmplSettings := doc.templateSettings(t, path)
	if skip, err := tmplSettings.skipped(); err != nil || skip {
		if skip && st.workflowPlacement {
			optOut(st.profile, templatePlaceable(t, spec))
		}
		return nil, err
	}
	tp, err := e.selectProfile(doc.namespace, tmplSettings) // a template may name another profile
	if err != nil || tp == nil {
		return nil, err
	}
	st.shaped++
	if mountsDataset(view, spec, st.datasets) {
		st.usesFluid = true
	}
	var findings []Finding
	patches, f := templatePatches(view, spec, path, doc.specPath)
	if f != nil {
		findings = append(findings, *f)
	}
	inc := templatePodView(view, spec, path, doc.specPath).incompatibilities()
	for _, p := range patches {
		inc = append(inc, p.incompatibilities()...)
	}
	if len(inc) > 0 {
		findings = append(findings, incompatibleFindings(inc, tp.Incompatible, t.Name, true)...)
		if tp.Incompatible != IncompatibleWarn {
			if st.workflowPlacement {
				optOut(tp, templatePlaceable(t, spec))
			}
			return findings, nil
		}
	}
	var ignored []string
	if hasWait && tp.ExecutorResources == ExecutorResourcesIgnore {
		var f *Finding
		ignored, f = markExecutorIgnored(e.controller, t, path)
		if f != nil {
			findings = append(findings, *f)
		}
	}
	fs, err := e.decideTemplate(doc, t, tp, view, ignored, patches, path)
	if err != nil {
		return nil, err
	}
	findings = append(findings, fs...)
	if f := place(tp, templatePlaceable(t, spec), t.Name); f != nil {
		f.Path = path + ".schedulerName"
		findings = append(findings, *f)
	}
	sel, selPath := t.NodeSelector, path+".nodeSelector"
	if len(sel) == 0 {
		sel, selPath = spec.NodeSelector, doc.specPath+".nodeSelector"
	}
	if f := nodeSelectorFinding(sel, t.Name, selPath); f != nil {
		findings = append(findings, *f)
	}
	if tp.Retry != nil && view.RetryStrategy == nil && spec.RetryStrategy == nil {
		// Argo applies spec.retryStrategy to templates without their own: never replace it. The
		// expression retries only ECI's failures, so a user's own bug still fails fast.
		t.RetryStrategy = recovery.RetryStrategy(tp.Retry.Limit)
		t.RetryStrategy.RetryPolicy = wfv1.RetryPolicy(tp.Retry.Policy)
	}
	return findings, nil
}

// markExecutorIgnored extends the template's podSpecPatch so Argo's wait container and the
// template's artifact-plugin sidecars get __ECI_RESOURCE_IGNORE__=TRUE. It returns the names it
// marked, or a finding when the patch cannot be extended.
func markExecutorIgnored(cc *ControllerConfig, t *wfv1.Template, path string) ([]string, *Finding) {
	names := append([]string{cc.auxContainerName()}, cc.pluginSidecarsFor(t)...)
	patched, err := addIgnoreEnvPatch(t.PodSpecPatch, names)
	if err != nil {
		return nil, &Finding{Code: CodePodSpecPatchBad, Severity: SeverityWarning, Template: t.Name, Path: path + ".podSpecPatch",
			Message: "cannot extend podSpecPatch to mark wait as ignored: " + err.Error(),
			Hint:    "write podSpecPatch as JSON or YAML without unquoted {{...}}, or set executor.env in the controller ConfigMap"}
	}
	t.PodSpecPatch = patched
	return names, nil
}

// decideTemplate runs decide for template i (view: the template with templateDefaults merged).
func (e *Engine) decideTemplate(doc *wfDoc, t *wfv1.Template, tp *Profile, view *wfv1.Template, ignored []string, patches []*specPatch, path string) ([]Finding, error) {
	spec := doc.spec
	if t.Metadata.Annotations == nil {
		t.Metadata.Annotations = map[string]string{}
	}
	existing := map[string]string{}
	if spec.PodMetadata != nil {
		for k, v := range spec.PodMetadata.Annotations {
			existing[k] = v
		}
	}
	for k, v := range view.Metadata.Annotations {
		existing[k] = v
	}
	for k, v := range t.Metadata.Annotations {
		existing[k] = v
	}
	inits, containers := templateContainers(view)
	if err := e.controller.mainDefaults(containers, mainCount(view)); err != nil {
		return nil, err
	}
	if e.controller != nil { // the executor's own containers, as this controller adds them
		_, hasAux := podTemplate(view)
		ei, es := e.controller.executorContainers(hasAux)
		for i := range es {
			if slices.Contains(ignored, es[i].Name) {
				es[i].Env = append(es[i].Env, corev1.EnvVar{Name: eci.EnvResourceIgnore, Value: "TRUE"})
			}
		}
		inits, containers = append(ei, inits...), append(containers, es...)
	}
	deferSpec, deferPath := false, ""
	for _, p := range patches { // workflow's, then the template's, as the controller applies them
		p.applyResources(inits, containers)
		if p.parameterised && p.setsResources() {
			// Resources that depend on parameters are known only on the pod: the webhook decides.
			deferSpec, deferPath = true, p.path
		}
	}
	n := computeNeed(inits, containers)
	for _, name := range ignored {
		if !slices.Contains(n.ignored, name) {
			n.ignored = append(n.ignored, name)
		}
	}
	var tags []string
	if doc.tagName != "" {
		tags = append(tags, "workflow:"+tagValue(doc.tagName))
	}
	if t.Name != "" { // inline templates have none, and neither do their pods
		tags = append(tags, "template:"+tagValue(t.Name))
	}
	s := doc.templateSettings(t, path)
	tg := target{existing: existing, dst: t.Metadata.Annotations, need: n, tags: tags, template: t.Name, path: path,
		deferSpec: deferSpec, deferPath: deferPath, executorOnly: view.Resource != nil || view.Data != nil,
		learned: e.objectLearned(tp, doc.obj, t.Name)}
	learned := useLearned(tp, s, tg)
	findings, err := e.decide(tp, s, tg)
	if err == nil && learned {
		raiseTemplateMemory(t, tg.learned)
	}
	return findings, err
}

// raiseTemplateMemory raises the main container's memory limit of a container or script template
// to the learned spec's memory (see raiseMainMemory).
func raiseTemplateMemory(t *wfv1.Template, l *sizing.Learned) {
	var c *corev1.Container
	switch {
	case t.Container != nil:
		c = t.Container
	case t.Script != nil:
		c = &t.Script.Container
	default:
		return
	}
	cs := []corev1.Container{*c}
	cs[0].Name = ""
	raiseMainMemory(cs, l)
	c.Resources = cs[0].Resources
}

// withTemplateDefaults returns t as the controller runs it: spec.templateDefaults merged in with a
// strategic merge, defaults of other template types left out (workflow/controller/operator.go
// mergedTemplateDefaultsInto in Argo v4.0.7). Without defaults it returns t itself.
func withTemplateDefaults(t *wfv1.Template, defaults *wfv1.Template) (*wfv1.Template, error) {
	if defaults == nil {
		return t, nil
	}
	d := defaults.DeepCopy()
	typ := t.GetType()
	if typ != wfv1.TemplateTypeContainer {
		d.Container = nil
	}
	if typ != wfv1.TemplateTypeScript {
		d.Script = nil
	}
	if typ != wfv1.TemplateTypeContainerSet {
		d.ContainerSet = nil
	}
	d.Resource, d.Data, d.HTTP, d.Plugin, d.Suspend, d.DAG, d.Steps = nil, nil, nil, nil, nil, nil, nil
	a, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	merged, err := strategicpatch.StrategicMergePatch(a, b, wfv1.Template{})
	if err != nil {
		return nil, err
	}
	out := &wfv1.Template{}
	if err := json.Unmarshal(merged, out); err != nil {
		return nil, err
	}
	return out, nil
}

// templatePodView is the part of the pod a template determines that matters for ECI: containers,
// the volumes they mount (the template's and the workflow's), host network; with field paths.
func templatePodView(t *wfv1.Template, spec *wfv1.WorkflowSpec, path, specPath string) *podView {
	v := &podView{hostNetworkPath: specPath + ".hostNetwork",
		initPath: func(i int) string { return fmt.Sprintf("%s.initContainers[%d]", path, i) }}
	v.spec.InitContainers, v.spec.Containers = templateContainers(t)
	var ctrPaths []string
	switch {
	case t.Container != nil:
		ctrPaths = append(ctrPaths, path+".container")
	case t.Script != nil:
		ctrPaths = append(ctrPaths, path+".script")
	case t.ContainerSet != nil:
		for i := range t.ContainerSet.Containers {
			ctrPaths = append(ctrPaths, fmt.Sprintf("%s.containerSet.containers[%d]", path, i))
		}
	}
	for i := range t.Sidecars {
		ctrPaths = append(ctrPaths, fmt.Sprintf("%s.sidecars[%d]", path, i))
	}
	v.ctrPath = func(i int) string { return ctrPaths[i] }
	if spec.HostNetwork != nil {
		v.spec.HostNetwork = *spec.HostNetwork
	}
	var volPaths []string
	for i, vol := range t.Volumes {
		v.spec.Volumes = append(v.spec.Volumes, vol)
		volPaths = append(volPaths, fmt.Sprintf("%s.volumes[%d]", path, i))
	}
	mounted := map[string]bool{}
	for _, list := range [][]corev1.Container{v.spec.InitContainers, v.spec.Containers} {
		for _, c := range list {
			for _, m := range c.VolumeMounts {
				mounted[m.Name] = true
			}
		}
	}
	for i, vol := range spec.Volumes {
		if mounted[vol.Name] {
			v.spec.Volumes = append(v.spec.Volumes, vol)
			volPaths = append(volPaths, fmt.Sprintf("%s.volumes[%d]", specPath, i))
		}
	}
	v.volumePath = func(i int) string { return volPaths[i] }
	return v
}

// templatePlaceable views a template's placement fields, inheriting the workflow's.
func templatePlaceable(t *wfv1.Template, spec *wfv1.WorkflowSpec) placeable {
	return placeable{labels: &t.Metadata.Labels, schedulerName: &t.SchedulerName, inheritedScheduler: spec.SchedulerName,
		nodeSelector: &t.NodeSelector, inheritedSelector: spec.NodeSelector,
		tolerations: &t.Tolerations, inheritedTolerates: spec.Tolerations}
}

func setPodMetadataLabel(spec *wfv1.WorkflowSpec, k, v string) {
	if spec.PodMetadata == nil {
		spec.PodMetadata = &wfv1.Metadata{}
	}
	if spec.PodMetadata.Labels == nil {
		spec.PodMetadata.Labels = map[string]string{}
	}
	if _, ok := spec.PodMetadata.Labels[k]; !ok {
		spec.PodMetadata.Labels[k] = v
	}
}

// hasAgentTemplates reports templates the agent pod runs: plugin and HTTP templates both go to the
// WorkflowTaskSet the agent serves (workflow/controller/http_template.go, taskset.go in Argo v4.0.7),
// including inline ones.
func hasAgentTemplates(doc *wfDoc) bool {
	for _, at := range allTemplates(doc) {
		if at.t.Plugin != nil || at.t.HTTP != nil {
			return true
		}
	}
	return false
}

func hasFluidLabel(spec *wfv1.WorkflowSpec) bool {
	if spec.PodMetadata == nil {
		return false
	}
	l := spec.PodMetadata.Labels
	return l[eci.LabelFluidSidecarTarget] != "" || l[eci.LabelFluidServerlessInject] != ""
}

// fluidDatasets names the Fluid datasets of a workflow: those its argo-eci plugin templates manage
// and those listed in the argo-eci.io/datasets annotation. Their PVCs carry the dataset's name.
func fluidDatasets(doc *wfDoc) map[string]bool {
	out := map[string]bool{}
	if v, _, ok := doc.settings.get(AnnotationDatasets); ok {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				out[n] = true
			}
		}
	}
	for i := range doc.spec.Templates {
		pl := doc.spec.Templates[i].Plugin
		if pl == nil || len(pl.Value) == 0 {
			continue
		}
		var v struct {
			ArgoECI *struct {
				Dataset *struct {
					Name string `json:"name"`
				} `json:"dataset"`
			} `json:"argo-eci"`
		}
		if json.Unmarshal(pl.Value, &v) == nil && v.ArgoECI != nil && v.ArgoECI.Dataset != nil && v.ArgoECI.Dataset.Name != "" {
			out[v.ArgoECI.Dataset.Name] = true
		}
	}
	return out
}

// mountsDataset reports whether t's pod mounts the PVC of a known Fluid dataset.
func mountsDataset(t *wfv1.Template, spec *wfv1.WorkflowSpec, datasets map[string]bool) bool {
	if len(datasets) == 0 {
		return false
	}
	for _, v := range templatePodView(t, spec, "", "").spec.Volumes {
		if v.PersistentVolumeClaim != nil && datasets[v.PersistentVolumeClaim.ClaimName] {
			return true
		}
	}
	return false
}

// templatePatches reads the workflow's and the template's podSpecPatch, in the order the
// controller applies them. A patch that cannot be read is a warning finding and is left out.
func templatePatches(t *wfv1.Template, spec *wfv1.WorkflowSpec, path, specPath string) ([]*specPatch, *Finding) {
	var out []*specPatch
	for _, src := range []struct{ patch, path string }{{spec.PodSpecPatch, specPath + ".podSpecPatch"}, {t.PodSpecPatch, path + ".podSpecPatch"}} {
		p, err := readPatch(src.patch, src.path)
		if err != nil {
			return out, &Finding{Code: CodePodSpecPatchBad, Severity: SeverityWarning, Template: t.Name, Path: src.path,
				Message: "cannot read podSpecPatch: " + err.Error(), Hint: "write podSpecPatch as a JSON or YAML PodSpec"}
		}
		if p != nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// addIgnoreEnvPatch extends a template's podSpecPatch so the named containers get
// __ECI_RESOURCE_IGNORE__=TRUE. It is idempotent.
func addIgnoreEnvPatch(patch string, names []string) (string, error) {
	containers := make([]any, len(names))
	for i, n := range names {
		containers[i] = map[string]any{"name": n, "env": []any{map[string]any{"name": eci.EnvResourceIgnore, "value": "TRUE"}}}
	}
	return mergePatch(patch, map[string]any{"containers": containers})
}

// mergePatch merges add into a podSpecPatch (YAML or JSON) and returns it as JSON. Lists of
// containers and env are merged by name, like the strategic merge the controller applies; fields
// already in the patch are never overwritten. A patch that gains nothing is returned as written.
func mergePatch(patch string, add map[string]any) (string, error) {
	doc := map[string]any{}
	if strings.TrimSpace(patch) != "" {
		if err := yaml.Unmarshal([]byte(patch), &doc); err != nil {
			return "", fmt.Errorf("podSpecPatch is not YAML/JSON: %w", err)
		}
		if doc == nil {
			doc = map[string]any{}
		}
	}
	before, _ := json.Marshal(doc)
	mergeInto(doc, add)
	after, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	if string(before) == string(after) && strings.TrimSpace(patch) != "" {
		return patch, nil // nothing added: keep the user's text as written
	}
	return string(after), nil
}

func mergeInto(dst, add map[string]any) {
	for k, av := range add {
		dv, ok := dst[k]
		if !ok {
			dst[k] = av
			continue
		}
		switch a := av.(type) {
		case map[string]any:
			if d, ok := dv.(map[string]any); ok {
				mergeInto(d, a)
			}
		case []any:
			if d, ok := dv.([]any); ok {
				dst[k] = mergeNamedList(d, a)
			}
		}
	}
}

// mergeNamedList merges list items keyed by "name".
func mergeNamedList(dst, add []any) []any {
	for _, av := range add {
		am, ok := av.(map[string]any)
		if !ok {
			continue
		}
		found := false
		for _, dv := range dst {
			if dm, ok := dv.(map[string]any); ok && dm["name"] == am["name"] {
				mergeInto(dm, am)
				found = true
				break
			}
		}
		if !found {
			dst = append(dst, av)
		}
	}
	return dst
}
