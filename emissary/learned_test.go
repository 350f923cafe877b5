package emissary

import (
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/sizing"
)

// learnedStore holds one learned entry: template tmpl of workflows generated as "<owner>-" in
// namespace argo, learned at spec.
func learnedStore(t *testing.T, owner, tmpl, spec string) *sizing.Store {
	t.Helper()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := sizing.Entry{Namespace: "argo", Kind: sizing.OwnerWorkflow, Owner: owner, Template: tmpl, Spec: spec, Runs: 12,
		Window: sizing.Window{From: from, To: from.Add(time.Hour)}, CPU: sizing.CPUStats{P50: 1, P95: 2, Max: 2},
		Memory: sizing.MemoryStats{P50: resource.MustParse("3Gi"), P95: resource.MustParse("5Gi"), Max: resource.MustParse("6Gi")},
		Reason: "learned from 12 runs: p95 2 vCPU / max 6Gi → " + spec}
	data, err := sizing.EncodeConfigMapData([]sizing.Entry{e})
	if err != nil {
		t.Fatal(err)
	}
	s := &sizing.Store{}
	if err := s.Update(data); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestShapePodLearnedSpec(t *testing.T) {
	const learned = "default: p\nprofiles: {p: {sizing: learned}}\n"
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "etl-x7k2p", GenerateName: "etl-", Namespace: "argo"}}
	store := learnedStore(t, "etl", "work", "2-8Gi")
	tests := []struct {
		name, profiles string
		tmplAnn        map[string]string
		wf             *wfv1.Workflow
		specs, mem     string
	}{
		{"learned", learned, nil, wf, "2-8Gi,", "8Gi"},
		{"declared profile", "default: p\nprofiles: {p: {}}\n", nil, wf, "1-2Gi,", "2Gi"},
		{"no Workflow known", learned, nil, nil, "1-2Gi,", "2Gi"},
		{"the user's eci-use-specs", learned, map[string]string{eci.AnnotationUseSpecs: "4-8Gi"}, wf, "4-8Gi,", "2Gi"},
		{"argo-eci.io/specs: auto", learned, map[string]string{AnnotationSpecs: "auto"}, wf, "1-2Gi,", "2Gi"},
		{"profile's explicit specs", "default: p\nprofiles: {p: {sizing: learned, specs: [4-16Gi]}}\n", nil, wf, "4-16Gi,", "2Gi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := containerTmpl("work", res("1", "2Gi", "", ""))
			tm.Metadata.Annotations = tt.tmplAnn
			pod := argoPod("etl-x7k2p", tm)
			for k, v := range tt.tmplAnn {
				pod.Annotations[k] = v
			}
			r, err := NewEngine(mustProfiles(t, tt.profiles)).WithSizing(store).ShapePod(pod, tt.wf)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Pod.Annotations[eci.AnnotationUseSpecs] + ","; !strings.HasPrefix(got, tt.specs) {
				t.Errorf("eci-use-specs = %q (%s), want %s...", got, r.Reason, tt.specs)
			}
			if got := container(r.Pod, "main").Resources.Limits[corev1.ResourceMemory]; got.String() != tt.mem {
				t.Errorf("main memory limit = %s, want %s", got.String(), tt.mem)
			}
			if tt.name == "learned" && !strings.HasPrefix(r.Pod.Annotations[AnnotationSpecReason], "learned from 12 runs") {
				t.Errorf("spec-reason = %q, want the learned reason", r.Pod.Annotations[AnnotationSpecReason])
			}
		})
	}
}

func TestRenderLearnedSpec(t *testing.T) {
	e := NewEngine(mustProfiles(t, "default: p\nprofiles: {p: {sizing: learned, fallbackSpecs: 1}}\n")).WithSizing(learnedStore(t, "etl", "work", "2-8Gi"))
	wf, _ := shapeYAML(t, e, `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: etl-, namespace: argo}
spec:
  entrypoint: work
  templates:
  - name: work
    container: {image: alpine, command: ["true"], resources: {limits: {cpu: "1", memory: 2Gi}}}
  - name: other
    container: {image: alpine, command: ["true"], resources: {limits: {cpu: "1", memory: 2Gi}}}
`)
	work, other := tmplByName(&wf.Spec, "work"), tmplByName(&wf.Spec, "other")
	if got := work.Metadata.Annotations[eci.AnnotationUseSpecs]; got != "2-8Gi,2-16Gi" {
		t.Errorf("work: eci-use-specs = %q, want the learned 2-8Gi and one fallback", got)
	}
	if got := work.Container.Resources.Limits[corev1.ResourceMemory]; got.String() != "8Gi" {
		t.Errorf("work: memory limit %s, want 8Gi (raised to the learned spec)", got.String())
	}
	if got := other.Metadata.Annotations[eci.AnnotationUseSpecs]; got != "1-2Gi,1-4Gi" {
		t.Errorf("other (nothing learned): eci-use-specs = %q, want the declared 1-2Gi", got)
	}
}
