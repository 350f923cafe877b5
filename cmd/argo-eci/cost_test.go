package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	wffake "github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/argo-eci/argo-eci/cost"
)

func TestCollectAttempts(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	created := metav1.NewTime(now.Add(-time.Hour))
	pod := func(name, wf, node string, ann map[string]string, labels map[string]string) *corev1.Pod {
		a := map[string]string{"workflows.argoproj.io/node-id": node, "k8s.aliyun.com/eci-instance-spec": "2.0-4.0Gi"}
		for k, v := range ann {
			a[k] = v
		}
		l := map[string]string{"workflows.argoproj.io/workflow": wf}
		for k, v := range labels {
			l[k] = v
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: l, Annotations: a},
			Status: corev1.PodStatus{Phase: corev1.PodSucceeded, StartTime: &created,
				ContainerStatuses: []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
					Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(now.Add(-59 * time.Minute))}}}}}}
	}
	kube := fake.NewClientset(
		pod("a-1", "a", "a-1", map[string]string{"k8s.aliyun.com/eci-spot-strategy": "SpotAsPriceGo"}, nil),
		pod("a-agent", "a", "", nil, map[string]string{"workflows.argoproj.io/component": "agent"}),
		pod("gone-1", "gone", "gone-1", nil, nil),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "not-argo", Namespace: "ns"}},
	)
	wfs := wffake.NewSimpleClientset(&wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns"},
		Status: wfv1.WorkflowStatus{Nodes: wfv1.Nodes{"a-1": {ID: "a-1", Name: "a.step", TemplateName: "step", Type: wfv1.NodeTypePod}}}})
	ctx := context.Background()

	all, err := collectAttempts(ctx, kube, wfs, "ns", "", now)
	if err != nil || len(all) != 3 {
		t.Fatalf("all: %+v, %v", all, err)
	}
	templates := map[string]cost.Attempt{}
	for _, a := range all {
		templates[a.Template] = a
	}
	if a := templates["step"]; !a.Spot || a.Seconds != 60 {
		t.Errorf("step: %+v", a)
	}
	if _, ok := templates[cost.AgentTemplate]; !ok {
		t.Errorf("agent pod missing: %+v", all)
	}
	one, err := collectAttempts(ctx, kube, wfs, "ns", "a", now)
	if err != nil || len(one) != 2 {
		t.Errorf("workflow a: %+v, %v", one, err)
	}
	if _, err := collectAttempts(ctx, kube, wfs, "ns", "nope", now); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown workflow: %v", err)
	}

	var buf bytes.Buffer
	if err := writeCost(&buf, cost.Summarize(all, cost.DefaultPrices()), "json"); err != nil {
		t.Fatal(err)
	}
	var back cost.Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back.Total.Attempts != 3 || back.Total.SpotAttempts != 1 {
		t.Errorf("json: %+v, %v", back.Total, err)
	}
}

func TestCostFlags(t *testing.T) {
	for _, args := range [][]string{{"cost", "-o", "yaml"}, {"cost", "--spot-ratio", "0.9"}, {"cost", "a", "b"}} {
		root := newRootCmd()
		root.SetArgs(args)
		root.SetOut(&bytes.Buffer{})
		root.SetErr(&bytes.Buffer{})
		if err := root.Execute(); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
