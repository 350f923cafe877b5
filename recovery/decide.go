package recovery

import (
	"fmt"
	"sort"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/eci"
)

// Options are the profile's recovery settings. The zero value is not the default: use
// DefaultOptions.
type Options struct {
	// SpotAfterReclaim keeps a retry on spot after a reclaim (default false: pay-as-you-go).
	SpotAfterReclaim bool
	// MaxMemorySteps bounds how many times retries after OOMKills step up to more memory (0..4).
	MaxMemorySteps int
	// APIEvict sets eci-spot-release-strategy: api-evict on spot pods (default true).
	APIEvict bool
}

// DefaultOptions are the safe defaults: on-demand after a reclaim, two memory steps, api-evict.
func DefaultOptions() Options { return Options{MaxMemorySteps: 2, APIEvict: true} }

// Validate reports settings out of range, naming the field under path.
func (o Options) Validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if o.MaxMemorySteps < 0 || o.MaxMemorySteps > eci.MaxSpecs-1 {
		errs = append(errs, field.Invalid(path.Child("maxMemorySteps"), o.MaxMemorySteps, fmt.Sprintf("must be 0..%d", eci.MaxSpecs-1)))
	}
	return errs
}

// AnnotationRecovery on a retry's pod says what Decide changed and why (Decision.Reason).
const AnnotationRecovery = "argo-eci.io/recovery"

// spotKeys are the annotations that make a pod spot; removing them makes it pay-as-you-go.
var spotKeys = []string{eci.AnnotationSpotStrategy, eci.AnnotationSpotPriceLimit, eci.AnnotationSpotDuration,
	eci.AnnotationSpotFallback, eci.AnnotationSpotReleaseStrategy}

// Decision is what a retry's pod should change. The zero Decision changes nothing.
type Decision struct {
	// Set are annotations to set, Remove annotations to delete.
	Set    map[string]string
	Remove []string
	// MainMemoryLimit, when set, replaces the memory limit of the main container.
	MainMemoryLimit *resource.Quantity
	// Reasons say, one phrase each, what was changed and why.
	Reasons []string
}

// Changed reports whether the decision changes the pod.
func (d Decision) Changed() bool {
	return len(d.Set) > 0 || len(d.Remove) > 0 || d.MainMemoryLimit != nil
}

// Reason is the decision as one line for the pod's argo-eci.io/recovery annotation.
func (d Decision) Reason() string { return strings.Join(d.Reasons, "; ") }

func (d *Decision) set(key, value, reason string) {
	if d.Set == nil {
		d.Set = map[string]string{}
	}
	d.Set[key] = value
	if reason != "" {
		d.Reasons = append(d.Reasons, reason)
	}
}

// Decide shapes the pod of a retry from its earlier attempts. It reads only pod's annotations and
// containers; an error means the pod's own ECI annotations are malformed, or opts (a profile's
// recovery settings) are invalid, a *badinput.Error.
func Decide(pod *corev1.Pod, attempts []Attempt, opts Options) (Decision, error) {
	var d Decision
	if errs := opts.Validate(field.NewPath("recovery")); len(errs) > 0 {
		return d, &badinput.Error{Errs: errs}
	}
	ann := pod.Annotations
	var specs []eci.Spec
	if v := ann[eci.AnnotationUseSpecs]; v != "" {
		var err error
		if specs, err = eci.ParseSpecList(v); err != nil {
			return d, fmt.Errorf("annotation %s: %w", eci.AnnotationUseSpecs, err)
		}
	}
	failures := count(attempts)
	spot := ann[eci.AnnotationSpotStrategy] != ""
	reclaims := failures[FailureSpotReclaim] + failures[FailureEvicted]
	switch {
	case spot && reclaims > 0 && !opts.SpotAfterReclaim:
		d.Remove = append(d.Remove, present(ann, spotKeys)...)
		d.Reasons = append(d.Reasons, fmt.Sprintf("pay-as-you-go after %d spot reclaim(s)", reclaims))
		spot = false
	case spot && opts.APIEvict && ann[eci.AnnotationSpotReleaseStrategy] == "":
		d.set(eci.AnnotationSpotReleaseStrategy, eci.SpotReleaseAPIEvict, "spot release as an api-evict eviction")
	}
	if n := failures[FailureOOMKilled]; n > 0 {
		specs = d.moreMemory(pod, specs, n, opts.MaxMemorySteps)
	}
	if n := failures[FailureStockOut]; n > 0 {
		specs = d.rotate(ann, specs, n, spot)
	}
	if len(specs) > 0 && eci.FormatSpecList(specs) != ann[eci.AnnotationUseSpecs] {
		d.set(eci.AnnotationUseSpecs, eci.FormatSpecList(specs), "")
	}
	return d, nil
}

