package emissary

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/eci"
)

// TestArgoPods shapes pods captured from the real Argo v4.0.7 workflow-controller on the local
// control plane (testdata/argo-pods, one workflow per file) with the built-in profile.
func TestArgoPods(t *testing.T) {
	tests := []struct {
		file    string
		outcome Outcome
		specs   string // eci-use-specs after shaping ("" = none written)
		codes   []string
		tags    string
	}{
		{"agent.json", OutcomeShaped, "0.25-0.5Gi,0.25-1Gi,0.5-1Gi", nil, "workflow:agent,template:agent"},
		{"artifacts.json", OutcomeShaped, "2-4Gi,2-8Gi,2-16Gi", nil, "workflow:artifacts,template:main"},
		{"container-no-resources.json", OutcomeShaped, "2-4Gi,2-8Gi,2-16Gi", []string{CodeNoResources}, "workflow:container-no-resources,template:main"},
		{"container-resources.json", OutcomeShaped, "1-2Gi,1-4Gi,1-8Gi", nil, "workflow:container-resources,template:main"},
		{"container-set.json", OutcomeShaped, "4-8Gi,4-16Gi,4-32Gi", nil, "workflow:container-set,template:main"},
		{"eci-placement.json", OutcomeShaped, "2-4Gi,ecs.c6.large", nil, "workflow:eci-placement,template:main"},
		{"gpu.json", OutcomeShaped, "", []string{CodeGPUNeedsType}, "workflow:gpu,template:main"},
		{"hostpath.json", OutcomeSkipped, "", []string{CodeHostPath}, ""},
		{"pod-spec-patch.json", OutcomeShaped, "4-8Gi,4-16Gi,4-32Gi", nil, "workflow:pod-spec-patch,template:main"},
		{"pvc-volume.json", OutcomeShaped, "0.25-0.5Gi,0.25-1Gi,0.5-1Gi", nil, "workflow:pvc-volume,template:main"},
		{"script.json", OutcomeShaped, "0.5-1Gi,0.5-2Gi,1-2Gi", nil, "workflow:script,template:main"},
		{"sidecars.json", OutcomeShaped, "2-4Gi,2-8Gi,2-16Gi", nil, "workflow:sidecars,template:main"},
	}
	e := NewEngine(DefaultProfiles())
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "argo-pods", tt.file))
			if os.IsNotExist(err) {
				t.Skip("not captured")
			}
			if err != nil {
				t.Fatal(err)
			}
			var pod corev1.Pod
			if err := json.Unmarshal(data, &pod); err != nil {
				t.Fatal(err)
			}
			before := pod.DeepCopy()
			res, err := e.ShapePod(&pod, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.outcome {
				t.Fatalf("outcome %s (%s), want %s", res.Outcome, res.Reason, tt.outcome)
			}
			for _, c := range tt.codes {
				if hasCode(res.Findings, c) == nil {
					t.Errorf("no %s finding in %+v", c, res.Findings)
				}
			}
			if res.Outcome != OutcomeShaped {
				if !reflect.DeepEqual(res.Pod, before) {
					t.Error("skipped pod changed")
				}
				return
			}
			checkInvariants(t, before, res.Pod)
			if got := res.Pod.Annotations[eci.AnnotationUseSpecs]; got != tt.specs {
				t.Errorf("eci-use-specs = %q, want %q (%s)", got, tt.specs, res.Reason)
			}
			if got := res.Pod.Annotations[eci.AnnotationCustomTags]; got != tt.tags {
				t.Errorf("eci-custom-tags = %q, want %q", got, tt.tags)
			}
			if res.Pod.Spec.SchedulerName != eci.SchedulerName || res.Pod.Labels[eci.LabelECI] != "true" {
				t.Errorf("placement: scheduler %q, labels %v", res.Pod.Spec.SchedulerName, res.Pod.Labels)
			}
			if w := container(res.Pod, "wait"); w != nil {
				if v, _ := envOf(w, eci.EnvResourceIgnore); v != "TRUE" {
					t.Error("wait not marked ignored")
				}
			}
		})
	}
}
