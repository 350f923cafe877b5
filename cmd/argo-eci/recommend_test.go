package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/sizing"
	"github.com/argo-eci/argo-eci/sizing/usage"
)

const mib = 1 << 20

// fakeUsage serves per-pod series computed from the pods' known use; it is the consumer-side
// stand-in for Prometheus (sizing/usage is tested against a real one).
type fakeUsage struct {
	use map[string][2]float64 // pod → vCPU, MiB
	err error
	q   usage.Query
}

func (f *fakeUsage) Usage(_ context.Context, q usage.Query, progress func(int, int)) (map[usage.PodKey]*usage.Series, error) {
	f.q = q
	if f.err != nil {
		return nil, f.err
	}
	out := map[usage.PodKey]*usage.Series{}
	for pod, u := range f.use {
		s := &usage.Series{}
		for t := q.Start; t.Before(q.End); t = t.Add(q.Step) {
			s.CPU = append(s.CPU, sizing.Point{T: t, V: u[0]})
			s.Memory = append(s.Memory, sizing.Point{T: t, V: u[1] * mib})
		}
		out[usage.PodKey{Namespace: "ci", Pod: pod}] = s
	}
	progress(1, 1)
	return out, nil
}

// workflow is one run of WorkflowTemplate build: one pod node of template compile (4 vCPU / 8Gi).
func workflow(i int, start time.Time) (wfv1.Workflow, string) {
	name := fmt.Sprintf("build-%05d", i)
	node := wfv1.NodeStatus{ID: name + "-1", Name: name + ".compile", TemplateName: "compile", Type: wfv1.NodeTypePod,
		Phase: wfv1.NodeSucceeded, StartedAt: metav1.NewTime(start), FinishedAt: metav1.NewTime(start.Add(10 * time.Minute))}
	lim := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi")}
	wf := wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ci", Labels: map[string]string{"workflows.argoproj.io/workflow-template": "build"}},
		Spec:       wfv1.WorkflowSpec{Templates: []wfv1.Template{{Name: "compile", Container: &corev1.Container{Resources: corev1.ResourceRequirements{Limits: lim}}}}},
		Status:     wfv1.WorkflowStatus{Nodes: wfv1.Nodes{node.ID: node}},
	}
	runs := sizing.RunsOf(&wf)
	return wf, runs[0].Pod
}

