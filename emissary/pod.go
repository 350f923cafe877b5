package emissary

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/recovery"
)

// Outcome is what ShapePod did with a pod.
type Outcome string

// Outcomes.
const (
	// OutcomeShaped: the pod was shaped for ECI.
	OutcomeShaped Outcome = "shaped"
	// OutcomeSkipped: the pod is left alone (not an Argo pod, no profile selected, argo-eci.io/skip,
	// incompatible with incompatible: skip, or an agent pod with agentPod: stay).
	OutcomeSkipped Outcome = "skipped"
	// OutcomeDenied: the profile says incompatible: deny and the pod needs hostPath, hostNetwork or
	// privileged. The webhook refuses the pod; Reason and Findings say why.
	OutcomeDenied Outcome = "denied"
)

// PodResult is the decision for one pod.
type PodResult struct {
	// Pod is a deep copy of the input, shaped when Outcome is OutcomeShaped.
	Pod      *corev1.Pod
	Outcome  Outcome
	Profile  string
	Reason   string
	Findings []Finding
	// Recovered lists the ECI failures of the step's earlier attempts that shaped this retry's
	// pod (argo-eci.io/recovery says how); empty for first attempts.
	Recovered []recovery.Failure
}

// ShapePod decides for one pod created by the Argo controller (workflow pod, agent pod, artifact-GC
// pod). wf is the owning Workflow when known (nil: only the pod's own labels and annotations count);
// its node status shapes the pod of a retry after ECI failures (the profile's recovery options),
// and it names the template whose learned spec applies under sizing: learned. The agent pod never
// gets spot, its executor-plugin sidecars are left out of its spec, and it gets the profile's
// agent.patchRate.
// It never mutates its inputs; Pod in the result is a shaped deep copy (an unchanged copy when
// skipped or denied).
//
// Errors are *badinput.Error for bad user input (unknown profile, invalid argo-eci.io/* value, invalid
// or conflicting spec annotations); the webhook denies such pods.
//
// The pod's creation time picks the time-of-day band of a learned spec; see [Engine.ShapePodAt].
func (e *Engine) ShapePod(pod *corev1.Pod, wf *wfv1.Workflow) (*PodResult, error) {
	return e.ShapePodAt(pod, wf, pod.CreationTimestamp.Time, nil)
}

// ShapePodAt is [Engine.ShapePod] for a pod created at created, which picks the time-of-day band
// of a learned spec (the zero time: the whole template's spec). An admission webhook sees pods
// before the apiserver sets their creationTimestamp, so it passes the time of the request.
// siblings are the other pods of the same workflow, read when the pod is a retry (nil: not read): an
// earlier attempt whose failure the Workflow's node status does not show yet (the controller
// creates the retry pod before it saves that status) is recognised from its pod, or from its pod's
// absence (recovery.Attempts).
func (e *Engine) ShapePodAt(pod *corev1.Pod, wf *wfv1.Workflow, created time.Time, siblings *recovery.Siblings) (*PodResult, error) {
	out := WithoutRecoveredMemory(pod)
	if out == pod {
		out = pod.DeepCopy()
	}
	res := &PodResult{Pod: out, Outcome: OutcomeSkipped}
	kind := ArgoPodKind(out)
	if kind == PodKindNone {
		res.Reason = "not a pod of an Argo workflow"
		return res, nil
	}
	s := settings{{ann: out.Annotations, path: "metadata.annotations"}}
	if wf != nil {
		s = append(s, layer{ann: wf.Annotations, path: "workflow " + wf.Name + " metadata.annotations"})
	}
	if skip, err := s.skipped(); err != nil {
		return nil, err
	} else if skip {
		res.Reason = AnnotationSkip + " is true"
		return res, nil
	}
	p, err := e.selectProfile(out.Namespace, s)
	if err != nil {
		return nil, err
	}
	if p == nil {
		res.Reason = "no profile selected and no default profile"
		return res, nil
	}
	res.Profile = p.Name
	return e.shapeSelectedPod(res, kind, p, s, wf, created, siblings)
}

