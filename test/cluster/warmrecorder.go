package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"

	"github.com/argo-eci/argo-eci/dataset"
	"github.com/argo-eci/argo-eci/plugin"
)

// WarmRecorder wraps the executor plugin's warm-up (plugin.DatasetWarmer) for the e2e tests, the
// benchmarks and the demo: it records when the plugin was first called, when it first answered
// Succeeded, the calls until then and, with Calls, the Kubernetes API calls until then.
type WarmRecorder struct {
	Next plugin.DatasetWarmer
	// Calls counts the plugin's Kubernetes API calls (CountCalls); nil leaves APICalls at 0.
	Calls *atomic.Int64
	// OnReply, when set, sees every reply, with first true on the first call (the demo's progress).
	OnReply func(spec *dataset.Spec, reply executorplugins.ExecuteTemplateReply, first bool)

	mu        sync.Mutex
	first     time.Time
	succeeded time.Time
	executes  int
	apiCalls  int64
}

// Warm calls Next and records the reply.
func (r *WarmRecorder) Warm(ctx context.Context, wf executorplugins.ObjectMeta, spec *dataset.Spec) (executorplugins.ExecuteTemplateReply, error) {
	reply, err := r.Next.Warm(ctx, wf, spec)
	r.mu.Lock()
	defer r.mu.Unlock()
	first := r.first.IsZero()
	if first {
		r.first = time.Now()
	}
	if r.succeeded.IsZero() {
		r.executes++
		if err == nil && reply.Node != nil && reply.Node.Phase == wfv1.NodeSucceeded {
			r.succeeded = time.Now()
			if r.Calls != nil {
				r.apiCalls = r.Calls.Load()
			}
		}
	}
	if r.OnReply != nil && err == nil && reply.Node != nil {
		r.OnReply(spec, reply, first)
	}
	return reply, err
}

// WarmRecord is what a WarmRecorder saw: the first call, the first Succeeded reply (zero if none
// yet), the calls until it and the API calls until it.
type WarmRecord struct {
	First, Succeeded time.Time
	Executes         int
	APICalls         int64
}

// Record returns what the recorder has seen so far.
func (r *WarmRecorder) Record() WarmRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return WarmRecord{First: r.first, Succeeded: r.succeeded, Executes: r.executes, APICalls: r.apiCalls}
}
