package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	wffake "github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/internal/promtest"
	"github.com/argo-eci/argo-eci/sizing"
	"github.com/argo-eci/argo-eci/sizing/usage"
)

// TestLearnWithPrometheus drives learn through its real parts: Workflows listed from a clientset,
// pod names derived from their node statuses, and usage read from a real Prometheus whose TSDB holds
// cAdvisor series for exactly those pods (one pod has none: a gap).
func TestLearnWithPrometheus(t *testing.T) {
	base := time.Now().Add(-4 * time.Hour).Truncate(time.Hour)
	var b strings.Builder
	var objs []wfv1.Workflow
	for i := range 7 {
		start := base.Add(time.Duration(i) * 15 * time.Minute)
		wf, pod := workflow(i, start)
		objs = append(objs, wf)
		if i == 6 {
			continue
		}
		cpu, mem := 0.5+0.1*float64(i), (1000+100*float64(i))*mib
		for s := 0; s <= 40; s++ { // every 15 s for the 10 minutes of the run
			ts := start.Add(time.Duration(s) * 15 * time.Second).Unix()
			fmt.Fprintf(&b, "container_memory_working_set_bytes{namespace=\"ci\",pod=%q,container=\"main\"} %g %d\n", pod, mem, ts)
		}
		for s := 0; s <= 40; s++ {
			ts := start.Add(time.Duration(s) * 15 * time.Second).Unix()
			fmt.Fprintf(&b, "container_cpu_usage_seconds_total{namespace=\"ci\",pod=%q,container=\"main\"} %g %d\n", pod, cpu*15*float64(s), ts)
		}
	}
	b.WriteString("# EOF\n")
	prom := promtest.Start(t, b.String())
	reader, err := usage.New(prom, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	client := wffake.NewSimpleClientset()
	for i := range objs {
		if _, err := client.ArgoprojV1alpha1().Workflows("ci").Create(context.Background(), &objs[i], metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var progress []int
	rep, err := learn(context.Background(), learnInput{
		now: base.Add(3 * time.Hour), window: 14 * 24 * time.Hour, step: 30 * time.Second, opts: sizing.DefaultOptions(),
		workflows: func(ctx context.Context) ([]wfv1.Workflow, error) { return listWorkflows(ctx, client, []string{"ci"}) },
		usage:     reader,
		progress:  func(done, total int) { progress = append(progress, done) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Templates) != 1 || len(progress) == 0 {
		t.Fatalf("rows %+v progress %v", rep.Templates, progress)
	}
	r := rep.Templates[0]
	if r.Runs != 6 || r.Recommended != "2-2Gi" || r.rec.Dropped != 1 {
		t.Errorf("row %+v (dropped %d), want 6 runs → 2-2Gi, 1 dropped", r, r.rec.Dropped)
	}
	if got := r.rec.Memory.Max; got != 1500*mib {
		t.Errorf("memory max %s, want 1500Mi", sizing.FormatBytes(got))
	}
	if got := r.rec.CPU.Max; got < 0.99 || got > 1.01 {
		t.Errorf("CPU max %g, want 1.0", got)
	}
}