// shapeSelectedPod shapes res.Pod (a copy the caller owns, created at created) under the selected
// profile p; siblings are the workflow's other pods (for a retry's earlier attempts).
func (e *Engine) shapeSelectedPod(res *PodResult, kind PodKind, p *Profile, s settings, wf *wfv1.Workflow, created time.Time, siblings *recovery.Siblings) (*PodResult, error) {
	out := res.Pod
	tmplName := podTemplateName(out, kind)
	if kind == PodKindAgent && p.AgentPod == AgentPodStay {
		res.Reason = "agent pod stays on normal nodes (agentPod: stay)"
		res.Findings = append(res.Findings, Finding{Code: CodeAgentStays, Severity: SeverityInfo, Template: tmplName, Message: res.Reason})
		return res, nil
	}
	if inc := podViewOf(&out.Spec).incompatibilities(); len(inc) > 0 {
		res.Findings = append(res.Findings, incompatibleFindings(inc, p.Incompatible, tmplName, false)...)
		switch p.Incompatible {
		case IncompatibleSkip:
			res.Reason = "needs " + inc[0].what + ": left on normal nodes (incompatible: skip)"
			return res, nil
		case IncompatibleDeny:
			res.Outcome = OutcomeDenied
			res.Reason = "needs " + inc[0].what + ", which ECI does not support (incompatible: deny)"
			return res, nil
		}
	}
	if kind == PodKindAgent {
		shapeAgentPod(out, p)
	}
	n, executorOnly := podNeed(out, kind, p)
	if p.ExecutorResources == ExecutorResourcesCount {
		if f, ok := waitBump(out.Spec.InitContainers, out.Spec.Containers, tmplName, "spec.containers"); ok {
			res.Findings = append(res.Findings, f)
		}
	}
	// One allocation for the annotations decide adds (at most about 16).
	ann := make(map[string]string, len(out.Annotations)+16)
	for k, v := range out.Annotations {
		ann[k] = v
	}
	out.Annotations = ann
	before := maps.Clone(ann)
	forgetDecision(ann) // what argo-eci wrote before (render, an earlier pass) is decided again
	s[0].ann = ann
	t := target{existing: ann, dst: ann, need: n, tags: podTags(out, wf, tmplName),
		template: tmplName, path: "pod " + out.Name, executorOnly: executorOnly, noSpot: kind == PodKindAgent}
	if kind == PodKindWorkflow {
		t.learned = e.podLearned(p, wf, tmplName, created)
	}
	learned := useLearned(p, s, t)
	findings, err := e.decide(p, s, t)
	if err != nil {
		return nil, err
	}
	if learned {
		raiseMainMemory(out.Spec.Containers, t.learned)
	}
	res.Findings = append(res.Findings, findings...)
	keepSameDecision(before, ann)
	if kind == PodKindWorkflow {
		if res.Recovered, err = recoverPod(out, wf, siblings, p); err != nil {
			return nil, err
		}
	}
	if f := place(p, podPlaceable(out), tmplName); f != nil {
		f.Path = "spec.schedulerName"
		res.Findings = append(res.Findings, *f)
	}
	if f := nodeSelectorFinding(out.Spec.NodeSelector, tmplName, "spec.nodeSelector"); f != nil {
		res.Findings = append(res.Findings, *f)
	}
	res.Outcome = OutcomeShaped
	res.Reason = out.Annotations[AnnotationSpecReason]
	return res, nil
}

// podNeed marks the executor sidecars left out of the spec (executorResources: ignore) and
// returns what ECI bills for the pod; executorOnly for pods that run only argoexec.
func podNeed(out *corev1.Pod, kind PodKind, p *Profile) (need, bool) {
	if p.ExecutorResources == ExecutorResourcesIgnore {
		for i := range out.Spec.Containers {
			c := &out.Spec.Containers[i]
			if IsExecutorSidecar(c.Name) && !hasEnv(c, eci.EnvResourceIgnore) {
				c.Env = append(c.Env, corev1.EnvVar{Name: eci.EnvResourceIgnore, Value: "TRUE"})
			}
		}
	}
	n := withPodLevel(computeNeed(out.Spec.InitContainers, out.Spec.Containers), out.Spec.Resources)
	executorOnly := kind == PodKindWorkflow && runsOnlyArgoexec(out)
	if executorOnly {
		n.declared = false // argoexec's own resources, not the user's
	}
	return n, executorOnly
}

