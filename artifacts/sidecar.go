package artifacts

import (
	"encoding/json"
	"path"
	"slices"
	"syscall"

	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
)

// The artifact sidecar and the controller's SIGTERM.
//
// Argo adds argo-eci-oss to a pod that saves outputs as a sidecar running
// `argoexec artifact-plugin-sidecar -- argo-eci artifact-server ...`. As soon as the main container
// has exited, the workflow-controller signals every running container of the pod with SIGTERM
// (operator.go cleanUpPod, pod/queue.go signalContainers: an exec of `argoexec kill 15 1`), while
// the wait container may still be uploading through the sidecar. argoexec ignores SIGTERM for its
// child by design, but its root context is cancelled by SIGTERM (cmd/argoexec/main.go) and the
// child runs under exec.CommandContext, so the plugin server is SIGKILLed in the middle of the
// upload (Argo v4.0.7 and v4.1.2). Any save slower than the controller's reaction fails.
//
// The controller runs the command in the pod annotation workflows.argoproj.io/kill-cmd-<container>
// instead when it is set. GuardSidecar sets it, for argo-eci's sidecars, to `argo-eci
// artifact-signal <signal>`: SIGTERM is then left to the wait container, which stops the sidecar
// through Argo's signal file once its last save has ended; any other signal is delivered to the
// container's PID 1 as Argo's own kill command would.

// SignalCommand is the argo-eci subcommand GuardSidecar names in the kill command.
const SignalCommand = "artifact-signal"

// serverCommand is the argo-eci subcommand that serves the artifact plugin.
const serverCommand = "artifact-server"

// GuardSidecar sets the kill command of each argo-eci artifact sidecar in pod whose kill command
// is not set yet, and reports whether it changed pod.
func GuardSidecar(pod *corev1.Pod) bool {
	changed := false
	for _, c := range pod.Spec.Containers {
		bin, ok := sidecarBinary(c)
		key := common.AnnotationKeyKillCmd(c.Name)
		if _, set := pod.Annotations[key]; !ok || set {
			continue
		}
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[key] = KillCommand(bin)
		changed = true
	}
	return changed
}

// KillCommand is the value of Argo's kill-command annotation (a JSON list; the controller puts
// the signal number in place of %d) for an artifact sidecar whose argo-eci binary is bin.
func KillCommand(bin string) string {
	cmd, _ := json.Marshal([]string{bin, SignalCommand, "%d"}) // strings always marshal
	return string(cmd)
}

// sidecarBinary returns the argo-eci binary that container c runs as Argo's artifact-plugin
// sidecar (`... artifact-plugin-sidecar ... -- <argo-eci> artifact-server ...`).
func sidecarBinary(c corev1.Container) (string, bool) {
	if !common.IsArtifactPluginSidecar(c.Name) {
		return "", false
	}
	argv := append(slices.Clone(c.Command), c.Args...)
	i := slices.Index(argv, "--")
	if i < 0 || i+2 >= len(argv) || path.Base(argv[i+1]) != "argo-eci" || argv[i+2] != serverCommand {
		return "", false
	}
	return argv[i+1], true
}

// SidecarSignal is what `argo-eci artifact-signal` does inside the sidecar's container: SIGTERM
// is ignored (the wait container stops the sidecar when its saves are done); any other signal is
// sent with kill to PID 1, the container's argoexec. It reports whether it sent one.
func SidecarSignal(sig syscall.Signal, kill func(pid int, sig syscall.Signal) error) (bool, error) {
	if sig == syscall.SIGTERM {
		return false, nil
	}
	return true, kill(1, sig)
}
