package plugin

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	"github.com/fluid-cloudnative/fluid/pkg/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/argo-eci/argo-eci/dataset"
	"github.com/argo-eci/argo-eci/imagecache"
)

// BenchmarkExecuteTemplate measures one template.execute call of a warm-up in progress (the steady
// state: DataLoad Executing, Dataset Bound) through the real handler, decoder and dataset.Manager,
// with an in-memory Kubernetes client, so Kubernetes round trips are excluded. Run with -cpu 1.
// Reports requests/s and the p99 latency of the individual calls.
func BenchmarkExecuteTemplate(b *testing.B) {
	payload := []byte(body(`{"argo-eci":{"dataset":{"name":"serverless-data","mounts":[{"mountPoint":"oss://bucket/path/","name":"demo"}],` +
		`"runtime":{"replicas":10,"tieredstore":{"levels":[{"mediumtype":"MEM","volumeType":"emptyDir","path":"/local-storage","quota":"12Gi","high":"0.99","low":"0.99"}]}},` +
		`"load":{"paths":["/"],"loadMetadata":true},"minCachedPercentage":100,"timeout":"30m"}}}`))
	req, mine, err := DecodeRequest(payload)
	if err != nil || !mine {
		b.Fatalf("decode: %v", err)
	}
	key := dataset.Key(req.Workflow.UID, req.Spec.Dataset)
	name := dataset.DataLoadName("serverless-data", key, 1)
	scheme := runtime.NewScheme()
	if err := fluidv1.AddToScheme(scheme); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&fluidv1.Dataset{
			ObjectMeta: metav1.ObjectMeta{Name: "serverless-data", Namespace: "ns"},
			Status: fluidv1.DatasetStatus{Phase: fluidv1.BoundDatasetPhase, UfsTotal: "10.00GiB",
				CacheStates:  common.CacheStateList{common.Cached: "4.00GiB", common.CachedPercentage: "40.0%"},
				OperationRef: map[string]string{"DataLoad": name}},
		},
		&fluidv1.DataLoad{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", CreationTimestamp: metav1.NewTime(now),
				Labels: map[string]string{dataset.LabelWarmKey: key}},
			Status: fluidv1.OperationStatus{Phase: common.PhaseExecuting, Duration: "Unfinished"},
		},
	).Build()
	s := &Server{
		Token:       []byte(testToken),
		Datasets:    &dataset.Manager{Client: kube},
		ImageCaches: &imagecache.Manager{Client: kube},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	h := s.Handler()
	durations := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		r := httptest.NewRequest(http.MethodPost, ExecutePath, bytes.NewReader(payload))
		r.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		durations = append(durations, time.Since(t0))
		if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"phase":"Running"`)) {
			b.Fatalf("unexpected reply %d %s", w.Code, w.Body.String())
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	p99 := durations[(len(durations)*99)/100]
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}
