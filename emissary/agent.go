package emissary

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/plugin"
)

// agentContainer reports the agent pod's own argoexec containers (init and main); the others are
// executor-plugin sidecars from the plugins' ConfigMaps (workflow/controller/agent.go in Argo v4.0.7).
func agentContainer(name string) bool { return name == "init" || name == "main" }

// shapeAgentPod prepares Argo's agent pod before its spec is decided: the executor-plugin
// sidecars get __ECI_RESOURCE_IGNORE__=TRUE, so that the pod's spec follows the agent's own
// containers (100m / 256M by default: 0.25-0.5Gi) however much the plugins declare, and
// ARGO_AGENT_PATCH_RATE is set to the profile's agent.patchRate on init and main.
func shapeAgentPod(out *corev1.Pod, p *Profile) {
	var sidecars []string
	for i := range out.Spec.Containers {
		c := &out.Spec.Containers[i]
		if agentContainer(c.Name) {
			continue
		}
		sidecars = append(sidecars, c.Name)
		if !hasEnv(c, eci.EnvResourceIgnore) {
			c.Env = append(c.Env, corev1.EnvVar{Name: eci.EnvResourceIgnore, Value: "TRUE"})
		}
	}
	if p.AgentPatchRate > 0 {
		plugin.SetAgentPatchRate(out, p.AgentPatchRate, sidecars...)
	}
}
