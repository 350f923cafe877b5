package emissary

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/eci"
)

// placeable is what placement writes, on a pod or on a workflow template. For a template, the
// inherited fields are the workflow's: the controller takes nodeSelector, tolerations and
// schedulerName from the template when it has them and from the workflow otherwise (replacing, not
// merging; workflow/controller/workflowpod.go addSchedulingConstraints), so the workflow's values
// are carried into the template before ECI's are added.
type placeable struct {
	labels             *map[string]string
	schedulerName      *string
	inheritedScheduler string
	nodeSelector       *map[string]string
	inheritedSelector  map[string]string
	tolerations        *[]corev1.Toleration
	inheritedTolerates []corev1.Toleration
}

// place sends the pod (or the template's pods) to ECI per the profile's placement, adding only what
// is missing. It returns a finding when a custom scheduler was kept. A steps/DAG template's own
// nodeSelector, which Argo also passes to its children, is not carried over.
func place(p *Profile, t placeable, tmpl string) *Finding {
	var kept *Finding
	for _, pl := range p.Placement {
		switch pl {
		case PlacementLabel:
			setDefault(t.labels, eci.LabelECI, "true")
		case PlacementScheduler:
			name := *t.schedulerName
			if name == "" {
				name = t.inheritedScheduler
			}
			switch name {
			case "", corev1.DefaultSchedulerName:
				*t.schedulerName = eci.SchedulerName
			case eci.SchedulerName:
			default:
				kept = &Finding{Code: CodeSchedulerKept, Severity: SeverityInfo, Template: tmpl,
					Message: fmt.Sprintf("schedulerName %q set by the workflow was kept instead of %s", name, eci.SchedulerName)}
			}
		case PlacementNodeSelector:
			if len(*t.nodeSelector) == 0 {
				m := make(map[string]string, len(t.inheritedSelector)+1)
				for k, v := range t.inheritedSelector {
					m[k] = v
				}
				*t.nodeSelector = m
			}
			setDefault(t.nodeSelector, eci.NodeLabelType, eci.NodeTypeVirtualKubelet)
			if len(*t.tolerations) == 0 {
				*t.tolerations = append([]corev1.Toleration(nil), t.inheritedTolerates...)
			}
			if !hasECIToleration(*t.tolerations) {
				*t.tolerations = append(*t.tolerations, eciToleration())
			}
		}
	}
	return kept
}

// optOut keeps a template's pods off ECI when workflow-level placement (label in podMetadata,
// spec.schedulerName) would send them there.
func optOut(p *Profile, t placeable) {
	for _, pl := range p.Placement {
		switch pl {
		case PlacementLabel:
			setDefault(t.labels, eci.LabelECI, "false")
		case PlacementScheduler:
			if *t.schedulerName == "" {
				*t.schedulerName = corev1.DefaultSchedulerName
			}
		}
	}
}

// setDefault sets m[k] = v unless k is present, allocating m when needed.
func setDefault(m *map[string]string, k, v string) {
	if *m == nil {
		*m = map[string]string{}
	}
	if _, ok := (*m)[k]; !ok {
		(*m)[k] = v
	}
}

func eciToleration() corev1.Toleration {
	return corev1.Toleration{Key: eci.TaintKeyProvider, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
}

func hasECIToleration(ts []corev1.Toleration) bool {
	for _, t := range ts {
		if t.Key == eci.TaintKeyProvider || (t.Key == "" && t.Operator == corev1.TolerationOpExists) {
			return true
		}
	}
	return false
}

// podPlaceable views a pod's placement fields.
func podPlaceable(pod *corev1.Pod) placeable {
	return placeable{labels: &pod.Labels, schedulerName: &pod.Spec.SchedulerName,
		nodeSelector: &pod.Spec.NodeSelector, tolerations: &pod.Spec.Tolerations}
}

// virtualNodeLabels are the node labels a nodeSelector may name and still match an ECI virtual
// node: its type label, the well-known OS, architecture and topology labels Kubernetes sets on
// every node, and the virtual node's own name.
var virtualNodeLabels = map[string]bool{
	eci.NodeLabelType: true, "kubernetes.io/os": true, "kubernetes.io/arch": true, "beta.kubernetes.io/os": true,
	"beta.kubernetes.io/arch": true, "topology.kubernetes.io/zone": true, "topology.kubernetes.io/region": true,
	"failure-domain.beta.kubernetes.io/zone": true, "failure-domain.beta.kubernetes.io/region": true,
	"kubernetes.io/hostname": true,
}

// nodeSelectorFinding warns when a pod sent to ECI has a nodeSelector that no ECI virtual node can
// match (a node-pool label, or type other than virtual-kubelet): the pod would stay Pending.
func nodeSelectorFinding(sel map[string]string, tmpl, path string) *Finding {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if (k == eci.NodeLabelType && sel[k] != eci.NodeTypeVirtualKubelet) || !virtualNodeLabels[k] {
			return &Finding{Code: CodeNodeSelectorNoECI, Severity: SeverityWarning, Template: tmpl, Path: path + "." + k,
				Message: fmt.Sprintf("nodeSelector %s=%s matches no ECI virtual node: the pod sent to ECI would stay Pending", k, sel[k]),
				Hint:    "drop the nodeSelector, or skip this template with argo-eci.io/skip: \"true\""}
		}
	}
	return nil
}