// keepSameDecision restores the earlier record and spec-reason when deciding again wrote the same
// annotations: the pod of a rendered template counts Argo's init container, which the workflow
// file does not show, so the reason may read differently for the same decision.
func keepSameDecision(before, after map[string]string) {
	if _, had := before[AnnotationDecision]; !had {
		return
	}
	_, oldKeys, ok1 := DecisionKeys(before)
	_, newKeys, ok2 := DecisionKeys(after)
	if !ok1 || !ok2 || !reflect.DeepEqual(oldKeys, newKeys) {
		return
	}
	for _, k := range newKeys {
		if k != AnnotationSpecReason && before[k] != after[k] {
			return
		}
	}
	after[AnnotationSpecReason], after[AnnotationDecision] = before[AnnotationSpecReason], before[AnnotationDecision]
}

// runsOnlyArgoexec reports a pod of a resource or data template: its main container runs
// "argoexec resource" or "argoexec data" (workflow/controller/operator.go in Argo v4.0.7).
func runsOnlyArgoexec(pod *corev1.Pod) bool {
	found := false
	for _, c := range pod.Spec.Containers {
		if IsExecutorSidecar(c.Name) {
			continue
		}
		if len(c.Command) < 2 || c.Command[0] != "argoexec" || (c.Command[1] != "resource" && c.Command[1] != "data") {
			return false
		}
		found = true
	}
	return found
}

func hasEnv(c *corev1.Container, name string) bool {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return true
		}
	}
	return false
}

// waitBump reports when Argo's wait sidecar pushes the pod into a larger spec.
func waitBump(inits, containers []corev1.Container, tmpl, path string) (Finding, bool) {
	with := computeNeed(inits, containers)
	var rest []corev1.Container
	for _, c := range containers {
		if c.Name != common.WaitContainerName {
			rest = append(rest, c)
		}
	}
	if len(rest) == len(containers) {
		return Finding{}, false
	}
	without := computeNeed(inits, rest)
	a, okA := eci.RoundUp(with.milliCPU, with.memMiB)
	b, okB := eci.RoundUp(without.milliCPU, without.memMiB)
	if !without.declared || !okA || !okB || a == b {
		return Finding{}, false
	}
	return Finding{Code: CodeWaitBumpsSpec, Severity: SeverityWarning, Template: tmpl, Path: path + "[wait].resources",
		Message: fmt.Sprintf("Argo's wait sidecar pushes the pod from %s to %s", b, a),
		Hint:    "set executorResources: ignore in the profile (adds " + eci.EnvResourceIgnore + "=TRUE to wait)"}, true
}

type incompatibility struct{ code, what, path, hint string }

// incompatibleFindings reports what ECI cannot run, with the severity and effect the profile's
// incompatible policy gives it. template: about a workflow template rather than a pod.
func incompatibleFindings(inc []incompatibility, policy, tmpl string, template bool) []Finding {
	sev, effect := SeverityWarning, ": the pod may fail to start"
	switch policy {
	case IncompatibleSkip:
		sev, effect = SeverityInfo, ": pod left on normal nodes"
	case IncompatibleDeny:
		sev, effect = SeverityError, ""
		if template {
			effect = ": the webhook will deny this template's pods"
		}
	}
	out := make([]Finding, len(inc))
	for j, i := range inc {
		out[j] = Finding{Code: i.code, Severity: sev, Template: tmpl, Path: i.path, Message: i.what + " is not supported on ECI" + effect, Hint: i.hint}
	}
	return out
}

// podView is a pod spec with the field path of each volume and container, so findings name the
// field the user wrote (a template's container, a workflow-level volume, ...).
type podView struct {
	spec                          corev1.PodSpec
	hostNetworkPath               string
	volumePath, initPath, ctrPath func(i int) string
}

