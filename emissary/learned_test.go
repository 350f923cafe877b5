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
	if got := argoPodMetadata(&wf.Spec, other)["annotation "+eci.AnnotationUseSpecs]; got != "1-2Gi,1-4Gi" {
		t.Errorf("other (nothing learned): eci-use-specs = %q, want the declared 1-2Gi", got)
	}
}

// bandedStore holds template work of workflows generated as "etl-", learned at 2-8Gi over the whole
// day and at 1-2Gi for pods created 00:00–06:00 in Asia/Shanghai.
func bandedStore(t *testing.T) *sizing.Store {
	t.Helper()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stats := func(max string) sizing.MemoryStats {
		return sizing.MemoryStats{P50: resource.MustParse("1Gi"), P95: resource.MustParse(max), Max: resource.MustParse(max)}
	}
	e := sizing.Entry{Namespace: "argo", Kind: sizing.OwnerWorkflow, Owner: "etl", Template: "work", Spec: "2-8Gi", Runs: 40,
		Window: sizing.Window{From: from, To: from.Add(14 * 24 * time.Hour)}, CPU: sizing.CPUStats{P50: 1, P95: 2, Max: 2},
		Memory: stats("6Gi"), Reason: "learned from 40 runs: p95 2 vCPU / max 6Gi → 2-8Gi", TimeZone: "Asia/Shanghai",
		Bands: []sizing.BandEntry{{From: 0, To: 6, Spec: "1-2Gi", Runs: 10, CPU: sizing.CPUStats{P50: 0.5, P95: 0.8, Max: 0.8},
			Memory: stats("1500Mi"), Reason: "learned from 10 runs started 00:00–06:00 Asia/Shanghai: p95 0.8 vCPU / max 1.5Gi → 1-2Gi"}}}
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

// A pod gets the spec of the time-of-day band it is created in; without a creation time, or
// outside the learned bands, the whole template's.
func TestShapePodLearnedBand(t *testing.T) {
	e := NewEngine(mustProfiles(t, "default: p\nprofiles: {p: {sizing: learned}}\n")).WithSizing(bandedStore(t))
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "etl-x7k2p", GenerateName: "etl-", Namespace: "argo"}}
	night := time.Date(2026, 2, 1, 19, 30, 0, 0, time.UTC) // 03:30 in Shanghai
	day := time.Date(2026, 2, 1, 4, 0, 0, 0, time.UTC)     // 12:00 in Shanghai
	tests := []struct {
		name           string
		created, stamp time.Time
		specs, reason  string
	}{
		{"admission at night", night, time.Time{}, "1-2Gi", "learned from 10 runs started 00:00–06:00 Asia/Shanghai"},
		{"admission by day", day, time.Time{}, "2-8Gi", "learned from 40 runs: "},
		{"no creation time", time.Time{}, time.Time{}, "2-8Gi", "learned from 40 runs: "},
		{"creationTimestamp at night", time.Time{}, night, "1-2Gi", "learned from 10 runs started 00:00–06:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := argoPod("etl-x7k2p", containerTmpl("work", res("1", "1Gi", "", "")))
			pod.CreationTimestamp = metav1.NewTime(tt.stamp)
			var r *PodResult
			var err error
			if tt.stamp.IsZero() {
				r, err = e.ShapePodAt(pod, wf, tt.created, nil)
			} else {
				r, err = e.ShapePod(pod, wf)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Pod.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got+",", tt.specs+",") {
				t.Errorf("eci-use-specs = %q (%s), want %s first", got, r.Reason, tt.specs)
			}
			if got := r.Pod.Annotations[AnnotationSpecReason]; !strings.HasPrefix(got, tt.reason) {
				t.Errorf("spec-reason = %q, want %q...", got, tt.reason)
			}
		})
	}
}

// Render has no creation time: a template with bands gets the whole template's spec.
func TestRenderLearnedBandsWholeSpec(t *testing.T) {
	e := NewEngine(mustProfiles(t, "default: p\nprofiles: {p: {sizing: learned}}\n")).WithSizing(bandedStore(t))
	wf, _ := shapeYAML(t, e, `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: etl-, namespace: argo, creationTimestamp: "2026-02-01T19:30:00Z"}
spec:
  entrypoint: work
  templates:
  - name: work
    container: {image: alpine, command: ["true"], resources: {limits: {cpu: "1", memory: 1Gi}}}
`)
	if got := tmplByName(&wf.Spec, "work").Metadata.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got+",", "2-8Gi,") {
		t.Errorf("eci-use-specs = %q, want the whole template's 2-8Gi", got)
	}
}
