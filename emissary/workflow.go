package emissary

import (
	"encoding/json"
	"fmt"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/eci"
)

// wfDoc is the part of a Workflow, CronWorkflow or WorkflowTemplate the engine works on.
type wfDoc struct {
	meta      *metav1.ObjectMeta
	settings  settings // argo-eci.io/* at workflow level, strongest first
	spec      *wfv1.WorkflowSpec
	specPath  string // "spec" or "spec.workflowSpec"
	tagName   string // name for cost tags
	namespace string
}

// docOf views a typed Argo object as a wfDoc. obj must be a pointer the caller owns.
func docOf(obj runtime.Object) (*wfDoc, error) {
	switch o := obj.(type) {
	case *wfv1.Workflow:
		return &wfDoc{meta: &o.ObjectMeta, settings: settings{{ann: o.Annotations, path: "metadata.annotations"}},
			spec: &o.Spec, specPath: "spec", tagName: workflowTagName(o.Labels, o.Name, o.GenerateName), namespace: o.Namespace}, nil
	case *wfv1.CronWorkflow:
		s := settings{}
		if m := o.Spec.WorkflowMetadata; m != nil {
			s = append(s, layer{ann: m.Annotations, path: "spec.workflowMetadata.annotations"})
		}
		s = append(s, layer{ann: o.Annotations, path: "metadata.annotations"})
		return &wfDoc{meta: &o.ObjectMeta, settings: s, spec: &o.Spec.WorkflowSpec, specPath: "spec.workflowSpec",
			tagName: workflowTagName(nil, o.Name, o.GenerateName), namespace: o.Namespace}, nil
	case *wfv1.WorkflowTemplate:
		return &wfDoc{meta: &o.ObjectMeta, settings: settings{{ann: o.Annotations, path: "metadata.annotations"}},
			spec: &o.Spec, specPath: "spec", tagName: workflowTagName(nil, o.Name, o.GenerateName), namespace: o.Namespace}, nil
	case *wfv1.ClusterWorkflowTemplate:
		return &wfDoc{meta: &o.ObjectMeta, settings: settings{{ann: o.Annotations, path: "metadata.annotations"}},
			spec: &o.Spec, specPath: "spec", tagName: workflowTagName(nil, o.Name, o.GenerateName), namespace: o.Namespace}, nil
	case nil:
		return nil, &FieldError{Path: "kind", Msg: "no object"}
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
// schedulerName, nodeSelector and toleration); retryStrategy when the template has none and the
// profile has one; and, with executorResources: ignore, a template podSpecPatch that adds
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
// The agent pod's spec and the artifact-GC pod are left to the pod webhook: their containers come
// from the controller's configuration, which a workflow file does not show.
//
// Errors are *FieldError for bad input (unknown profile, invalid annotation values or specs).
// Findings with SeverityError describe pods that would fail or be denied on ECI.
func (e *Engine) ShapeWorkflow(obj runtime.Object) (runtime.Object, []Finding, error) {
	if obj == nil {
		return nil, nil, &FieldError{Path: "kind", Msg: "no object"}
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

// templateSettings are the argo-eci.io/* settings for template i, strongest first: its own
// metadata, the workflow's podMetadata (both reach its pods as pod annotations), the workflow's.
func (doc *wfDoc) templateSettings(i int) settings {
	var podMeta map[string]string
	if doc.spec.PodMetadata != nil {
		podMeta = doc.spec.PodMetadata.Annotations
	}
	s := make(settings, 0, 2+len(doc.settings))
	s = append(s, layer{ann: doc.spec.Templates[i].Metadata.Annotations, path: fmt.Sprintf("%s.templates[%d].metadata.annotations", doc.specPath, i)},
		layer{ann: podMeta, path: doc.specPath + ".podMetadata.annotations"})
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

// pluginSidecars names the artifact-plugin-<name> sidecars the controller adds for t's artifacts.
func pluginSidecars(t *wfv1.Template) []string {
	seen := map[string]bool{}
	var out []string
	add := func(arts wfv1.Artifacts) {
		for _, a := range arts {
			if a.Plugin != nil && a.Plugin.Name != "" {
				n := common.ArtifactPluginSidecarPrefix + string(a.Plugin.Name)
				if !seen[n] {
					seen[n] = true
					out = append(out, n)
				}
			}
		}
	}
	add(t.Outputs.Artifacts)
	add(t.Inputs.Artifacts)
	return out
}

func (e *Engine) shapeDoc(doc *wfDoc) ([]Finding, error) {
	spec := doc.spec
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
	var findings []Finding
	var podMetaAnn map[string]string
	if spec.PodMetadata != nil {
		podMetaAnn = spec.PodMetadata.Annotations
	}
	datasets := fluidDatasets(doc)
	usesFluid, shaped := false, 0
	workflowPlacement := !docSkip && p != nil && p.AgentPod == AgentPodECI && hasPluginTemplates(spec)

	for i := range spec.Templates {
		t := &spec.Templates[i]
		isPod, hasWait := podTemplate(t)
		if !isPod {
			continue
		}
		path := fmt.Sprintf("%s.templates[%d]", doc.specPath, i)
		tmplSettings := doc.templateSettings(i)

		tskip, err := tmplSettings.skipped()
		if err != nil {
			return nil, err
		}
		if tskip {
			optOut(t, p, workflowPlacement)
			continue
		}
		tp, err := e.selectProfile(doc.namespace, tmplSettings) // a template may name another profile
		if err != nil {
			return nil, err
		}
		if tp == nil {
			continue
		}
		shaped++
		if mountsDataset(t, spec, datasets) {
			usesFluid = true
		}

		if inc := templatePodView(t, spec, path, doc.specPath).incompatibilities(); len(inc) > 0 {
			findings = append(findings, incompatibleFindings(inc, tp.Incompatible, t.Name, true)...)
			if tp.Incompatible != IncompatibleWarn {
				optOut(t, tp, workflowPlacement)
				continue
			}
		}

		// Wait and artifact-plugin sidecars.
		inits, containers := templateContainers(t)
		var ignoredNames []string
		if hasWait {
			names := append([]string{common.WaitContainerName}, pluginSidecars(t)...)
			if tp.ExecutorResources == ExecutorResourcesIgnore {
				patched, err := addIgnoreEnvPatch(t.PodSpecPatch, names)
				if err != nil {
					findings = append(findings, Finding{Code: CodePodSpecPatchBad, Severity: SeverityWarning, Template: t.Name, Path: path + ".podSpecPatch",
						Message: "cannot extend podSpecPatch to mark wait as ignored: " + err.Error(),
						Hint:    "write podSpecPatch as JSON or YAML without unquoted {{...}}, or set executor.env in the controller ConfigMap"})
				} else {
					t.PodSpecPatch = patched
					ignoredNames = names
				}
			}
		}
		if t.Metadata.Annotations == nil {
			t.Metadata.Annotations = map[string]string{}
		}
		existing := make(map[string]string, len(podMetaAnn)+len(t.Metadata.Annotations))
		for k, v := range podMetaAnn {
			existing[k] = v
		}
		for k, v := range t.Metadata.Annotations {
			existing[k] = v
		}
		n := computeNeed(inits, containers)
		n.ignored = append(n.ignored, ignoredNames...)
		// Resources set by podSpecPatch depend on parameters: the pod webhook computes the spec.
		deferSpec := patchSetsResources(t.PodSpecPatch) || patchSetsResources(spec.PodSpecPatch)
		var tags []string
		if doc.tagName != "" {
			tags = append(tags, "workflow:"+tagValue(doc.tagName))
		}
		tags = append(tags, "template:"+tagValue(t.Name))
		fs, err := e.decide(tp, tmplSettings, target{existing: existing, dst: t.Metadata.Annotations, need: n, tags: tags,
			template: t.Name, path: path, deferSpec: deferSpec})
		if err != nil {
			return nil, err
		}
		findings = append(findings, fs...)
		if f := templatePlacement(t, tp, spec); f != nil {
			f.Path = path + ".schedulerName"
			findings = append(findings, *f)
		}
		if t.RetryStrategy == nil && tp.Retry != nil {
			limit := intstr.FromInt32(int32(tp.Retry.Limit))
			t.RetryStrategy = &wfv1.RetryStrategy{Limit: &limit, RetryPolicy: wfv1.RetryPolicy(tp.Retry.Policy)}
		}
	}

	if shaped == 0 {
		msg := "no profile selected and no default profile: workflow left alone"
		if docSkip {
			msg = "argo-eci.io/skip is true: workflow left alone"
		}
		findings = append(findings, Finding{Code: CodeNotShaped, Severity: SeverityInfo, Message: msg})
	}
	if workflowPlacement {
		for _, pl := range p.Placement {
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
	if usesFluid {
		if !hasFluidLabel(spec) {
			setPodMetadataLabel(spec, eci.LabelFluidSidecarTarget, "eci")
		}
		patched, err := mergePatch(spec.PodSpecPatch, map[string]any{"terminationGracePeriodSeconds": 0})
		if err != nil {
			findings = append(findings, Finding{Code: CodePodSpecPatchBad, Severity: SeverityWarning, Path: doc.specPath + ".podSpecPatch",
				Message: "cannot add terminationGracePeriodSeconds: 0 for the Fluid sidecar: " + err.Error()})
		} else {
			spec.PodSpecPatch = patched
		}
	}
	return findings, nil
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

// optOut keeps a template's pods off ECI when workflow-level placement would send them there.
func optOut(t *wfv1.Template, p *Profile, workflowPlacement bool) {
	if !workflowPlacement {
		return
	}
	for _, pl := range p.Placement {
		switch pl {
		case PlacementLabel:
			if t.Metadata.Labels == nil {
				t.Metadata.Labels = map[string]string{}
			}
			if _, ok := t.Metadata.Labels[eci.LabelECI]; !ok {
				t.Metadata.Labels[eci.LabelECI] = "false"
			}
		case PlacementScheduler:
			if t.SchedulerName == "" {
				t.SchedulerName = corev1.DefaultSchedulerName
			}
		}
	}
}

// templatePlacement places one template's pods on ECI, adding only what is missing. The
// controller takes nodeSelector, tolerations and schedulerName from the template when it has them
// and from the workflow otherwise (replacing, not merging), so the workflow's values are carried
// into the template before ECI's are added, and a custom workflow scheduler is kept. (A steps/DAG
// template's own nodeSelector, which Argo also passes to its children, is not carried over.)
func templatePlacement(t *wfv1.Template, p *Profile, spec *wfv1.WorkflowSpec) *Finding {
	var kept *Finding
	for _, pl := range p.Placement {
		switch pl {
		case PlacementLabel:
			if t.Metadata.Labels == nil {
				t.Metadata.Labels = map[string]string{}
			}
			if _, ok := t.Metadata.Labels[eci.LabelECI]; !ok {
				t.Metadata.Labels[eci.LabelECI] = "true"
			}
		case PlacementScheduler:
			name := t.SchedulerName
			if name == "" {
				name = spec.SchedulerName
			}
			switch name {
			case "", corev1.DefaultSchedulerName:
				t.SchedulerName = eci.SchedulerName
			case eci.SchedulerName:
			default:
				kept = &Finding{Code: CodeSchedulerKept, Severity: SeverityInfo, Template: t.Name,
					Message: fmt.Sprintf("schedulerName %q set by the workflow was kept instead of %s", name, eci.SchedulerName)}
			}
		case PlacementNodeSelector:
			if len(t.NodeSelector) == 0 {
				t.NodeSelector = make(map[string]string, len(spec.NodeSelector)+1)
				for k, v := range spec.NodeSelector {
					t.NodeSelector[k] = v
				}
			}
			if _, ok := t.NodeSelector[eci.NodeLabelType]; !ok {
				t.NodeSelector[eci.NodeLabelType] = eci.NodeTypeVirtualKubelet
			}
			if len(t.Tolerations) == 0 {
				t.Tolerations = append([]corev1.Toleration(nil), spec.Tolerations...)
			}
			if !hasECIToleration(t.Tolerations) {
				t.Tolerations = append(t.Tolerations, eciToleration())
			}
		}
	}
	return kept
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

func hasPluginTemplates(spec *wfv1.WorkflowSpec) bool {
	for i := range spec.Templates {
		if spec.Templates[i].Plugin != nil {
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

// patchSetsResources reports whether a podSpecPatch touches container resources.
func patchSetsResources(patch string) bool {
	return strings.Contains(patch, "resources")
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
