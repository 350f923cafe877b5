package plugin

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// agentPod is the shape Argo v4.0.7's controller gives an agent pod (workflow/controller/agent.go):
// plugin sidecars first, then main; init before them; ARGO_AGENT_PATCH_RATE from the controller.
func agentPod() *corev1.Pod {
	env := []corev1.EnvVar{{Name: "ARGO_WORKFLOW_NAME", Value: "wf"}, {Name: AgentPatchRateEnv, Value: "10s"}}
	return &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Env: append([]corev1.EnvVar{}, env...)}},
		Containers: []corev1.Container{
			{Name: "argo-eci-plugin"},
			{Name: "main", Env: append([]corev1.EnvVar{}, env...)},
		},
	}}
}

func TestSetAgentPatchRate(t *testing.T) {
	pod := agentPod()
	if !SetAgentPatchRate(pod, DefaultAgentPatchRate, "argo-eci-plugin") {
		t.Fatal("nothing changed")
	}
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers[1]) {
		n := 0
		for _, e := range c.Env {
			if e.Name == AgentPatchRateEnv {
				n++
				if e.Value != "1s" {
					t.Fatalf("%s: %s=%s", c.Name, e.Name, e.Value)
				}
				if d, err := time.ParseDuration(e.Value); err != nil || d != time.Second {
					t.Fatalf("Argo parses %q as %v, %v", e.Value, d, err)
				}
			}
		}
		if n != 1 {
			t.Fatalf("%s has %d %s variables", c.Name, n, AgentPatchRateEnv)
		}
	}
	if len(pod.Spec.Containers[0].Env) != 0 {
		t.Fatalf("sidecar got %v", pod.Spec.Containers[0].Env)
	}
	if SetAgentPatchRate(pod, time.Second, "argo-eci-plugin") {
		t.Fatal("second call changed something")
	}
	if SetAgentPatchRate(agentPod(), 0) {
		t.Fatal("a zero rate was applied")
	}
}

func TestProjectAgentToken(t *testing.T) {
	pod := agentPod()
	pod.Spec.ServiceAccountName = "default"
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "kube-api-access-abcde", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "default.service-account-token"}}},
		{Name: "kube-api-access-fghij", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "argo-eci-executor-plugin.service-account-token"}}},
		{Name: "var-run-argo", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	agentMount := corev1.VolumeMount{Name: "kube-api-access-abcde", MountPath: serviceAccountTokenPath, ReadOnly: true}
	pod.Spec.InitContainers[0].VolumeMounts = []corev1.VolumeMount{agentMount}
	pod.Spec.Containers[1].VolumeMounts = []corev1.VolumeMount{agentMount}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "kube-api-access-fghij", MountPath: serviceAccountTokenPath, ReadOnly: true}}

	if !ProjectAgentToken(pod, AgentServiceAccount, time.Hour) {
		t.Fatal("nothing changed")
	}
	if pod.Spec.ServiceAccountName != AgentServiceAccount {
		t.Fatalf("serviceAccountName %q", pod.Spec.ServiceAccountName)
	}
	agent := pod.Spec.Volumes[0]
	if agent.Secret != nil || agent.Projected == nil || *agent.Projected.Sources[0].ServiceAccountToken.ExpirationSeconds != 3600 {
		t.Fatalf("agent token volume = %+v", agent.VolumeSource)
	}
	if pod.Spec.Volumes[1].Secret == nil || pod.Spec.Volumes[2].EmptyDir == nil {
		t.Fatalf("the plugin's Secret token or other volumes were touched: %+v", pod.Spec.Volumes)
	}
	if ProjectAgentToken(pod, AgentServiceAccount, time.Hour) {
		t.Fatal("second call changed something")
	}
	if ProjectAgentToken(agentPod(), AgentServiceAccount, time.Minute) {
		t.Fatal("a token shorter than the apiserver's 10-minute minimum was projected")
	}
}
