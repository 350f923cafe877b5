//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/sizing"
	"github.com/argo-eci/argo-eci/test/cluster"
)

// kwokNode is the fake ECI node whose simulated usage Prometheus scrapes.
const kwokNode = "virtual-kubelet-cn-hangzhou-k"

// prometheusURL starts (idempotently) the Prometheus of hack/cluster/prometheus.sh that scrapes kwok.
func prometheusURL(t *testing.T, c *cluster.Cluster) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.Root, "hack", "cluster", "prometheus.sh"), "start")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("prometheus.sh start: %v\n%s", err, out)
	}
	port := os.Getenv("ARGO_ECI_PROMETHEUS_PORT")
	if port == "" {
		port = "39090"
	}
	return "http://127.0.0.1:" + port
}

// usageTemplate is a container template on the kwok node whose main container uses the CPU and
// memory named by workflow parameters (kwok-metrics.yaml reads the pod annotations) for 60 s.
func usageTemplate(name, cpuParam, memParam, cpuLimit, memLimit string) wfv1.Template {
	lim := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuLimit), corev1.ResourceMemory: resource.MustParse(memLimit)}
	return wfv1.Template{
		Name: name,
		Metadata: wfv1.Metadata{Annotations: map[string]string{
			"kwok.x-k8s.io/usage-cpu":       "{{workflow.parameters." + cpuParam + "}}",
			"kwok.x-k8s.io/usage-memory":    "{{workflow.parameters." + memParam + "}}",
			"test.argo-eci.io/run-duration": "60s",
		}},
		NodeSelector: map[string]string{"kubernetes.io/hostname": kwokNode},
		Tolerations:  []corev1.Toleration{{Key: "virtual-kubelet.io/provider", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
		Container:    &corev1.Container{Image: "alpine:3.20", Command: []string{"true"}, Resources: corev1.ResourceRequirements{Limits: lim, Requests: lim}},
	}
}

// recommendReport is the part of `argo-eci recommend -o json` the test reads.
type recommendReport struct {
	Templates []struct {
		Template    string        `json:"template"`
		Runs        int           `json:"runs"`
		Declared    string        `json:"declared"`
		Recommended string        `json:"recommended"`
		Skipped     string        `json:"skipped"`
		Evidence    *sizing.Entry `json:"evidence"`
	} `json:"templates"`
	TotalBefore float64 `json:"totalCNYBefore"`
	TotalAfter  float64 `json:"totalCNYAfter"`
}

// TestRecommendLearnsFromKwokUsage runs 24 workflows of WorkflowTemplate "train" (templates prep and
// fit, each run with a different known use) and 3 of an ad-hoc workflow on the kwok node, lets the
// real Prometheus scrape kwok's simulated cAdvisor series, and checks what `argo-eci recommend`
// learns, applies to the argo-eci-sizing ConfigMap and emits as a patch.
func TestRecommendLearnsFromKwokUsage(t *testing.T) {
	t.Parallel() // long waits on the kwok node; runs beside the other parallel tests (make e2e: -parallel 4)
	c := cluster.Get(t)
	prom := prometheusURL(t, c)
	ns := c.Namespace(t)
	ctx := context.Background()

	train := &wfv1.WorkflowTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "train", Namespace: ns},
		Spec: wfv1.WorkflowSpec{
			Entrypoint: "main",
			Arguments: wfv1.Arguments{Parameters: []wfv1.Parameter{
				{Name: "prep-cpu"}, {Name: "prep-mem"}, {Name: "fit-cpu"}, {Name: "fit-mem"}}},
			Templates: []wfv1.Template{
				{Name: "main", Steps: []wfv1.ParallelSteps{{Steps: []wfv1.WorkflowStep{
					{Name: "prep", Template: "prep"}, {Name: "fit", Template: "fit"}}}}},
				usageTemplate("prep", "prep-cpu", "prep-mem", "2", "4Gi"),
				usageTemplate("fit", "fit-cpu", "fit-mem", "8", "16Gi"),
			},
		},
	}
	if _, err := c.Workflows.ArgoprojV1alpha1().WorkflowTemplates(ns).Create(ctx, train, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Known use per run: prep 200–400m / 300–500Mi, fit 1–2 vCPU / 2–3Gi.
	prepCPU, prepMem := []string{"200m", "300m", "400m"}, []string{"300Mi", "400Mi", "500Mi"}
	fitCPU, fitMem := []string{"1", "1500m", "2"}, []string{"2Gi", "2560Mi", "3Gi"}
	var names []string
	for i := range 24 {
		wf := &wfv1.Workflow{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "train-"},
			Spec: wfv1.WorkflowSpec{
				WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: "train"},
				Arguments: wfv1.Arguments{Parameters: []wfv1.Parameter{
					{Name: "prep-cpu", Value: wfv1.AnyStringPtr(prepCPU[i%3])}, {Name: "prep-mem", Value: wfv1.AnyStringPtr(prepMem[(i/3)%3])},
					{Name: "fit-cpu", Value: wfv1.AnyStringPtr(fitCPU[(i/3)%3])}, {Name: "fit-mem", Value: wfv1.AnyStringPtr(fitMem[i%3])}}},
			},
		}
		names = append(names, c.CreateWorkflow(t, ns, wf).Name)
	}
	for range 3 {
		wf := &wfv1.Workflow{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "adhoc-"},
			Spec: wfv1.WorkflowSpec{
				Entrypoint: "once",
				Arguments:  wfv1.Arguments{Parameters: []wfv1.Parameter{{Name: "c", Value: wfv1.AnyStringPtr("100m")}, {Name: "m", Value: wfv1.AnyStringPtr("100Mi")}}},
				Templates:  []wfv1.Template{usageTemplate("once", "c", "m", "1", "2Gi")},
			},
		}
		names = append(names, c.CreateWorkflow(t, ns, wf).Name)
	}
	// They all run at once; waiting for them one after the other costs nothing more.
	for _, name := range names {
		if wf := c.WaitWorkflow(t, ns, name, 6*time.Minute); wf.Status.Phase != wfv1.WorkflowSucceeded {
			t.Fatalf("workflow %s: %s (%s)", name, wf.Status.Phase, wf.Status.Message)
		}
	}
	time.Sleep(15 * time.Second) // the last scrapes after the last pod finished

	bin := buildArgoECI(t, c)
	out, stderr, err := runRecommend(bin, "--prometheus", prom, "--kubeconfig", c.Kubeconfig, "-n", ns,
		"--window", "1h", "--step", "10s", "-o", "json", "--apply", "--sizing-namespace", ns)
	if err != nil {
		t.Fatalf("recommend: %v\n%s", err, stderr)
	}
	t.Logf("recommend stderr:\n%s", stderr)
	var rep recommendReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkRecommendations(t, ns, rep)
	checkApplied(t, c, ns, rep)
	checkPatch(t, bin, c, prom, ns)
	table, _, err := runRecommend(bin, "--prometheus", prom, "--kubeconfig", c.Kubeconfig, "-n", ns, "--window", "1h", "--step", "10s")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recommend table:\n%s", table)
}

