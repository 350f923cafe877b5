package emissary

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/eci"
)

var update = flag.Bool("update", false, "rewrite testdata/pods from the argoPod builder")

// corpusDirs hold pod JSON: argo-pods are captured from the real Argo controller on the local
// control plane; pods are built by argoPod (the same shapes, for when no capture is at hand).
var corpusDirs = []string{"testdata/argo-pods", "testdata/pods"}

type corpusPod struct {
	name string
	pod  *corev1.Pod
}

func loadCorpus(t testing.TB) []corpusPod {
	t.Helper()
	var out []corpusPod
	for _, dir := range corpusDirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		sort.Strings(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var pod corev1.Pod
			if err := json.Unmarshal(data, &pod); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if pod.Kind != "" && pod.Kind != "Pod" {
				continue // captures may include other objects (workflows) beside the pods
			}
			out = append(out, corpusPod{name: f, pod: &pod})
		}
	}
	if len(out) == 0 {
		t.Fatal("empty corpus")
	}
	return out
}

func TestWriteFixtures(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/pods")
	}
	gpu := containerTmpl("train", res("4", "15Gi", "", ""))
	gpu.Container.Resources.Limits[eci.ResourceGPU] = *mustQuantity("1")
	gpu.Metadata.Annotations = map[string]string{AnnotationSpecs: "ecs.gn6i-c4g1.xlarge"}
	withSidecar := containerTmpl("serve-test", res("1500m", "2Gi", "", ""))
	withSidecar.Sidecars = []wfv1.UserContainer{{Container: corev1.Container{Name: "redis", Image: "redis:7", Command: []string{"redis-server"}, Resources: res("500m", "1Gi", "", "")}}}
	artifact := containerTmpl("upload", res("1", "2Gi", "", ""))
	artifact.Outputs.Artifacts = wfv1.Artifacts{{Name: "out", Path: "/tmp/out", ArtifactLocation: wfv1.ArtifactLocation{Plugin: &wfv1.PluginArtifact{Name: "argo-eci-oss", Key: "out"}}}}
	fixtures := map[string]*corev1.Pod{
		"step-1cpu-2gi":        argoPod("fanout-7xk2p", containerTmpl("work", res("1", "2Gi", "1", "2Gi"))),
		"step-2cpu-4gi":        argoPod("build-x9k2p", containerTmpl("compile", res("2", "4Gi", "", ""))),
		"step-7cpu-13gi":       argoPod("parallelism-fluid-abcde", containerTmpl("md5sum", res("7", "13Gi", "", ""))),
		"step-requests-only":   argoPod("etl-q2w3e", containerTmpl("extract", res("", "", "250m", "512Mi"))),
		"step-no-resources":    argoPod("hello-r4t5y", containerTmpl("whalesay", corev1.ResourceRequirements{})),
		"step-with-sidecar":    argoPod("it-u7i8o", withSidecar),
		"step-gpu-explicit":    argoPod("train-p0a9s", gpu),
		"agent":                agentPod(),
		"step-artifact-plugin": argoPod("upload-d8f7g", artifact),
	}
	// The artifact-plugin sidecar the controller adds for plugin artifacts.
	ap := fixtures["step-artifact-plugin"]
	side := *container(ap, "wait").DeepCopy()
	side.Name, side.Image, side.Command = "artifact-plugin-argo-eci-oss", "argo-eci:dev", []string{"/var/run/argo/argoexec", "artifact-plugin"}
	ap.Spec.Containers = append([]corev1.Container{ap.Spec.Containers[0], side}, ap.Spec.Containers[1:]...)
	if err := os.MkdirAll("testdata/pods", 0o755); err != nil {
		t.Fatal(err)
	}
	for name, pod := range fixtures {
		pod.APIVersion, pod.Kind = "v1", "Pod"
		data, err := json.MarshalIndent(pod, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata/pods", name+".json"), append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCorpus shapes every pod of the corpus with the built-in profile and checks the emissary
// invariants, idempotency and that the chosen spec covers what the pod's counted containers need.
func TestCorpus(t *testing.T) {
	e := NewEngine(DefaultProfiles())
	for _, c := range loadCorpus(t) {
		t.Run(filepath.Join(filepath.Base(filepath.Dir(c.name)), filepath.Base(c.name)), func(t *testing.T) {
			before := c.pod.DeepCopy()
			res, err := e.ShapePod(c.pod, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.pod, before) {
				t.Fatal("input mutated")
			}
			if res.Outcome != OutcomeShaped {
				if IsArgoPod(c.pod) && res.Outcome == OutcomeSkipped && hasCode(res.Findings, CodeAgentStays) == nil &&
					hasCode(res.Findings, CodeHostPath) == nil && hasCode(res.Findings, CodeHostNetwork) == nil && hasCode(res.Findings, CodePrivileged) == nil {
					t.Errorf("Argo pod skipped: %s", res.Reason)
				}
				return
			}
			checkInvariants(t, before, res.Pod)
			if res.Pod.Labels[eci.LabelECI] != "true" || res.Pod.Spec.SchedulerName != eci.SchedulerName || res.Pod.Annotations[AnnotationShapedBy] != "standard" {
				t.Error("not placed on ECI")
			}
			if w := container(res.Pod, "wait"); w != nil {
				if v, _ := envOf(w, eci.EnvResourceIgnore); v != "TRUE" {
					t.Error("wait not ignored")
				}
			}
			if specs := res.Pod.Annotations[eci.AnnotationUseSpecs]; specs != "" {
				list, err := eci.ParseSpecList(specs)
				if err != nil {
					t.Fatalf("wrote invalid eci-use-specs %q: %v", specs, err)
				}
				n := computeNeed(res.Pod.Spec.InitContainers, res.Pod.Spec.Containers)
				for _, s := range list {
					if !s.IsInstanceType() && !s.Covers(n.milliCPU, n.memMiB) {
						t.Errorf("spec %s does not cover %d m/%d Mi", s, n.milliCPU, n.memMiB)
					}
				}
			} else if hasCode(res.Findings, CodeGPUNeedsType) == nil {
				t.Errorf("no eci-use-specs and no GPU finding: %s", res.Reason)
			}
			if strings.TrimSpace(res.Pod.Annotations[AnnotationSpecReason]) == "" {
				t.Error("no spec-reason")
			}
			again, err := e.ShapePod(res.Pod, nil)
			if err != nil || !reflect.DeepEqual(again.Pod, res.Pod) {
				t.Errorf("not idempotent (err %v)", err)
			}
		})
	}
}

// billedUnshaped is the spec ECI bills for a pod as the controller created it: every container
// counted (Argo's wait included), rounded up; 2-4Gi when no container states resources.
func billedUnshaped(pod *corev1.Pod) (eci.Spec, bool) {
	var any bool
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if _, declared := containerAmount(&list[i]); declared {
				any = true
			}
		}
	}
	if !any {
		return eci.DefaultSpec, true
	}
	// Count every container, also one a webhook already marked with __ECI_RESOURCE_IGNORE__.
	unmark := func(list []corev1.Container) []corev1.Container {
		out := make([]corev1.Container, len(list))
		for i, c := range list {
			c.Env = nil
			out[i] = c
		}
		return out
	}
	n := computeNeed(unmark(pod.Spec.InitContainers), unmark(pod.Spec.Containers))
	return eci.RoundUp(n.milliCPU, n.memMiB)
}

