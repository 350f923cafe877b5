package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	json "github.com/goccy/go-json"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"

	"github.com/argo-eci/argo-eci/artifacts"
	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/plugin"
)

// admitPod shapes Argo pods at creation and lets every other pod through untouched.
func (s *Server) admitPod(ctx context.Context, req *admissionv1.AdmissionRequest) verdict {
	if req.Kind.Group != "" || req.Kind.Kind != "Pod" {
		return wrongKind(PathPods, req, "core/v1 Pod")
	}
	if req.Operation != admissionv1.Create || req.SubResource != "" {
		// ECI reads its annotations only when the pod is created; later changes shape nothing.
		return verdict{outcome: outcomeIgnored}
	}
	pod := &corev1.Pod{}
	if err := decodeObject(req.Object.Raw, pod); err != nil {
		return verdict{outcome: outcomeInvalid, message: fmt.Sprintf("argo-eci: request.object is not a Pod: %v", err)}
	}
	if !emissary.IsArgoPod(pod) {
		return verdict{outcome: outcomeIgnored}
	}
	if err := checkQuantities(pod); err != nil {
		return errorVerdict(err)
	}
	engine := s.Engines.Current()
	if engine == nil {
		return verdict{outcome: outcomeError, message: "argo-eci: " + ErrNoProfiles.Error()}
	}
	// Pods created with generateName may arrive without a namespace; the request has it. It is
	// set on both sides of the comparison, so the patch never carries it.
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	before, err := json.Marshal(pod)
	if err != nil {
		return verdict{outcome: outcomeError, message: "argo-eci: encoding the pod: " + err.Error()}
	}
	wf, err := s.owningWorkflow(ctx, pod)
	if err != nil {
		return verdict{outcome: outcomeError, message: "argo-eci: " + err.Error()}
	}
	input := forgetOwnAnnotations(emissary.WithoutRecoveredMemory(pod))
	res, err := engine.ShapePodAt(input, wf, s.createdAt(pod), s.retrySiblings(ctx, pod, wf))
	if err != nil {
		return errorVerdict(err)
	}
	s.Metrics.recordRecovery(pod, res)
	warnings := findingWarnings(res.Findings)
	if res.Outcome == emissary.OutcomeDenied {
		return verdict{outcome: outcomeDenied, warnings: warnings, message: denialMessage(res.Profile, res.Reason, res.Findings)}
	}
	// Argo runs the agent as the workflow's ServiceAccount; manifests/plugin grants the
	// WorkflowTaskSet rights the agent needs only to plugin.AgentServiceAccount, so the agent pod
	// is moved onto it whether or not a profile shapes the pod.
	kind := emissary.ArgoPodKind(res.Pod)
	moved := kind == emissary.PodKindAgent && plugin.HasSidecar(res.Pod) &&
		plugin.ProjectAgentToken(res.Pod, plugin.AgentServiceAccount, plugin.AgentTokenExpiration)
	// The controller's SIGTERM to every container once main has exited would kill argo-eci's
	// artifact sidecar in the middle of the wait container's upload: shaped by a profile or not.
	guarded := kind == emissary.PodKindWorkflow && artifacts.GuardSidecar(res.Pod)
	if res.Outcome == emissary.OutcomeSkipped && !moved && !guarded {
		return verdict{outcome: outcomeSkipped, warnings: warnings}
	}
	recordOwnAnnotations(input, res.Pod)
	return patchVerdict(req.Object.Raw, before, res.Pod, warnings)
}