// checkRecommendations: every train run counted; specs from the known use (wait adds 1m/16Mi).
//   - prep: CPU ≤ 0.401 → p95 × 1.15 ≤ 0.47 → 0.5 vCPU; memory max 516Mi × 1.15 = 594Mi → 0.5-1Gi.
//   - fit: CPU max 2.001 → × 1.15 = 2.3 → 4 vCPU; memory 3Gi + 16Mi → × 1.15 = 3.47Gi → 4-4Gi.
//   - adhoc/once: 3 runs, fewer than 5 → no recommendation.
func checkRecommendations(t *testing.T, ns string, rep recommendReport) {
	t.Helper()
	want := map[string]struct {
		runs           int
		declared, spec string
		cpuMax, memMax float64 // vCPU, MiB
	}{
		ns + "/WorkflowTemplate/train/prep": {24, "2-4Gi", "0.5-1Gi", 0.401, 516},
		ns + "/WorkflowTemplate/train/fit":  {24, "8-16Gi", "4-4Gi", 2.001, 3*1024 + 16},
	}
	seen := 0
	for _, r := range rep.Templates {
		switch w, ok := want[r.Template]; {
		case ok:
			seen++
			if r.Runs != w.runs || r.Declared != w.declared || r.Recommended != w.spec || r.Evidence == nil {
				t.Errorf("%s: runs %d declared %s recommended %s (%s), want %d %s %s", r.Template, r.Runs, r.Declared, r.Recommended, r.Skipped, w.runs, w.declared, w.spec)
				continue
			}
			if got := r.Evidence.CPU.Max; got < w.cpuMax*0.9 || got > w.cpuMax*1.1 {
				t.Errorf("%s: CPU max %g, want ≈ %g", r.Template, got, w.cpuMax)
			}
			if got := float64(r.Evidence.Memory.Max.Value()) / (1 << 20); got != w.memMax {
				t.Errorf("%s: memory max %gMi, want %gMi", r.Template, got, w.memMax)
			}
		case strings.HasSuffix(r.Template, "/Workflow/adhoc/once"):
			seen++
			if r.Recommended != "" || !strings.Contains(r.Skipped, "3 usable runs, need 5") {
				t.Errorf("adhoc: %+v, want no recommendation for 3 runs", r)
			}
		default:
			t.Errorf("unexpected template %s", r.Template)
		}
	}
	if seen != 3 || rep.TotalAfter >= rep.TotalBefore {
		t.Errorf("%d of 3 templates; totals %g → %g", seen, rep.TotalBefore, rep.TotalAfter)
	}
}

