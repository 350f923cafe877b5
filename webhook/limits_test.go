package webhook

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/argo-eci/argo-eci/emissary"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHostileInputStaysSmall: a 1 MiB annotation quoted in a refusal produces neither a 1 MiB
// reply nor a 1 MiB log line.
func TestHostileInputStaysSmall(t *testing.T) {
	logs := &syncBuffer{}
	ts := startServer(t, &Server{Engines: realStore(t, testProfiles), Logger: slog.New(slog.NewTextHandler(logs, nil))})
	pod, _ := typicalPod(t)
	pod.Annotations["argo-eci.io/profile"] = strings.Repeat("p", 1<<20)
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	status, out, body := ts.post(t, PathPods, podReview(t, "u-1", raw))
	if status != http.StatusOK || out.Response.Allowed {
		t.Fatalf("want a refusal, got %d: %.300s", status, body)
	}
	if len(body) > 4<<10 {
		t.Errorf("reply is %d bytes, want at most 4 KiB", len(body))
	}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	for sc.Scan() {
		if n := len(sc.Text()); n > 4<<10 {
			t.Errorf("log line of %d bytes: %.200s", n, sc.Text())
		}
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	s := strings.Repeat("界", 100) // 3 bytes each
	got := truncate(s, 50)
	if len(got) > 50 || !strings.HasSuffix(got, "...") || !utf8Valid(got) {
		t.Errorf("truncate = %q (%d bytes)", got, len(got))
	}
	if truncate("short", 50) != "short" {
		t.Error("a short string was changed")
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestReviewsInFlightBounded: no more than MaxInFlight reviews are decoded and shaped at once,
// whatever the burst; the others wait and are answered.
func TestReviewsInFlightBounded(t *testing.T) {
	var now, peak atomic.Int32
	store := &EngineStore{}
	store.Set(&fakeShaper{pod: func(p *corev1.Pod, _ *wfv1.Workflow) (*emissary.PodResult, error) {
		n := now.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(30 * time.Millisecond)
		now.Add(-1)
		return &emissary.PodResult{Pod: p.DeepCopy(), Outcome: emissary.OutcomeSkipped}, nil
	}})
	ts := startServer(t, &Server{Engines: store, MaxInFlight: 2})
	_, raw := typicalPod(t)
	body := podReview(t, "u", raw)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := ts.Client.Post(ts.URL+PathPods, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 2 {
		t.Errorf("%d reviews in flight at once, want at most MaxInFlight = 2", p)
	}
}

// TestBodyCapIsWhatTheAPIServerSends: the largest review an apiserver sends (an UPDATE with a
// 3 MiB object and a 1.5 MiB old object) fits, and anything larger is refused with 413.
func TestBodyCapIsWhatTheAPIServerSends(t *testing.T) {
	if DefaultMaxRequestBytes < 3<<20+3<<19 || DefaultMaxRequestBytes > 5<<20 {
		t.Errorf("DefaultMaxRequestBytes = %d, want room for 4.5 MiB of objects and no more than 5 MiB", DefaultMaxRequestBytes)
	}
	ts := startServer(t, &Server{Engines: realStore(t, testProfiles)})
	big := append([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","pad":"`), bytes.Repeat([]byte("x"), DefaultMaxRequestBytes)...)
	big = append(big, `"}`...)
	if status, _, _ := ts.post(t, PathPods, big); status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d, want 413", status)
	}
}

// TestDrainOnShutdown: after ctx ends, /readyz fails at once while reviews are still answered
// for DrainDelay, so the Service stops sending before the server stops listening.
func TestDrainOnShutdown(t *testing.T) {
	s := &Server{Engines: realStore(t, testProfiles), Logger: quietLogger(t), DrainDelay: time.Second}
	ts := startServer(t, s)
	_, raw := typicalPod(t)
	ts.stop()
	deadline := time.Now().Add(500 * time.Millisecond)
	for {
		resp, err := ts.Client.Get(ts.URL + PathReadyz)
		if err != nil {
			t.Fatalf("readyz during the drain: %v (the server stopped listening at once)", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz during the drain: %d, want 503", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if status, out, body := ts.post(t, PathPods, podReview(t, "u-1", raw)); status != http.StatusOK || !out.Response.Allowed {
		t.Errorf("review during the drain: %d %s", status, body)
	}
	err := <-ts.done
	ts.done <- nil // for the cleanup
	if err != nil {
		t.Errorf("Serve: %v", err)
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(ts.URL, "https://"), time.Second); err == nil {
		c.Close()
		t.Error("still listening after the drain")
	}
}

// TestMetricsCanBeRestricted: with SeparateMetrics the webhook's port has no /metrics, and
// ServeMetrics serves them on an address of their own.
func TestMetricsCanBeRestricted(t *testing.T) {
	ts := startServer(t, &Server{Engines: realStore(t, testProfiles), SeparateMetrics: true})
	resp, err := ts.Client.Get(ts.URL + PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the webhook port: %d, want 404", resp.StatusCode)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeMetrics(ctx, ln, ts.Metrics) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	resp, err = http.Get("http://" + ln.Addr().String() + PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "argo_eci_webhook_certificate_expiry_timestamp_seconds") {
		t.Errorf("separate /metrics: %d, missing the certificate expiry", resp.StatusCode)
	}
}

// TestOverflowingQuantityIsAnError: a quantity too large to compute with is refused naming the
// field, not counted as 0 (which chose the smallest spec).
func TestOverflowingQuantityIsAnError(t *testing.T) {
	pod, _ := typicalPod(t)
	idx := -1
	for i, c := range pod.Spec.Containers {
		if c.Name == "main" {
			idx = i
			pod.Spec.Containers[i].Resources.Limits[corev1.ResourceCPU] = resource.MustParse("9223372036854775807")
		}
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Engines: realStore(t, testProfiles), Logger: quietLogger(t), Metrics: NewMetrics()}
	s.init()
	v := s.admitPod(t.Context(), decodeRequest(t, podReview(t, "u", raw)))
	want := fmt.Sprintf("spec.containers[%d].resources.limits.cpu", idx)
	if v.outcome != outcomeInvalid || !strings.Contains(v.message, want) {
		t.Errorf("outcome %s (%s), want invalid naming %s", v.outcome, v.message, want)
	}
	// The largest quantity that still computes is accepted.
	pod.Spec.Containers[idx].Resources.Limits[corev1.ResourceCPU] = resource.MustParse("64")
	raw, _ = json.Marshal(pod)
	if v := s.admitPod(t.Context(), decodeRequest(t, podReview(t, "u", raw))); v.outcome != outcomeShaped {
		t.Errorf("64 vCPU: outcome %s (%s)", v.outcome, v.message)
	}
}