// createdAt is when pod is being created: its creationTimestamp when set, else now (mutating
// admission runs before the apiserver sets it).
func (s *Server) createdAt(pod *corev1.Pod) time.Time {
	if !pod.CreationTimestamp.IsZero() {
		return pod.CreationTimestamp.Time
	}
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// AnnotationWebhookSet lists, comma-separated, the pod annotations the pods webhook added. The
// webhook is registered with reinvocationPolicy IfNeeded: when a later webhook adds containers
// (Fluid's FUSE sidecar, a service mesh), the apiserver calls it again, and it must then decide
// afresh over every container rather than take its own earlier annotations for the user's.
const AnnotationWebhookSet = emissary.AnnotationPrefix + "webhook-set"

// forgetOwnAnnotations returns pod without the annotations an earlier pass of this webhook
// added (pod itself when there are none), so shaping it again recomputes them.
func forgetOwnAnnotations(pod *corev1.Pod) *corev1.Pod {
	keys, ok := pod.Annotations[AnnotationWebhookSet]
	if !ok {
		return pod
	}
	out := pod.DeepCopy()
	for _, k := range strings.Split(keys, ",") {
		// Only what the engine writes: the list is on the pod, where a workflow author can set
		// it too, and must never make the webhook drop Argo's own annotations.
		if strings.HasPrefix(k, emissary.AnnotationPrefix) || strings.HasPrefix(k, eci.AnnotationPrefix) {
			delete(out.Annotations, k)
		}
	}
	delete(out.Annotations, AnnotationWebhookSet)
	return out
}

// recordOwnAnnotations writes AnnotationWebhookSet on shaped: the annotations it has that input,
// the pod as the webhook found it before any pass of its own, does not.
func recordOwnAnnotations(input, shaped *corev1.Pod) {
	var added []string
	for k := range shaped.Annotations {
		if _, ok := input.Annotations[k]; !ok && k != AnnotationWebhookSet {
			added = append(added, k)
		}
	}
	if len(added) == 0 {
		return
	}
	slices.Sort(added)
	shaped.Annotations[AnnotationWebhookSet] = strings.Join(added, ",")
}

// patchVerdict answers with the patch that carries the engine's changes (before → shaped) into
// the object as the apiserver sent it (raw).
func patchVerdict(raw, before []byte, shaped any, warnings []string) verdict {
	after, err := json.Marshal(shaped)
	if err != nil {
		return verdict{outcome: outcomeError, message: "argo-eci: encoding the shaped object: " + err.Error()}
	}
	patch, err := changePatch(raw, before, after)
	if err != nil {
		return verdict{outcome: outcomeError, message: "argo-eci: " + err.Error()}
	}
	if len(patch) == 0 {
		return verdict{outcome: outcomeSkipped, warnings: warnings}
	}
	return verdict{outcome: outcomeShaped, patch: patch, warnings: warnings}
}

// decodeObject decodes an object of a request the way the apiserver does: keys match case-sensitively
// (encoding/json would also fill spec.templates from a "Templates" key that Argo never reads)
// and fields the Go types do not know are ignored here and kept by the patch.
func decodeObject(raw []byte, obj any) error {
	return sigsjson.UnmarshalCaseSensitivePreserveInts(raw, obj)
}

// owningWorkflow finds the Workflow a pod belongs to: from the cache, and on a miss with one
// direct read bounded by DirectReadTimeout, so that a pod created before the informer has seen
// its Workflow is still shaped with the Workflow's profile. A Workflow that does not exist gives
// nil (the pod is shaped from what it carries); a failed read is an error, and Argo's controller
// retries the pod.
func (s *Server) owningWorkflow(ctx context.Context, pod *corev1.Pod) (*wfv1.Workflow, error) {
	log := Logger(ctx)
	name := pod.Labels[common.LabelKeyWorkflow]
	if name == "" || s.Workflows == nil {
		return nil, nil
	}
	if wf, ok := s.Workflows.Workflow(pod.Namespace, name); ok {
		return wf, nil
	}
	if s.WorkflowReader == nil {
		s.Metrics.workflowMisses.WithLabelValues(missNoReader).Inc()
		log.Info("workflow not in cache; shaping from the pod alone", "workflow", name)
		return nil, nil
	}
	rctx, cancel := context.WithTimeout(ctx, s.directReadTimeout())
	defer cancel()
	wf, err := s.WorkflowReader.ReadWorkflow(rctx, pod.Namespace, name)
	switch {
	case err == nil:
		s.Metrics.workflowMisses.WithLabelValues(missFound).Inc()
		return wf, nil
	case apierrors.IsNotFound(err):
		s.Metrics.workflowMisses.WithLabelValues(missNotFound).Inc()
		log.Info("workflow does not exist; shaping from the pod alone", "workflow", name)
		return nil, nil
	case errors.Is(err, ErrNamespaceNotServed):
		s.Metrics.workflowMisses.WithLabelValues(missNoReader).Inc()
		log.Warn("pod from a namespace this webhook does not serve; shaping from the pod alone", "workflow", name)
		return nil, nil
	default:
		s.Metrics.workflowMisses.WithLabelValues(missError).Inc()
		return nil, fmt.Errorf("reading Workflow %s/%s (not in the cache yet): %w", pod.Namespace, name, err)
	}
}

// admitWorkflow shapes Workflows, CronWorkflows and WorkflowTemplates on create and update.
func (s *Server) admitWorkflow(ctx context.Context, req *admissionv1.AdmissionRequest) verdict {
	if req.Kind.Group != "argoproj.io" {
		return wrongKind(PathWorkflows, req, "argoproj.io Workflow, CronWorkflow or WorkflowTemplate")
	}
	// ClusterWorkflowTemplates are cluster-wide and not in the webhook's rules: no namespace selects a profile.
	obj := emissary.NewWorkflowObject(req.Kind.Kind)
	if obj == nil || req.Kind.Kind == "ClusterWorkflowTemplate" {
		return wrongKind(PathWorkflows, req, "argoproj.io Workflow, CronWorkflow or WorkflowTemplate")
	}
	if (req.Operation != admissionv1.Create && req.Operation != admissionv1.Update) || req.SubResource != "" {
		return verdict{outcome: outcomeIgnored}
	}
	if err := decodeObject(req.Object.Raw, obj); err != nil {
		return verdict{outcome: outcomeInvalid, message: fmt.Sprintf("argo-eci: request.object is not a %s: %v", req.Kind.Kind, err)}
	}
	// An object created without metadata.namespace arrives without one; the request says where it
	// goes, and profile selectors match on it.
	if m, ok := obj.(metav1.Object); ok && m.GetNamespace() == "" {
		m.SetNamespace(req.Namespace)
	}
	if wf, ok := obj.(*wfv1.Workflow); ok && req.Operation == admissionv1.Update && wf.Status.Phase != wfv1.WorkflowUnknown {
		// A started workflow belongs to the controller, which updates it constantly; its pods
		// are shaped one by one at creation instead.
		return verdict{outcome: outcomeSkipped}
	}
	engine := s.Engines.Current()
	if engine == nil {
		return verdict{outcome: outcomeError, message: "argo-eci: " + ErrNoProfiles.Error()}
	}
	before, err := json.Marshal(obj)
	if err != nil {
		return verdict{outcome: outcomeError, message: "argo-eci: encoding the object: " + err.Error()}
	}
	shaped, findings, err := engine.ShapeWorkflow(obj)
	if err != nil {
		return errorVerdict(err)
	}
	warnings := findingWarnings(findings)
	if shaped == nil {
		return verdict{outcome: outcomeSkipped, warnings: warnings}
	}
	return s.guardSize(ctx, req.Kind.Kind, req.Object.Raw, patchVerdict(req.Object.Raw, before, shaped, warnings))
}

// wrongKind lets an object the endpoint does not shape through, with a warning pointing at the
// webhook configuration: a misrouted rule must not block objects argo-eci does not own.
func wrongKind(path string, req *admissionv1.AdmissionRequest, want string) verdict {
	got := req.Kind.Kind
	if req.Kind.Group != "" {
		got = req.Kind.Group + "/" + got
	}
	return verdict{outcome: outcomeIgnored, warnings: []string{fmt.Sprintf(
		"argo-eci: %s shapes %s, not %s; check the MutatingWebhookConfiguration rules", path, want, got)}}
}

// maxCauses bounds the field causes of one refusal.
const maxCauses = 5

// errorVerdict classifies an engine error: bad user input is refused naming the field (in the
// message and, as the apiserver's own validation does, as one status cause per problem), anything
// else is an internal error.
func errorVerdict(err error) verdict {
	var fe *badinput.Error
	if errors.As(err, &fe) {
		v := verdict{outcome: outcomeInvalid, message: "argo-eci: " + fe.Error()}
		for _, e := range fe.Errs[:min(len(fe.Errs), maxCauses)] {
			v.causes = append(v.causes, metav1.StatusCause{Type: metav1.CauseType(e.Type), Message: e.ErrorBody(), Field: e.Field})
		}
		return v
	}
	return verdict{outcome: outcomeError, message: "argo-eci: " + err.Error()}
}

// findingWarnings renders warning- and error-severity findings of an admitted object as
// AdmissionResponse warnings (info findings are recorded on the object by the engine). An error
// finding on an admitted object is a problem ECI will hit later (a GPU pod without ECS types), so
// the user sees it now rather than as a failed pod.
func findingWarnings(findings []emissary.Finding) []string {
	var out []string
	for _, f := range findings {
		if f.Severity != emissary.SeverityWarning && f.Severity != emissary.SeverityError {
			continue
		}
		out = append(out, formatFinding(f))
	}
	return out
}

func formatFinding(f emissary.Finding) string {
	var b strings.Builder
	b.WriteString("argo-eci ")
	b.WriteString(string(f.Severity))
	b.WriteString(" ")
	b.WriteString(f.Code)
	if f.Template != "" {
		b.WriteString(" template ")
		b.WriteString(f.Template)
	}
	if f.Path != "" {
		b.WriteString(" ")
		b.WriteString(f.Path)
	}
	b.WriteString(": ")
	b.WriteString(f.Message)
	if f.Hint != "" {
		b.WriteString(" (")
		b.WriteString(f.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// denialMessage explains a profile's denial in one line.
func denialMessage(profile, reason string, findings []emissary.Finding) string {
	var b strings.Builder
	b.WriteString("argo-eci")
	if profile != "" {
		b.WriteString(" profile ")
		b.WriteString(profile)
	}
	b.WriteString(" denies this pod")
	if reason != "" {
		b.WriteString(": ")
		b.WriteString(reason)
	}
	for _, f := range findings {
		if f.Severity == emissary.SeverityError {
			b.WriteString("; ")
			b.WriteString(formatFinding(f))
		}
	}
	return b.String()
}
