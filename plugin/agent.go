package plugin

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Argo's agent pod (<workflow>-agent, label workflows.argoproj.io/component: agent) batches plugin
// results and patches its WorkflowTaskSet every ARGO_AGENT_PATCH_RATE (workflow/executor/agent.go).
// The controller sets that variable on the agent's init and main containers from its own
// environment, defaulting to DEFAULT_REQUEUE_TIME, 10 s (workflow/controller/agent.go): a warm-up
// that ends is then reported up to 10 s late. The webhook shortens it with SetAgentPatchRate.
const (
	// AgentPatchRateEnv is the variable Argo's agent reads.
	AgentPatchRateEnv = "ARGO_AGENT_PATCH_RATE"
	// DefaultAgentPatchRate is what argo-eci's profiles set unless they say otherwise (agent.patchRate).
	DefaultAgentPatchRate = time.Second
)

// SetAgentPatchRate sets ARGO_AGENT_PATCH_RATE to rate on every init and regular container of an
// agent pod except the plugin sidecars (which do not read it), replacing the controller's value. It
// reports whether it changed anything. rate must be positive.
func SetAgentPatchRate(pod *corev1.Pod, rate time.Duration, sidecars ...string) bool {
	if rate <= 0 {
		return false
	}
	value := rate.String()
	changed := false
	set := func(cs []corev1.Container) {
		for i := range cs {
			c := &cs[i]
			if isSidecar(c.Name, sidecars) {
				continue
			}
			found := false
			for j := range c.Env {
				if c.Env[j].Name == AgentPatchRateEnv {
					found = true
					if c.Env[j].Value != value || c.Env[j].ValueFrom != nil {
						c.Env[j] = corev1.EnvVar{Name: AgentPatchRateEnv, Value: value}
						changed = true
					}
				}
			}
			if !found && (c.Name == "main" || c.Name == "init") {
				c.Env = append(c.Env, corev1.EnvVar{Name: AgentPatchRateEnv, Value: value})
				changed = true
			}
		}
	}
	set(pod.Spec.InitContainers)
	set(pod.Spec.Containers)
	return changed
}

func isSidecar(name string, sidecars []string) bool {
	for _, s := range sidecars {
		if s == name {
			return true
		}
	}
	return false
}
