package cost

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func at(s int) metav1.Time { return metav1.NewTime(t0.Add(time.Duration(s) * time.Second)) }

func podOf(name, nodeID, spec string, spot bool, phase corev1.PodPhase, created, ended int) *corev1.Pod {
	ann := map[string]string{"workflows.argoproj.io/node-id": nodeID, "workflows.argoproj.io/node-name": "n"}
	if spec != "" {
		ann["k8s.aliyun.com/eci-instance-spec"] = spec
	}
	if spot {
		ann["k8s.aliyun.com/eci-spot-strategy"] = "SpotAsPriceGo"
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"workflows.argoproj.io/workflow": "wf"}, Annotations: ann},
		Status: corev1.PodStatus{Phase: phase}}
	if spec != "" {
		p.Status.Conditions = []corev1.PodCondition{{Type: "ContainerInstanceCreated", Status: corev1.ConditionTrue, LastTransitionTime: at(created)}}
		start := at(created + 1)
		p.Status.StartTime = &start
		st := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: at(ended)}}
		if ended < 0 {
			st = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}}
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: st},
			{Name: "wait", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: at(created + 2)}}}}
	}
	return p
}

func workflow() *wfv1.Workflow {
	return &wfv1.Workflow{Status: wfv1.WorkflowStatus{Nodes: wfv1.Nodes{
		"r":  {ID: "r", Name: "wf.work", Type: wfv1.NodeTypeRetry, TemplateName: "work", Children: []string{"a0", "a1"}},
		"a0": {ID: "a0", Name: "wf.work(0)", Type: wfv1.NodeTypePod, TemplateName: "work", Phase: wfv1.NodeFailed, Message: "BidFailed: released"},
		"a1": {ID: "a1", Name: "wf.work(1)", Type: wfv1.NodeTypePod, TemplateName: "work", Phase: wfv1.NodeSucceeded},
		"b":  {ID: "b", Name: "wf.other", Type: wfv1.NodeTypePod, TemplateRef: &wfv1.TemplateRef{Name: "lib", Template: "x"}},
	}}}
}

func TestFromPod(t *testing.T) {
	wf := workflow()
	tests := []struct {
		name string
		pod  *corev1.Pod
		want Attempt
	}{
		{"reclaimed spot attempt", podOf("p0", "a0", "2.0-4.0Gi", true, corev1.PodFailed, 0, 100),
			Attempt{Workflow: "wf", Template: "work", Node: "wf.work(0)", Pod: "p0", Spec: "2.0-4.0Gi", Spot: true, Seconds: 100, Phase: "Failed", Message: "BidFailed: released"}},
		{"on-demand retry", podOf("p1", "a1", "2.0-4.0Gi", false, corev1.PodSucceeded, 200, 260),
			Attempt{Workflow: "wf", Template: "work", Node: "wf.work(1)", Pod: "p1", Spec: "2.0-4.0Gi", Seconds: 60, Phase: "Succeeded", Retry: 1}},
		{"still running", podOf("p2", "b", "ecs.c6.large", false, corev1.PodRunning, 0, -1),
			Attempt{Workflow: "wf", Template: "lib/x", Node: "wf.other", Pod: "p2", Spec: "ecs.c6.large", Seconds: 3600, Phase: "Running"}},
		{"stock-out, never billed", podOf("p3", "a0", "", false, corev1.PodFailed, 0, 0),
			Attempt{Workflow: "wf", Template: "work", Node: "wf.work(0)", Pod: "p3", Phase: "Failed", Message: "BidFailed: released"}},
	}
	for _, tt := range tests {
		got := FromPod(tt.pod, wf, t0.Add(time.Hour))
		if got != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
	if got := FromPod(podOf("x", "a0", "2-4Gi", false, corev1.PodSucceeded, 0, 10), nil, t0); got.Template != "n" || got.Seconds != 10 {
		t.Errorf("without the workflow: %+v", got)
	}
}

func TestSummarize(t *testing.T) {
	attempts := []Attempt{
		{Workflow: "wf", Template: "work", Spec: "2.0-4.0Gi", Spot: true, Seconds: 3600, Phase: "Failed"},
		{Workflow: "wf", Template: "work", Spec: "2.0-4.0Gi", Seconds: 3600, Phase: "Succeeded", Retry: 1},
		{Workflow: "wf", Template: "gpu", Spec: "ecs.gn6i-c4g1.xlarge", Seconds: 10, Phase: "Succeeded"},
		{Workflow: "wf", Template: "work", Phase: "Failed"}, // stock-out: no instance
		{Workflow: "wf2", Template: "a", Spec: "ecs.c6.large", Spot: true, Seconds: 1800, Phase: "Succeeded"},
	}
	r := Summarize(attempts, DefaultPrices())
	hour := (2*0.000049 + 4*0.00000613) * 3600
	var work Line
	for _, l := range r.Templates {
		if l.Template == "work" {
			work = l
		}
	}
	check := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if work.Attempts != 3 || work.Retries != 1 || work.Failed != 2 || work.SpotAttempts != 1 || work.OnDemandAttempts != 1 {
		t.Errorf("work counts: %+v", work)
	}
	check("work list", work.ListCNY, 2*hour)
	check("work billed", work.BilledCNY, hour*0.2+hour)
	check("work wasted", work.WastedCNY, hour*0.2)
	check("total billed", r.Total.BilledCNY, hour*0.2+hour+hour/2*0.2)
	if r.Total.Unpriced != 1 || len(r.Workflows) != 2 || len(r.Templates) != 3 || r.Templates[0].Template != "gpu" {
		t.Errorf("report: %+v", r)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WASTED CNY", "(total)", "2.0-4.0Gi", "spot priced at 0.20", "1 attempt(s) on specs without a known price"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestPricesValidate(t *testing.T) {
	if errs := DefaultPrices().Validate(field.NewPath("p")); len(errs) != 0 {
		t.Error(errs)
	}
	for _, r := range []float64{0, 0.05, 0.8, 1} {
		if errs := (Prices{SpotRatio: r}).Validate(field.NewPath("p")); len(errs) == 0 {
			t.Errorf("spot ratio %v accepted", r)
		}
	}
}
