package webhook

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/artifacts"
	"github.com/argo-eci/argo-eci/emissary"
)

// TestArtifactSidecarKillCommand: a workflow pod with argo-eci's artifact sidecar gets the kill
// command that leaves the controller's SIGTERM to the wait container, whether a profile shapes the
// pod or it is skipped.
func TestArtifactSidecarKillCommand(t *testing.T) {
	key := common.AnnotationKeyKillCmd("artifact-plugin-argo-eci-oss")
	for _, skip := range []bool{false, true} {
		pod, _ := typicalPod(t)
		if skip {
			pod.Annotations[emissary.AnnotationSkip] = "true"
		}
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "artifact-plugin-argo-eci-oss",
			Command: []string{"/var/run/argo/argoexec", "artifact-plugin-sidecar", "--", "/usr/local/bin/argo-eci", "artifact-server", "/tmp/artifact-plugins/argo-eci-oss/socket"}})
		raw, err := json.Marshal(pod)
		if err != nil {
			t.Fatal(err)
		}
		ts := startServer(t, &Server{Engines: realStore(t, testProfiles)})
		status, out, body := ts.post(t, PathPods, podReview(t, "u-1", raw))
		if status != http.StatusOK || !out.Response.Allowed || out.Response.Patch == nil {
			t.Fatalf("skip %v: status %d: %s", skip, status, body)
		}
		got := &corev1.Pod{}
		if err := json.Unmarshal(applyPatch(t, raw, out.Response), got); err != nil {
			t.Fatal(err)
		}
		var cmd []string
		if err := json.Unmarshal([]byte(got.Annotations[key]), &cmd); err != nil || len(cmd) != 3 || cmd[1] != artifacts.SignalCommand {
			t.Errorf("skip %v: %s = %q (%v), want argo-eci %s %%d", skip, key, got.Annotations[key], err, artifacts.SignalCommand)
		}
		if _, shaped := got.Annotations[emissary.AnnotationShapedBy]; shaped == skip {
			t.Errorf("skip %v: shaped %v", skip, shaped)
		}
	}
}
