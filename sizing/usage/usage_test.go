package usage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/argo-eci/argo-eci/internal/promtest"
	"github.com/argo-eci/argo-eci/sizing"
)

const mib = 1 << 20

// history writes cAdvisor-like series every 15 s for 10 minutes from base:
//   - ci/build-a: main uses 0.5 vCPU for 5 min then 1.5; memory 100Mi, 300Mi at minute 5, then 200Mi;
//     wait uses 0.01 vCPU and 20Mi; a container="POD" series (1Gi) and a pod-level one (container="")
//     must be ignored.
//   - ci/build-b: like a but with no samples between minute 3 and minute 8 (a gap).
//   - other/big: 5Gi, in a namespace not asked for.
func history(base time.Time) string {
	var b strings.Builder
	b.WriteString("# TYPE container_cpu_usage_seconds_total counter\n# TYPE container_memory_working_set_bytes gauge\n")
	type ctr struct {
		ns, pod, container string
		cpu                func(min float64) float64 // rate
		mem                func(min float64) float64
		gap                bool
	}
	mainCPU := func(m float64) float64 { return map[bool]float64{true: 0.5, false: 1.5}[m < 5] }
	mainMem := func(m float64) float64 {
		switch {
		case m < 5:
			return 100 * mib
		case m < 5.25:
			return 300 * mib
		}
		return 200 * mib
	}
	flat := func(v float64) func(float64) float64 { return func(float64) float64 { return v } }
	ctrs := []ctr{
		{"ci", "build-a", "main", mainCPU, mainMem, false},
		{"ci", "build-a", "wait", flat(0.01), flat(20 * mib), false},
		{"ci", "build-a", "POD", flat(0), flat(1024 * mib), false},
		{"ci", "build-a", "", flat(2), flat(2048 * mib), false},
		{"ci", "build-b", "main", mainCPU, mainMem, true},
		{"other", "big", "main", flat(4), flat(5 * 1024 * mib), false},
	}
	for _, metric := range []string{"container_cpu_usage_seconds_total", "container_memory_working_set_bytes"} {
		for _, c := range ctrs {
			counter := 0.0
			for i := 0; i <= 40; i++ {
				m := float64(i) / 4
				ts := base.Add(time.Duration(i) * 15 * time.Second)
				if i > 0 {
					counter += c.cpu(m-0.25) * 15
				}
				if c.gap && m > 3 && m < 8 {
					continue
				}
				v := c.mem(m)
				if strings.HasPrefix(metric, "container_cpu") {
					v = counter
				}
				fmt.Fprintf(&b, "%s{namespace=%q,pod=%q,container=%q} %g %d\n", metric, c.ns, c.pod, c.container, v, ts.Unix())
			}
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

func TestUsageAgainstPrometheus(t *testing.T) {
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Hour).Add(10 * time.Minute)
	url := promtest.Start(t, history(base))
	ctx := context.Background()
	r, err := New(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(ctx); err != nil {
		t.Fatal(err)
	}
	step := 15 * time.Second
	var calls []int
	got, err := r.Usage(ctx, Query{Namespaces: []string{"ci"}, Start: base.Add(-time.Minute), End: base.Add(15 * time.Minute), Step: step},
		func(done, total int) { calls = append(calls, done, total) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[PodKey{"ci", "build-a"}] == nil || got[PodKey{"ci", "build-b"}] == nil {
		t.Fatalf("pods %v, want ci/build-a and ci/build-b", keys(got))
	}
	if fmt.Sprint(calls) != "[1 1]" {
		t.Errorf("progress calls %v", calls)
	}
	end := base.Add(10 * time.Minute)
	a := got[PodKey{"ci", "build-a"}]
	run := sizing.MeasureRun("build-a", base, end, step, a.CPU, a.Memory)
	// main + wait: 300Mi + 20Mi; 1.5 + 0.01 vCPU. POD and pod-level series are not counted.
	if run.PeakMemory != 320*mib {
		t.Errorf("peak memory %s, want 320Mi", sizing.FormatBytes(float64(run.PeakMemory)))
	}
	if math.Abs(run.PeakCPU-1.51) > 0.02 {
		t.Errorf("peak CPU %g, want 1.51", run.PeakCPU)
	}
	if run.Coverage < 0.95 {
		t.Errorf("coverage %g, want ≈ 1", run.Coverage)
	}
	b := got[PodKey{"ci", "build-b"}]
	gappy := sizing.MeasureRun("build-b", base, end, step, b.CPU, b.Memory)
	if gappy.Coverage > 0.6 || gappy.Coverage < 0.4 {
		t.Errorf("coverage of the gappy run %g, want ≈ 0.5", gappy.Coverage)
	}

	// A window with no data for the namespaces: ErrNoSeries, and no partial answer.
	got, err = r.Usage(ctx, Query{Namespaces: []string{"empty"}, Start: base, End: end, Step: step}, nil)
	if !errors.Is(err, ErrNoSeries) || got != nil {
		t.Errorf("empty namespace: %v, %v; want ErrNoSeries", keys(got), err)
	}
	// A long window is read in chunks of at most 11,000 points.
	calls = nil
	if _, err := r.Usage(ctx, Query{Namespaces: []string{"ci"}, Start: base.Add(-60 * time.Hour), End: end, Step: step},
		func(done, total int) { calls = append(calls, done, total) }); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2*3 || calls[len(calls)-2] != 3 || calls[len(calls)-1] != 3 {
		t.Errorf("progress %v, want 3 chunks of 24h", calls)
	}
}

func TestUsageErrors(t *testing.T) {
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	prom := promtest.Start(t, history(base))
	ctx := context.Background()
	target, err := url.Parse(prom)
	if err != nil {
		t.Fatal(err)
	}
	// An auth gateway in front of the real Prometheus, as managed Prometheus services have.
	proxy := httputil.NewSingleHostReverseProxy(target)
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer gate.Close()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("<html>login</html>"))
	}))
	defer html.Close()

	tests := []struct {
		name, url, token string
		want             error
	}{
		{"nothing listening", fmt.Sprintf("http://127.0.0.1:%d", promtest.FreePort(t)), "", ErrUnreachable},
		{"wrong path", prom + "/not-prometheus", "", ErrNotPrometheus},
		{"an HTML page", html.URL, "", ErrNotPrometheus},
		{"no token", gate.URL, "", ErrUnauthorized},
		{"wrong token", gate.URL, "nope", ErrUnauthorized},
		{"right token", gate.URL, "s3cret", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.url, tt.token, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Check(ctx); !errors.Is(err, tt.want) {
				t.Errorf("Check: %v, want %v", err, tt.want)
			}
			_, err = r.Usage(ctx, Query{Namespaces: []string{"ci"}, Start: base, End: base.Add(time.Hour), Step: 15 * time.Second}, nil)
			if !errors.Is(err, tt.want) {
				t.Errorf("Usage: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewAndQueryValidate(t *testing.T) {
	for _, bad := range []string{"", "127.0.0.1:9090", "ftp://x", "http://", "::"} {
		if _, err := New(bad, "", nil); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	now := time.Now()
	for _, q := range []Query{
		{Start: now, End: now.Add(time.Hour), Step: time.Minute},
		{Namespaces: []string{"ci"}, Start: now, End: now, Step: time.Minute},
		{Namespaces: []string{"ci"}, Start: now, End: now.Add(time.Hour), Step: time.Millisecond},
		{Namespaces: []string{`ci"}`}, Start: now, End: now.Add(time.Hour), Step: time.Minute},
	} {
		if q.Validate() == nil {
			t.Errorf("%+v accepted", q)
		}
	}
}

func keys(m map[PodKey]*Series) []PodKey {
	var out []PodKey
	for k := range m {
		out = append(out, k)
	}
	return out
}
