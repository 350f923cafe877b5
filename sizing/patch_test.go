package sizing

import (
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/eci"
)

func TestPatchOps(t *testing.T) {
	templates := []wfv1.Template{
		{Name: "main", Steps: []wfv1.ParallelSteps{}},
		{Name: "compile", Container: &corev1.Container{}},
		{Name: "report", Script: &wfv1.ScriptTemplate{}, Metadata: wfv1.Metadata{Annotations: map[string]string{eci.AnnotationUseSpecs: "8-16Gi"}}},
		{Name: "with-sidecar", Container: &corev1.Container{}, Sidecars: []wfv1.UserContainer{{}}},
	}
	sp := spec(t, "2-4Gi")
	ops, err := PatchOps(templates, "compile", sp)
	if err != nil || len(ops) != 1 || ops[0].Op != "add" || ops[0].Path != "/spec/templates/1/container/resources" {
		t.Fatalf("compile: %+v %v", ops, err)
	}
	rr := ops[0].Value.(corev1.ResourceRequirements)
	if rr.Limits.Cpu().String() != "2" || rr.Limits.Memory().String() != "4Gi" || rr.Requests.Memory().String() != "4Gi" {
		t.Errorf("resources %+v", rr)
	}
	ops, err = PatchOps(templates, "report", sp)
	if err != nil || len(ops) != 2 || ops[0].Path != "/spec/templates/2/script/resources" ||
		ops[1].Path != "/spec/templates/2/metadata/annotations/k8s.aliyun.com~1eci-use-specs" || ops[1].Value != "2-4Gi" {
		t.Errorf("report: %+v %v", ops, err)
	}
	for _, name := range []string{"main", "with-sidecar", "absent"} {
		if ops, err := PatchOps(templates, name, sp); err == nil {
			t.Errorf("%s: %+v, want an error", name, ops)
		}
	}
}

func TestGrowAfterOOM(t *testing.T) {
	for from, want := range map[string]string{
		"2-4Gi":      "2-8Gi",    // 4Gi × 1.2 = 4.8Gi
		"0.25-0.5Gi": "0.25-1Gi", // 512Mi + 100Mi
		"1-8Gi":      "2-16Gi",   // 9.6Gi needs 2 vCPU
		"64-512Gi":   "",         // nothing larger
	} {
		got, ok := GrowAfterOOM(spec(t, from), DefaultOptions())
		if (want == "") == ok || (ok && got.String() != want) {
			t.Errorf("%s: got %s %v, want %q", from, got, ok, want)
		}
	}
	if _, ok := GrowAfterOOM(eci.Spec{InstanceType: "ecs.c6.large"}, DefaultOptions()); ok {
		t.Error("grew an ECS type")
	}
}
