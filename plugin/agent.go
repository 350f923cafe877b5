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

// AgentServiceAccount is the dedicated ServiceAccount of Argo's agent container (manifests/plugin):
// it holds only the WorkflowTaskSet rights the agent needs.
const AgentServiceAccount = "argo-eci-agent"

// SidecarName is the name of argo-eci's executor-plugin sidecar container (manifests/plugin's
// plugin.yaml). An agent pod that carries it comes from a namespace where manifests/plugin is
// applied, which also creates AgentServiceAccount there.
const SidecarName = "argo-eci-plugin"

// AgentTokenExpiration is the lifetime of the projected token ProjectAgentToken mounts; the kubelet
// renews it at 80 % of that.
const AgentTokenExpiration = time.Hour

// HasSidecar reports whether an agent pod carries argo-eci's executor-plugin sidecar.
func HasSidecar(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == SidecarName {
			return true
		}
	}
	return false
}

// serviceAccountTokenPath is where client-go's in-cluster config reads its token.
const serviceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// ProjectAgentToken moves an agent pod onto serviceAccount with an expiring, kubelet-rotated token.
// Argo v4.0.7 mounts the agent's token from the workflow ServiceAccount's Secret
// (<sa>.service-account-token, which need not even exist, workflow/controller/serviceaccount.go) in
// its init and main containers; this replaces that volume, and only that one, with the projection a
// kubelet gives ordinary pods (token, kube-root-ca.crt, namespace). Plugin sidecars keep their own
// Secret token: Argo offers them nothing else. It reports whether it changed the pod.
func ProjectAgentToken(pod *corev1.Pod, serviceAccount string, expiration time.Duration) bool {
	agentVolumes := map[string]bool{}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if c.Name != "main" && c.Name != "init" {
				continue
			}
			for _, m := range c.VolumeMounts {
				if m.MountPath == serviceAccountTokenPath {
					agentVolumes[m.Name] = true
				}
			}
		}
	}
	seconds := int64(expiration / time.Second)
	if len(agentVolumes) == 0 || seconds < 600 || serviceAccount == "" {
		return false // the apiserver refuses projected tokens shorter than 10 minutes
	}
	mode := int32(0o644)
	changed := pod.Spec.ServiceAccountName != serviceAccount
	pod.Spec.ServiceAccountName = serviceAccount
	pod.Spec.DeprecatedServiceAccount = ""
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if !agentVolumes[v.Name] || v.Projected != nil {
			continue
		}
		v.VolumeSource = corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: &mode, Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &seconds}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		}}}
		changed = true
	}
	return changed
}
