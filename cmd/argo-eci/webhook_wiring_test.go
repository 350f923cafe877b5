package main

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/argo-eci/argo-eci/sizing"
	"github.com/argo-eci/argo-eci/webhook"
)

func TestStartSizingAndCost(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	newServer := func() *webhook.Server {
		return &webhook.Server{Engines: &webhook.EngineStore{Sizing: newSizingStore()}, Metrics: webhook.NewMetrics()}
	}
	f := &webhookFlags{namespace: "argo", sizingCM: defaultSizingConfigMap}

	// Readable: the store follows the ConfigMap.
	empty := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: sizing.ConfigMapName, Namespace: "argo"}, Data: map[string]string{}}
	s := newServer()
	if err := startSizingAndCost(ctx, log, s, fake.NewClientset(empty), f); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Engines.Sizing.Table() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Engines.Sizing.Table() == nil {
		t.Error("the sizing ConfigMap was never loaded")
	}

	// Forbidden: a warning, and the webhook runs on declared specs.
	forbidden := fake.NewClientset()
	forbidden.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, sizing.ConfigMapName, nil)
	})
	if err := startSizingAndCost(ctx, log, newServer(), forbidden, f); err != nil {
		t.Errorf("forbidden sizing ConfigMap: %v, want a warning only", err)
	}

	// Any other error is the webhook's own problem and stops it.
	broken := fake.NewClientset()
	broken.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(io.ErrUnexpectedEOF)
	})
	if err := startSizingAndCost(ctx, log, newServer(), broken, f); err == nil {
		t.Error("an apiserver error reading the sizing ConfigMap was ignored")
	}

	// --cost-metrics starts the pod watch.
	var listed atomic.Bool
	pods := fake.NewClientset()
	pods.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		listed.Store(true)
		return false, nil, nil
	})
	if err := startSizingAndCost(ctx, log, newServer(), pods, &webhookFlags{namespace: "argo", costMetrics: true}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for !listed.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !listed.Load() {
		t.Error("--cost-metrics did not watch pods")
	}
}
