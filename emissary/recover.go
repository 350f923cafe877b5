package emissary

import (
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/recovery"
)

// recoverPod shapes the pod of a retry from the failures of its step's earlier attempts, as the
// Workflow's node status records them or, for attempts it does not show yet, their pods
// (recovery.Attempts, then recovery.Decide under the profile's recovery options):
// pay-as-you-go after a spot reclaim, more memory after an OOMKill, rotated specs and zones after a
// stock-out, and api-evict on spot pods. It runs after decide, so it sees the annotations decide
// wrote, and records what it changed as argo-eci's. It returns the failures it acted on.
func recoverPod(out *corev1.Pod, wf *wfv1.Workflow, siblings *recovery.Siblings, p *Profile) ([]recovery.Failure, error) {
	attempts := recovery.Attempts(out, wf, siblings)
	d, err := recovery.Decide(out, attempts, p.Recovery)
	if err != nil {
		return nil, fieldErrorf("pod "+out.Name+".metadata.annotations[\""+eci.AnnotationUseSpecs+"\"]", "%v", err)
	}
	if !d.Changed() && len(d.Reasons) == 0 {
		return nil, nil
	}
	profile, written, _ := DecisionKeys(out.Annotations)
	if profile == "" {
		profile = p.Name
	}
	keys := map[string]bool{}
	if d.MainMemoryLimit != nil {
		if c := mainContainer(out); c != nil {
			if orig, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
				out.Annotations[AnnotationRecoveryMemory] = orig.String() + "," + d.MainMemoryLimit.String()
				keys[AnnotationRecoveryMemory] = true
			}
		}
	}
	d.Apply(out)
	for _, k := range written {
		keys[k] = true
	}
	for _, k := range d.Remove {
		delete(keys, k)
	}
	for k := range d.Set {
		keys[k] = true
	}
	if _, ok := out.Annotations[recovery.AnnotationRecovery]; ok {
		keys[recovery.AnnotationRecovery] = true
	}
	list := make([]string, 0, len(keys))
	for k := range keys {
		list = append(list, k)
	}
	delete(out.Annotations, AnnotationDecision)
	recordDecision(out.Annotations, profile, list)
	return failuresOf(attempts), nil
}

// failuresOf lists the distinct ECI failures among attempts, in order of first appearance.
func failuresOf(attempts []recovery.Attempt) []recovery.Failure {
	var out []recovery.Failure
	seen := map[recovery.Failure]bool{}
	for _, a := range attempts {
		if a.Failure == recovery.FailureNone || a.Failure == recovery.FailureOther || seen[a.Failure] {
			continue
		}
		seen[a.Failure] = true
		out = append(out, a.Failure)
	}
	return out
}

// AnnotationRecoveryMemory records "<limit>,<raised limit>" when recovery raised the main
// container's memory limit after an OOMKill, so that shaping the pod again (the webhook is
// reinvoked when a later webhook adds a container) starts from the user's limit and does not
// step the memory up a second time.
const AnnotationRecoveryMemory = AnnotationPrefix + "recovery-memory"

func mainContainer(pod *corev1.Pod) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == common.MainContainerName {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// WithoutRecoveredMemory returns pod as it was before recovery raised its main container's memory
// limit (AnnotationRecoveryMemory): a copy with the recorded limit restored (the annotation stays,
// for the decision record that lists it), or pod itself when there is nothing to undo (no record, or the limit was changed since).
func WithoutRecoveredMemory(pod *corev1.Pod) *corev1.Pod {
	v, ok := pod.Annotations[AnnotationRecoveryMemory]
	c := mainContainer(pod)
	if !ok || c == nil {
		return pod
	}
	orig, raised, found := strings.Cut(v, ",")
	o, err1 := resource.ParseQuantity(orig)
	r, err2 := resource.ParseQuantity(raised)
	cur, has := c.Resources.Limits[corev1.ResourceMemory]
	// Only ever back down to a smaller limit: the annotation is on the pod, where a workflow author
	// can write it too.
	if !found || err1 != nil || err2 != nil || !has || cur.Cmp(r) != 0 || o.Sign() <= 0 || o.Cmp(r) >= 0 {
		return pod
	}
	out := pod.DeepCopy()
	mainContainer(out).Resources.Limits[corev1.ResourceMemory] = o
	return out
}