func TestLearn(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var wfs []wfv1.Workflow
	fu := &fakeUsage{use: map[string][2]float64{}}
	for i := range 7 {
		wf, pod := workflow(i, now.Add(-time.Duration(i+1)*time.Hour))
		wfs = append(wfs, wf)
		if i < 6 { // the 7th run has no usage series: dropped as a gap
			fu.use[pod] = [2]float64{0.5 + 0.1*float64(i), 1000 + 100*float64(i)}
		}
	}
	old, _ := workflow(99, now.Add(-30*24*time.Hour)) // outside the window
	wfs = append(wfs, old)
	in := learnInput{now: now, window: 14 * 24 * time.Hour, step: 30 * time.Second, opts: sizing.DefaultOptions(),
		workflows: func(context.Context) ([]wfv1.Workflow, error) { return wfs, nil }, usage: fu, progress: func(int, int) {}}
	rep, err := learn(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Templates) != 1 {
		t.Fatalf("rows %+v", rep.Templates)
	}
	r := rep.Templates[0]
	// CPU peaks 0.5..1.0 (max 1.0; p95 0.975 × 1.15 = 1.12) → 2 vCPU; memory max 1500Mi × 1.15 → 2Gi.
	if r.Template != "ci/WorkflowTemplate/build/compile" || r.Runs != 6 || r.Declared != "4-8Gi" || r.Recommended != "2-2Gi" {
		t.Errorf("row %+v", r)
	}
	if r.Entry.Reason != "learned from 6 runs: p95 0.98 vCPU / max 1.5Gi → 2-2Gi" {
		t.Errorf("reason %q", r.Entry.Reason)
	}
	if !fu.q.Start.After(now.Add(-8*time.Hour)) || fu.q.Namespaces[0] != "ci" {
		t.Errorf("query %+v: want the window narrowed to the runs", fu.q)
	}
	if rep.TotalAfter >= rep.TotalBefore || rep.TotalAfter <= 0 {
		t.Errorf("totals %g → %g", rep.TotalBefore, rep.TotalAfter)
	}

	var table, js bytes.Buffer
	if err := writeReport(&table, "table", rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "ci/WorkflowTemplate/build/compile  6") || !strings.Contains(table.String(), "2-2Gi") || !strings.Contains(table.String(), "TOTAL") {
		t.Errorf("table:\n%s", table.String())
	}
	if err := writeReport(&js, "json", rep); err != nil {
		t.Fatal(err)
	}
	var decoded report
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil || decoded.Templates[0].Entry.Spec != "2-2Gi" {
		t.Errorf("json %v: %s", err, js.String())
	}

	var ym bytes.Buffer
	if err := writeReport(&ym, "yaml", rep); err != nil {
		t.Fatal(err)
	}
	var fromYAML report
	if err := yaml.UnmarshalStrict(ym.Bytes(), &fromYAML); err != nil || fromYAML.Templates[0].Recommended != "2-2Gi" {
		t.Errorf("yaml %v: %s", err, ym.String())
	}

	// Too few runs: a row that says so, and no evidence.
	in.opts.MinRuns = 7
	rep, err = learn(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Templates[0]; r.Entry != nil || !strings.Contains(r.Skipped, "6 usable runs, need 7") {
		t.Errorf("row %+v", r)
	}
	if err := applySizing(context.Background(), fake.NewClientset(), "argo", rep, &bytes.Buffer{}); err == nil {
		t.Error("--apply with nothing learned succeeded")
	}

	// Prometheus failing is the command's error.
	fu.err = usage.ErrUnreachable
	if _, err := learn(context.Background(), in); !errors.Is(err, usage.ErrUnreachable) {
		t.Errorf("err %v", err)
	}
	// No runs in the window.
	in.workflows = func(context.Context) ([]wfv1.Workflow, error) { return []wfv1.Workflow{old}, nil }
	if _, err := learn(context.Background(), in); !errors.Is(err, errNothingToLearn) {
		t.Errorf("err %v", err)
	}
}

func TestApplySizingMerges(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var wfs []wfv1.Workflow
	fu := &fakeUsage{use: map[string][2]float64{}}
	for i := range 5 {
		wf, pod := workflow(i, now.Add(-time.Duration(i+1)*time.Hour))
		wfs = append(wfs, wf)
		fu.use[pod] = [2]float64{0.3, 700}
	}
	rep, err := learn(context.Background(), learnInput{now: now, window: 24 * time.Hour, step: 30 * time.Second, opts: sizing.DefaultOptions(),
		workflows: func(context.Context) ([]wfv1.Workflow, error) { return wfs, nil }, usage: fu, progress: func(int, int) {}})
	if err != nil {
		t.Fatal(err)
	}
	other := *rep.Templates[0].Entry
	other.Template = "link"
	otherData, err := sizing.EncodeConfigMapData([]sizing.Entry{other})
	if err != nil {
		t.Fatal(err)
	}
	existing := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: sizing.ConfigMapName, Namespace: "argo"},
		Data: map[string]string{"ci_wt_build_link": otherData["ci_wt_build_link"], "ci_wt_build_broken": "spec: 9-9Gi"}}
	kube := fake.NewClientset(existing)
	var stderr bytes.Buffer
	if err := applySizing(context.Background(), kube, "argo", rep, &stderr); err != nil {
		t.Fatal(err)
	}
	cm, err := kube.CoreV1().ConfigMaps("argo").Get(context.Background(), sizing.ConfigMapName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	table, err := sizing.ParseConfigMapData(cm.Data)
	if err != nil {
		t.Fatalf("written ConfigMap does not parse: %v", err)
	}
	id := sizing.Identity{Namespace: "ci", Kind: sizing.OwnerWorkflowTemplate, Owner: "build", Template: "compile"}
	if l, ok := table.Lookup(id); !ok || l.Spec.String() != "0.5-1Gi" || table.Len() != 2 {
		t.Errorf("lookup %+v %v, %d entries; want compile at 0.5-1Gi and link kept", l, ok, table.Len())
	}
	if !strings.Contains(stderr.String(), "dropping broken entry ci_wt_build_broken") {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestRecommendFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--window", "fortnight"}, {"--step", "0s"}, {"--min-runs", "0"}, {"-o", "csv"},
		{"--prometheus", "127.0.0.1:9090"}, {"--prometheus-token-file", "/nonexistent"},
	} {
		cmd := newRootCmd()
		cmd.SetArgs(append([]string{"recommend"}, args...))
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: err %v, want exit 2", args, err)
		}
	}
}