// costRatio shapes every corpus pod with the built-in profile and sums the hourly list price of the
// first chosen spec against what ECI bills for the unshaped pod. Pods whose shaped or unshaped spec
// has no catalog price (ECS instance types, GPU) are left out of both sums.
func costRatio(t testing.TB, e *Engine, corpus []corpusPod) (shaped, unshaped float64, counted int) {
	for _, c := range corpus {
		res, err := e.ShapePod(c.pod, nil)
		if err != nil || res.Outcome != OutcomeShaped {
			continue
		}
		list, err := eci.ParseSpecList(res.Pod.Annotations[eci.AnnotationUseSpecs])
		if err != nil {
			continue
		}
		after, ok1 := list[0].HourlyPrice()
		bs, ok := billedUnshaped(c.pod)
		before, ok2 := bs.HourlyPrice()
		if !ok || !ok1 || !ok2 {
			continue
		}
		shaped += after
		unshaped += before
		counted++
	}
	return shaped, unshaped, counted
}

func TestCostRatio(t *testing.T) {
	e := NewEngine(DefaultProfiles())
	corpus := loadCorpus(t)
	shaped, unshaped, n := costRatio(t, e, corpus)
	if n == 0 || unshaped == 0 {
		t.Fatal("no priced pods in the corpus")
	}
	t.Logf("corpus: %d priced pods, shaped %.4f CNY/h vs unshaped %.4f CNY/h: ratio %.3f", n, shaped, unshaped, shaped/unshaped)
	byDir := map[string][]corpusPod{}
	for _, c := range corpus {
		dir := filepath.Base(filepath.Dir(c.name))
		byDir[dir] = append(byDir[dir], c)
	}
	for dir, pods := range byDir {
		s, u, n := costRatio(t, e, pods)
		t.Logf("  %s: %d priced pods, %.4f vs %.4f CNY/h: ratio %.3f", dir, n, s, u, s/u)
	}
	// Per pod: when the user's containers state resources, the first chosen spec never costs more
	// than what ECI bills unshaped (leaving wait out can only lower the sum). Pods stating nothing
	// may cost more: they get the 2-4Gi default instead of the executors' tiny requests.
	for _, c := range corpus {
		res, err := e.ShapePod(c.pod, nil)
		if err != nil || res.Outcome != OutcomeShaped || !computeNeed(c.pod.Spec.InitContainers, c.pod.Spec.Containers).declared {
			continue
		}
		list, err := eci.ParseSpecList(res.Pod.Annotations[eci.AnnotationUseSpecs])
		if err != nil {
			continue
		}
		after, ok1 := list[0].HourlyPrice()
		bs, _ := billedUnshaped(c.pod)
		before, ok2 := bs.HourlyPrice()
		if ok1 && ok2 && after > before {
			t.Errorf("%s: shaped %s (%.4f/h) costs more than unshaped %s (%.4f/h)", c.name, list[0], after, bs, before)
		}
	}
}

// BenchmarkCostRatio reports, over the testdata corpus, the hourly list price of the specs argo-eci
// chooses divided by what ECI bills for the same pods unshaped (wait sidecar counted).
func BenchmarkCostRatio(b *testing.B) {
	e := NewEngine(DefaultProfiles())
	corpus := loadCorpus(b)
	var shaped, unshaped float64
	for b.Loop() {
		shaped, unshaped, _ = costRatio(b, e, corpus)
	}
	b.ReportMetric(shaped/unshaped, "cost-ratio")
	b.ReportMetric(shaped, "CNY/h-shaped")
	b.ReportMetric(unshaped, "CNY/h-unshaped")
}
