package ecisim

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/argo-eci/argo-eci/eci"
)

// Two elected simulators: only the Lease holder plays, so each pod is created exactly once.
func TestRunElectedOneAtATime(t *testing.T) {
	h := newHarness(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for i := range 2 {
		sim := &Simulator{Kube: h.kube, Namespace: "sim"}
		go func() { done <- sim.RunElected(ctx, fmt.Sprint("sim-", i)) }()
	}
	names := []string{"a", "b", "c", "d", "e", "f"}
	for _, n := range names {
		h.create(n, "vk", nil, "")
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range names {
		for h.pod(n).Annotations[eci.AnnotationInstanceID] == "" {
			if time.Now().After(deadline) {
				t.Fatalf("%s never placed", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond)
	for _, n := range names {
		if ev := h.events(n); len(ev) != 1 {
			t.Errorf("%s: events %v, want one InstanceCreated", n, ev)
		}
	}
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
