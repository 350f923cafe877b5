package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	goruntime "runtime"
	"slices"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// reportLatency adds reviews/s and the p99 of the per-review durations to a benchmark.
func reportLatency(b *testing.B, durations []time.Duration) {
	if len(durations) == 0 {
		return
	}
	slices.Sort(durations)
	p99 := durations[min(len(durations)-1, len(durations)*99/100)]
	var total time.Duration
	for _, d := range durations {
		total += d
	}
	b.ReportMetric(float64(p99.Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(len(durations))/total.Seconds(), "reviews/s")
}

// BenchmarkPodReview measures the admission handler on a typical Argo workflow pod:
// AdmissionReview bytes in, AdmissionReview bytes out (decode, workflow cache hit, shaping,
// JSON patch, encode). Run it with -cpu 1 for the one-core number.
func BenchmarkPodReview(b *testing.B) {
	pod, raw := typicalPod(b)
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: pod.Labels["workflows.argoproj.io/workflow"], Namespace: pod.Namespace,
		Annotations: map[string]string{"workflows.argoproj.io/pod-name-format": "v2"}}}
	s := &Server{Engines: realStore(b, testProfiles), Logger: quietLogger(b), Metrics: NewMetrics(),
		Workflows: mapWorkflows{wf.Namespace + "/" + wf.Name: wf}}
	body := podReview(b, "bench", raw)
	ctx := context.Background()

	status, out := s.review(ctx, "pods", s.admitPod, body)
	if status != http.StatusOK || !bytes.Contains(out, []byte(`"patch"`)) {
		b.Fatalf("the benchmark pod is not shaped: %d %s", status, out)
	}
	durations := make([]time.Duration, 0, b.N)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		status, _ := s.review(ctx, "pods", s.admitPod, body)
		durations = append(durations, time.Since(start))
		if status != http.StatusOK {
			b.Fatal(status)
		}
	}
	b.StopTimer()
	reportLatency(b, durations)
}

// BenchmarkPodReviewHTTPS is the same review through the whole server: HTTPS on a kept-alive
// connection, body cap, routing and metrics, as the kube-apiserver calls it.
func BenchmarkPodReviewHTTPS(b *testing.B) {
	_, raw := typicalPod(b)
	ts := startServer(b, &Server{Engines: realStore(b, testProfiles)})
	body := podReview(b, "bench", raw)
	durations := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		resp, err := ts.Client.Post(ts.URL+PathPods, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		var out struct{ Response struct{ Allowed bool } }
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		durations = append(durations, time.Since(start))
		if err != nil || !out.Response.Allowed {
			b.Fatalf("%v %+v", err, out)
		}
	}
	b.StopTimer()
	reportLatency(b, durations)
}

// BenchmarkChangePatch compares the patch step on the typical pod: changePatch (the engine's
// changes carried into the raw object, identical subtrees skipped as bytes) against the library
// alone on the whole documents, as controller-runtime's defaulting webhooks do (which is also
// wrong: it removes every field the Go types do not know).
func BenchmarkChangePatch(b *testing.B) {
	pod, raw := typicalPod(b)
	res, err := realStore(b, testProfiles).Current().ShapePodAt(pod, nil, time.Time{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("changes", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			before, err := json.Marshal(pod)
			if err != nil {
				b.Fatal(err)
			}
			after, err := json.Marshal(res.Pod)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := changePatch(raw, before, after); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("library-only", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			out, err := json.Marshal(res.Pod)
			if err != nil {
				b.Fatal(err)
			}
			ops, err := jsonpatch.CreatePatch(raw, out)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(ops); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWorkflowReview1MiB measures a Workflow CREATE review of about 1 MiB (a generated
// fan-out workflow of container templates): time, allocated bytes per review relative to the
// object (alloc-x), and the size of the reply (response-bytes), which must stay proportional to
// what argo-eci adds, not to the workflow. The size limit is lifted: shaped, this workflow is
// larger than the default MaxObjectBytes, and the benchmark measures the shaping.
func BenchmarkWorkflowReview1MiB(b *testing.B) {
	raw := bigWorkflow(b, 1<<20)
	s := &Server{Engines: realStore(b, testProfiles), Logger: quietLogger(b), Metrics: NewMetrics(), MaxObjectBytes: -1}
	gvk := metav1.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Workflow"}
	body := review(b, "bench", gvk, admissionv1.Create, "ci", "", raw)
	ctx := context.Background()
	status, out := s.review(ctx, "workflows", s.admitWorkflow, body)
	if status != http.StatusOK || !bytes.Contains(out, []byte(`"patch"`)) {
		b.Fatalf("the benchmark workflow is not shaped: %d %.300s", status, out)
	}
	var ms0, ms1 goruntime.MemStats
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	goruntime.ReadMemStats(&ms0)
	for range b.N {
		if status, _ := s.review(ctx, "workflows", s.admitWorkflow, body); status != http.StatusOK {
			b.Fatal(status)
		}
	}
	goruntime.ReadMemStats(&ms1)
	b.StopTimer()
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(b.N)/float64(len(raw)), "alloc-x")
	b.ReportMetric(float64(len(out)), "response-bytes")
}