// checkApplied: the ConfigMap parses with the webhook's parser and Lookup finds the learned specs.
func checkApplied(t *testing.T, c *cluster.Cluster, ns string, rep recommendReport) {
	t.Helper()
	cm, err := c.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), sizing.ConfigMapName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	table, err := sizing.ParseConfigMapData(cm.Data)
	if err != nil {
		t.Fatalf("applied ConfigMap: %v", err)
	}
	for tmpl, spec := range map[string]string{"prep": "0.5-1Gi", "fit": "4-4Gi"} {
		l, ok := table.Lookup(sizing.Identity{Namespace: ns, Kind: sizing.OwnerWorkflowTemplate, Owner: "train", Template: tmpl})
		if !ok || l.Spec.String() != spec || !strings.HasPrefix(l.Reason, "learned from 24 runs: ") {
			t.Errorf("%s: %+v %v, want %s", tmpl, l, ok, spec)
		}
	}
	if table.Len() != 2 {
		t.Errorf("%d entries, want 2", table.Len())
	}
}

// checkPatch: --emit-patch targets WorkflowTemplate train and sets prep's and fit's resources.
func checkPatch(t *testing.T, bin string, c *cluster.Cluster, prom, ns string) {
	t.Helper()
	out, stderr, err := runRecommend(bin, "--prometheus", prom, "--kubeconfig", c.Kubeconfig, "-n", ns, "--window", "1h", "--step", "10s", "--emit-patch")
	if err != nil {
		t.Fatalf("--emit-patch: %v\n%s", err, stderr)
	}
	var doc struct {
		Patches []sizing.Patch `json:"patches"`
	}
	if err := yaml.UnmarshalStrict(out, &doc); err != nil || len(doc.Patches) != 1 {
		t.Fatalf("patches %v: %s", err, out)
	}
	p := doc.Patches[0]
	var ops []sizing.PatchOp
	if err := yaml.Unmarshal([]byte(p.Patch), &ops); err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, op := range ops {
		paths[op.Path] = true
	}
	// Templates of train: main (0), prep (1), fit (2).
	if p.Target.Kind != "WorkflowTemplate" || p.Target.Name != "train" || p.Target.Namespace != ns || len(ops) != 2 ||
		!paths["/spec/templates/1/container/resources"] || !paths["/spec/templates/2/container/resources"] {
		t.Errorf("patch %+v ops %+v", p.Target, ops)
	}
}

func buildArgoECI(t *testing.T, c *cluster.Cluster) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "argo-eci")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/argo-eci")
	cmd.Dir = c.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runRecommend(bin string, args ...string) (stdout, stderr []byte, err error) {
	cmd := exec.Command(bin, append([]string{"recommend"}, args...)...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return []byte(o.String()), []byte(e.String()), err
}

// TestRecommendBadPrometheus: a wrong URL or a path that is not the API gives exit status 1, a
// message naming the problem and no output.
func TestRecommendBadPrometheus(t *testing.T) {
	c := cluster.Get(t)
	prom := prometheusURL(t, c)
	bin := buildArgoECI(t, c)
	for _, url := range []string{"http://127.0.0.1:1", prom + "/not-the-api"} {
		out, stderr, err := runRecommend(bin, "--prometheus", url, "--kubeconfig", c.Kubeconfig)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || len(out) != 0 {
			t.Errorf("%s: err %v, stdout %q", url, err, out)
		}
		t.Logf("%s: %s", url, stderr)
	}
	resp, err := http.Get(prom + "/-/ready")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("prometheus not ready: %v", err)
	}
	resp.Body.Close()
}
