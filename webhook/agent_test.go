package webhook

import (
	"encoding/json"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/plugin"
)

// argoAgentPod is an agent pod as Argo v4.0.7's controller creates it (workflow/controller/agent.go):
// the workflow's ServiceAccount, no automounted token, and the token mounted from the Secret
// <sa>.service-account-token in a volume named kube-api-access-<random>.
func argoAgentPod(sidecar string) *corev1.Pod {
	token := corev1.VolumeMount{Name: "kube-api-access-x7k2q", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}
	no := false
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "warm-7xk2p-1340600742-agent", Namespace: "ci",
			Labels: map[string]string{"workflows.argoproj.io/workflow": "warm-7xk2p", "workflows.argoproj.io/component": "agent"}},
		Spec: corev1.PodSpec{
			ServiceAccountName:           "default",
			AutomountServiceAccountToken: &no,
			Volumes: []corev1.Volume{
				{Name: "plugin-token", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "argo-eci-executor-plugin.service-account-token"}}},
				{Name: "var-run-argo", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: token.Name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "default.service-account-token"}}},
			},
			InitContainers: []corev1.Container{{Name: "init", Image: "quay.io/argoproj/argoexec:v4.0.7", Args: []string{"agent", "init"},
				VolumeMounts: []corev1.VolumeMount{{Name: "var-run-argo", MountPath: "/var/run/argo"}, token}}},
			Containers: []corev1.Container{
				{Name: sidecar, Image: "argo-eci:dev", Args: []string{"plugin"},
					VolumeMounts: []corev1.VolumeMount{{Name: "plugin-token", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}}},
				{Name: "main", Image: "quay.io/argoproj/argoexec:v4.0.7", Args: []string{"agent", "main"},
					VolumeMounts: []corev1.VolumeMount{{Name: "var-run-argo", MountPath: "/var/run/argo"}, token}},
			},
		},
	}
}

// TestAgentPodMovedToAgentServiceAccount: an agent pod that carries argo-eci's sidecar runs as the
// argo-eci-agent ServiceAccount (the only one manifests/plugin grants WorkflowTaskSet rights to)
// with a projected token, whether a profile shapes it or leaves it on normal nodes; the sidecar
// keeps its own token; an agent pod without argo-eci's sidecar is not moved.
func TestAgentPodMovedToAgentServiceAccount(t *testing.T) {
	stay := testProfiles + "  stays:\n    agentPod: stay\n"
	for _, tc := range []struct {
		name, profiles, sidecar string
		moved                   bool
	}{
		{"shaped", testProfiles, plugin.SidecarName, true},
		{"agentPod: stay", "default: stays\n" + stay[len("\ndefault: standard\n"):], plugin.SidecarName, true},
		{"another plugin only", testProfiles, "other-plugin", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, &Server{Engines: realStore(t, tc.profiles)})
			pod := argoAgentPod(tc.sidecar)
			raw, err := json.Marshal(pod)
			if err != nil {
				t.Fatal(err)
			}
			status, out, body := ts.post(t, PathPods, podReview(t, "u-agent", raw))
			if status != http.StatusOK || !out.Response.Allowed {
				t.Fatalf("status %d: %s", status, body)
			}
			got := pod
			if out.Response.Patch != nil {
				got = &corev1.Pod{}
				if err := json.Unmarshal(applyPatch(t, raw, out.Response), got); err != nil {
					t.Fatal(err)
				}
			}
			wantSA := "default"
			if tc.moved {
				wantSA = plugin.AgentServiceAccount
			}
			if got.Spec.ServiceAccountName != wantSA {
				t.Errorf("serviceAccountName %q, want %q", got.Spec.ServiceAccountName, wantSA)
			}
			for _, v := range got.Spec.Volumes {
				switch v.Name {
				case "kube-api-access-x7k2q":
					if tc.moved != (v.Projected != nil && v.Secret == nil) {
						t.Errorf("agent token volume %+v: projected = %v, want %v", v.VolumeSource, v.Projected != nil, tc.moved)
					}
					if tc.moved && v.Projected != nil && *v.Projected.Sources[0].ServiceAccountToken.ExpirationSeconds != int64(plugin.AgentTokenExpiration.Seconds()) {
						t.Errorf("token expiration %d s", *v.Projected.Sources[0].ServiceAccountToken.ExpirationSeconds)
					}
				case "plugin-token":
					if v.Secret == nil || v.Secret.SecretName != "argo-eci-executor-plugin.service-account-token" {
						t.Errorf("sidecar token volume changed: %+v", v.VolumeSource)
					}
				}
			}
		})
	}
}