// podViewOf views a pod's own spec.
func podViewOf(spec *corev1.PodSpec) *podView {
	return &podView{spec: *spec, hostNetworkPath: "spec.hostNetwork",
		volumePath: func(i int) string { return fmt.Sprintf("spec.volumes[%d]", i) },
		initPath:   func(i int) string { return fmt.Sprintf("spec.initContainers[%d]", i) },
		ctrPath:    func(i int) string { return fmt.Sprintf("spec.containers[%d]", i) },
	}
}

// incompatibilities lists what in a pod ECI cannot run.
func (v *podView) incompatibilities() []incompatibility {
	var out []incompatibility
	for i, vol := range v.spec.Volumes {
		if vol.HostPath != nil {
			out = append(out, incompatibility{CodeHostPath, "hostPath volume " + vol.Name, v.volumePath(i) + ".hostPath",
				"use an emptyDir, a PVC (NAS/OSS/Fluid) or an artifact instead"})
		}
	}
	if v.spec.HostNetwork {
		out = append(out, incompatibility{CodeHostNetwork, "hostNetwork", v.hostNetworkPath, "remove hostNetwork; ECI pods get their own VPC address"})
	}
	check := func(list []corev1.Container, path func(int) string) {
		for i, c := range list {
			if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
				out = append(out, incompatibility{CodePrivileged, "privileged container " + c.Name, path(i) + ".securityContext.privileged",
					"drop privileged or add only the capabilities needed"})
			}
		}
	}
	check(v.spec.InitContainers, v.initPath)
	check(v.spec.Containers, v.ctrPath)
	return out
}

// podTemplateName finds the template that made a workflow pod (from ARGO_TEMPLATE, which the
// controller sets on the init and wait containers), or names the agent/artifact-GC pod's role.
func podTemplateName(pod *corev1.Pod, kind PodKind) string {
	if kind != PodKindWorkflow {
		return string(kind)
	}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			for _, env := range list[i].Env {
				if env.Name == common.EnvVarTemplate && env.Value != "" {
					if name := templateNameFromJSON(env.Value); name != "" {
						return name
					}
				}
			}
		}
	}
	return ""
}

// templateNameFromJSON reads "name" from a template's JSON. Argo marshals wfv1.Template with name
// first, so the common case avoids decoding the whole (often large) template.
func templateNameFromJSON(v string) string {
	const prefix = `{"name":"`
	if strings.HasPrefix(v, prefix) {
		rest := v[len(prefix):]
		if end := strings.IndexByte(rest, '"'); end >= 0 && !strings.Contains(rest[:end], `\`) {
			return rest[:end]
		}
	}
	var t struct {
		Name string `json:"name"`
	}
	if json.Unmarshal([]byte(v), &t) != nil {
		return ""
	}
	return t.Name
}

// podTags are the name tags of a pod: the workflow (its CronWorkflow, WorkflowTemplate or
// generateName when known, so costs add up across runs) and the template.
func podTags(pod *corev1.Pod, wf *wfv1.Workflow, tmpl string) []string {
	name := pod.Labels[common.LabelKeyWorkflow]
	if wf != nil {
		name = workflowTagName(wf.Labels, wf.Name, wf.GenerateName)
	}
	var tags []string
	if name != "" {
		tags = append(tags, "workflow:"+tagValue(name))
	}
	if tmpl != "" {
		tags = append(tags, "template:"+tagValue(tmpl))
	}
	return tags
}

// workflowTagName names a workflow for cost tags.
func workflowTagName(l map[string]string, name, generateName string) string {
	if l != nil {
		if v := l[common.LabelKeyCronWorkflow]; v != "" {
			return v
		}
		if v := l[common.LabelKeyWorkflowTemplate]; v != "" {
			return v
		}
		if v := l[common.LabelKeyClusterWorkflowTemplate]; v != "" {
			return v
		}
	}
	if generateName != "" {
		return strings.TrimRight(generateName, "-.")
	}
	return name
}
