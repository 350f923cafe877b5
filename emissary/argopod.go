package emissary

import (
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
)

// PodKind is the role of a pod the Argo controller created.
type PodKind string

// Pod kinds. The zero value means "not a pod of an Argo workflow".
const (
	PodKindNone       PodKind = ""
	PodKindWorkflow   PodKind = "workflow"    // a template's pod: node-id/node-name annotations
	PodKindAgent      PodKind = "agent"       // <wf>-agent, runs HTTP and plugin templates
	PodKindArtifactGC PodKind = "artifact-gc" // deletes artifacts after the workflow
)

// SupervisorContainerName is the container that replaces init and wait in Argo v4.1's initless pod
// layout (docs/initless-pod.md in Argo v4.1).
const SupervisorContainerName = "supervisor"

// ArgoPodKind classifies a pod by what the Argo controller sets on every pod it creates
// (workflow/controller/workflowpod.go, agent.go, artifact_gc.go in Argo v4.0.7): the
// workflows.argoproj.io/workflow label on all three, workflows.argoproj.io/component "agent" or
// "artifact-gc" on the agent and artifact-GC pods, and the node-id or node-name annotation on a
// template's pod. Any other pod, including one that copies only some of these labels, is
// PodKindNone. It is the one definition the engine and the webhook share.
func ArgoPodKind(pod *corev1.Pod) PodKind {
	if pod == nil || pod.Labels[common.LabelKeyWorkflow] == "" {
		return PodKindNone
	}
	switch pod.Labels[common.LabelKeyComponent] {
	case "agent":
		return PodKindAgent
	case "artifact-gc":
		return PodKindArtifactGC
	case "":
		if pod.Annotations[common.AnnotationKeyNodeID] != "" || pod.Annotations[common.AnnotationKeyNodeName] != "" {
			return PodKindWorkflow
		}
	}
	return PodKindNone
}

// IsArgoPod reports whether the Argo controller created pod (ArgoPodKind is not PodKindNone).
func IsArgoPod(pod *corev1.Pod) bool { return ArgoPodKind(pod) != PodKindNone }

// IsExecutorSidecar reports whether a regular container of an Argo pod is one of Argo's own:
// wait (v4.0), supervisor (v4.1 initless pods) or an artifact-plugin-<name> sidecar.
func IsExecutorSidecar(name string) bool {
	return name == SupervisorContainerName || common.IsArgoSidecar(name)
}

// IsExecutorContainer reports whether a container (init or regular) is one of Argo's own: init,
// init-artifact-<name>, or an executor sidecar.
func IsExecutorContainer(name string) bool {
	return name == common.InitContainerName || common.IsArtifactPluginInit(name) || IsExecutorSidecar(name)
}