// TestLearnBands: with --bands, each time-of-day band with enough runs gets its own row and its
// evidence, and the total counts each band's runs at its spec.
func TestLearnBands(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var wfs []wfv1.Workflow
	fu := &fakeUsage{use: map[string][2]float64{}}
	for i := range 24 {
		start := now.Add(-time.Duration(24-i) * time.Hour) // 00:00 … 23:00 of the day before
		wf, pod := workflow(i, start)
		wfs = append(wfs, wf)
		fu.use[pod] = [2]float64{0.3, 500}
		if h := start.Hour(); h >= 6 && h < 18 {
			fu.use[pod] = [2]float64{1.5, 3000}
		}
	}
	opts := sizing.DefaultOptions()
	in := learnInput{now: now, window: 14 * 24 * time.Hour, step: 30 * time.Second, opts: opts,
		workflows: func(context.Context) ([]wfv1.Workflow, error) { return wfs, nil }, usage: fu, progress: func(int, int) {}}
	whole, err := learn(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	in.opts.Bands, in.opts.BandMinRuns = 4, 5
	rep, err := learn(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	e := rep.Templates[0].Entry
	if e == nil || e.Spec != whole.Templates[0].Recommended || e.TimeZone != "UTC" || len(e.Bands) != 4 {
		t.Fatalf("evidence %+v", e)
	}
	if b := e.Bands[0]; b.From != 0 || b.To != 6 || b.Runs != 6 || b.Spec == e.Spec {
		t.Errorf("band 0: %+v, want 00–06 from 6 runs with a spec of its own", b)
	}
	if rep.TotalAfter >= whole.TotalAfter {
		t.Errorf("total after %g with bands, %g without", rep.TotalAfter, whole.TotalAfter)
	}
	var table, js bytes.Buffer
	if err := writeReport(&table, "table", rep); err != nil {
		t.Fatal(err)
	}
	// The quiet bands: 0.3 vCPU, memory at the busy neighbours' 3000Mi peak → 1-4Gi.
	for _, want := range []string{`(?m)^  00:00–06:00 UTC +6 +0\.30/0\.30/0\.30 .* 1-4Gi `, `(?m)^  06:00–12:00 UTC +6 .* 2-4Gi `,
		`(?m)^  18:00–24:00 UTC +6 .* 1-4Gi `} {
		if !regexp.MustCompile(want).MatchString(table.String()) {
			t.Errorf("table without %q:\n%s", want, table.String())
		}
	}
	if err := writeReport(&js, "json", rep); err != nil {
		t.Fatal(err)
	}
	var decoded report
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil || len(decoded.Templates[0].Entry.Bands) != 4 {
		t.Errorf("json %v: %s", err, js.String())
	}
}

func TestRecommendBandFlags(t *testing.T) {
	for _, args := range [][]string{{"--bands", "5"}, {"--time-zone", "Mars/Olympus"}, {"--time-zone", "Local"}, {"--band-min-runs", "-1"}} {
		f := recommendFlags{window: "14d", step: "30s", minRuns: 5, output: "table", timeZone: "UTC", bandMinRuns: 10}
		cmd := newRecommendCmd()
		if err := cmd.Flags().Parse(args); err != nil {
			t.Fatal(err)
		}
		f.bands, _ = cmd.Flags().GetInt("bands")
		f.timeZone, _ = cmd.Flags().GetString("time-zone")
		f.bandMinRuns, _ = cmd.Flags().GetInt("band-min-runs")
		_, err := f.parse()
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: err %v, want exit 2", args, err)
		}
	}
	f := recommendFlags{window: "14d", step: "30s", minRuns: 5, output: "table", bands: 4, timeZone: "Asia/Shanghai", bandMinRuns: 10}
	p, err := f.parse()
	if err != nil || p.opts.Bands != 4 || p.opts.TimeZone.String() != "Asia/Shanghai" || p.opts.BandMinRuns != 10 {
		t.Errorf("parse: %+v %v", p, err)
	}
}