func present(ann map[string]string, keys []string) []string {
	var out []string
	for _, k := range keys {
		if _, ok := ann[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// Siblings are the other pods of a retry's workflow, as listed from the apiserver when the retry's
// pod is admitted. A nil *Siblings means they were not read.
type Siblings struct {
	Pods []corev1.Pod
}

// Attempts lists the earlier attempts of pod's step: those in its Workflow wf's node status (nil:
// none), then those only the workflow's pods show. With the pods listed (siblings not nil), an
// earlier attempt that neither shows is one whose pod was deleted before the controller saved its
// end: Argo only starts attempt n after attempt n-1 ended, and only deletes (garbage-collects) a
// pod after saving its end, so the pod was evicted or deleted under the step, which Argo records as
// "pod deleted". That is how a spot reclaim with eci-spot-release-strategy api-evict reaches
// the retry.
func Attempts(pod *corev1.Pod, wf *wfv1.Workflow, siblings *Siblings) []Attempt {
	name := pod.Annotations[common.AnnotationKeyNodeName]
	attempts := PreviousAttempts(wf, name)
	if siblings == nil {
		return attempts
	}
	step, n, _ := splitAttempt(name)
	known := map[int]bool{}
	for _, a := range attempts {
		known[a.Index] = true
	}
	for _, a := range AttemptsFromPods(siblings.Pods, name) {
		if !known[a.Index] {
			attempts, known[a.Index] = append(attempts, a), true
		}
	}
	for i := range siblings.Pods { // a pod still running is not deleted
		if s, k, ok := splitAttempt(siblings.Pods[i].Annotations[common.AnnotationKeyNodeName]); ok && s == step {
			known[k] = true
		}
	}
	for i := 0; i < n; i++ {
		if !known[i] {
			attempts = append(attempts, Attempt{Index: i, Phase: wfv1.NodeError, Message: MessageDeleted, Failure: FailureEvicted})
		}
	}
	sort.SliceStable(attempts, func(i, j int) bool { return attempts[i].Index < attempts[j].Index })
	return attempts
}

// AttemptsUnknown reports whether pod runs attempt n > 0 of its step (Argo names the attempts of a
// step with a retryStrategy "<step>(0)", "<step>(1)", ...) and wf's node status does not show all n
// earlier attempts finished: only then can the workflow's pods add an attempt to Attempts.
func AttemptsUnknown(pod *corev1.Pod, wf *wfv1.Workflow) bool {
	name := pod.Annotations[common.AnnotationKeyNodeName]
	_, n, ok := splitAttempt(name)
	return ok && n > 0 && len(PreviousAttempts(wf, name)) < n
}

// Apply writes d into pod: its annotations, the main container's memory limit, and the reason in
// AnnotationRecovery.
func (d Decision) Apply(pod *corev1.Pod) {
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	if len(d.Reasons) > 0 {
		pod.Annotations[AnnotationRecovery] = d.Reason()
	}
	for _, k := range d.Remove {
		delete(pod.Annotations, k)
	}
	for k, v := range d.Set {
		pod.Annotations[k] = v
	}
	if d.MainMemoryLimit == nil {
		return
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if c.Name != "main" {
			continue
		}
		if c.Resources.Limits == nil {
			c.Resources.Limits = corev1.ResourceList{}
		}
		c.Resources.Limits[corev1.ResourceMemory] = *d.MainMemoryLimit
	}
}
