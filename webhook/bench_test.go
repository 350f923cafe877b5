package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"gomodules.xyz/jsonpatch/v2"
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

// BenchmarkCreatePatch compares the patch step on the typical pod: createPatch (identical
// subtrees pruned before the library diffs the rest) against the library alone on the whole
// documents, as controller-runtime's defaulting webhooks do. Both produce patches that turn the
// original into the shaped pod (TestArgoPodsShaped checks that for createPatch).
func BenchmarkCreatePatch(b *testing.B) {
	pod, raw := typicalPod(b)
	res, err := realStore(b, testProfiles).Current().ShapePod(pod, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("pruned", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := createPatch(raw, res.Pod); err != nil {
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
