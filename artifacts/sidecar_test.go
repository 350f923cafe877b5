package artifacts

import (
	"encoding/json"
	"syscall"
	"testing"

	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sidecarPod is a pod as Argo v4.0.7's controller builds it for a step whose output goes through
// the argo-eci-oss driver (the sidecar's command as the controller wrote it on the local cluster),
// beside another driver's sidecar.
func sidecarPod() *corev1.Pod {
	argoexec := []string{"/var/run/argo/argoexec", "artifact-plugin-sidecar", "--loglevel", "info", "--log-format", "text", "--gloglevel", "0", "--"}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "wait", Command: []string{"argoexec", "wait"}},
		{Name: "main", Command: []string{"/var/run/argo/argoexec", "emissary", "--", "sh", "-c"}, Args: []string{"argo-eci artifact-server"}},
		{Name: "artifact-plugin-argo-eci-oss", Command: append(argoexec, "/usr/local/bin/argo-eci", "artifact-server", "--allow-http", "/tmp/artifact-plugins/argo-eci-oss/socket")},
		{Name: "artifact-plugin-other", Command: append(argoexec, "/bin/other-driver", "artifact-server")},
	}}}
}

func TestGuardSidecar(t *testing.T) {
	pod := sidecarPod()
	if !GuardSidecar(pod) {
		t.Fatal("argo-eci's sidecar not guarded")
	}
	var cmd []string
	if err := json.Unmarshal([]byte(pod.Annotations[common.AnnotationKeyKillCmd("artifact-plugin-argo-eci-oss")]), &cmd); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/usr/local/bin/argo-eci", SignalCommand, "%d"}; len(cmd) != 3 || cmd[0] != want[0] || cmd[1] != want[1] || cmd[2] != want[2] {
		t.Errorf("kill command %q, want %q", cmd, want)
	}
	if len(pod.Annotations) != 1 {
		t.Errorf("annotations %v: only argo-eci's sidecar gets a kill command", pod.Annotations)
	}
	if GuardSidecar(pod) {
		t.Error("guarded twice")
	}
	// A kill command the user set is theirs.
	own := sidecarPod()
	own.Annotations = map[string]string{common.AnnotationKeyKillCmd("artifact-plugin-argo-eci-oss"): `["true"]`}
	if GuardSidecar(own) || own.Annotations[common.AnnotationKeyKillCmd("artifact-plugin-argo-eci-oss")] != `["true"]` {
		t.Errorf("the user's kill command replaced: %v", own.Annotations)
	}
	// The same binary as the main container's user command is not a sidecar.
	plain := sidecarPod()
	plain.Spec.Containers = plain.Spec.Containers[:2]
	if GuardSidecar(plain) {
		t.Error("a pod without argo-eci's sidecar changed")
	}
}

func TestSidecarSignal(t *testing.T) {
	var sent []syscall.Signal
	kill := func(pid int, sig syscall.Signal) error {
		if pid != 1 {
			t.Errorf("signalled pid %d, want the container's PID 1", pid)
		}
		sent = append(sent, sig)
		return nil
	}
	if forwarded, err := SidecarSignal(syscall.SIGTERM, kill); forwarded || err != nil || len(sent) != 0 {
		t.Errorf("SIGTERM: forwarded %v, %v, sent %v; want it left to the wait container", forwarded, err, sent)
	}
	if forwarded, err := SidecarSignal(syscall.SIGKILL, kill); !forwarded || err != nil || len(sent) != 1 || sent[0] != syscall.SIGKILL {
		t.Errorf("SIGKILL: forwarded %v, %v, sent %v", forwarded, err, sent)
	}
}
