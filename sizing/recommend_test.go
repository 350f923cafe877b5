package sizing

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/argo-eci/argo-eci/eci"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// runs builds n complete runs of 10 minutes with the given CPU (vCPU) and memory (MiB) peaks, cycling.
func runs(n int, cpu []float64, memMiB []float64) []Run {
	out := make([]Run, n)
	for i := range out {
		start := t0.Add(time.Duration(i) * time.Hour)
		out[i] = Run{Pod: "p", Start: start, End: start.Add(10 * time.Minute), PeakCPU: cpu[i%len(cpu)],
			PeakMemory: int64(memMiB[i%len(memMiB)] * mib), Coverage: 1, CPUSamples: 20}
	}
	return out
}

func spec(t *testing.T, s string) eci.Spec {
	t.Helper()
	sp, err := eci.ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

var id = Identity{Namespace: "ci", Kind: OwnerWorkflowTemplate, Owner: "build", Template: "compile"}

func TestRecommend(t *testing.T) {
	tests := []struct {
		name     string
		runs     []Run
		declared string
		want     string // spec
		reason   string
	}{
		{
			name: "p95 of CPU peaks plus 15 %, max memory plus 15 %",
			// CPU peaks 0.2..1.1 (p95 1.055 → ×1.15 = 1.21), memory max 1000Mi → 1150Mi.
			runs:     runs(10, []float64{0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1}, []float64{500, 600, 700, 1000}),
			declared: "4-8Gi",
			want:     "2-2Gi",
			reason:   "learned from 10 runs: p95 1.06 vCPU / max 1000Mi → 2-2Gi",
		},
		{
			name:     "small steps get the smallest spec",
			runs:     runs(6, []float64{0.05, 0.1}, []float64{100, 120}),
			declared: "2-4Gi",
			want:     "0.25-0.5Gi",
			reason:   "learned from 6 runs: p95 0.1 vCPU / max 120Mi → 0.25-0.5Gi",
		},
		{
			name: "never below the highest CPU peak",
			// 19 runs at 0.5 vCPU and one at 3.0: p95 ≈ 0.63 × 1.15 < 3.0, so 3.0 wins → 4 vCPU.
			runs:     append(runs(19, []float64{0.5}, []float64{256}), runs(1, []float64{3.0}, []float64{256})...),
			declared: "8-16Gi",
			want:     "4-2Gi",
			reason:   "learned from 20 runs: p95 0.63 vCPU / max 256Mi → 4-2Gi",
		},
		{
			name: "memory is never below the highest peak and rounds to the cheapest spec",
			// 7.5 GiB × 1.15 = 8.6 GiB needs 2-16Gi (1 vCPU offers at most 8 GiB).
			runs:     runs(5, []float64{0.4}, []float64{7680, 2048}),
			declared: "4-32Gi",
			want:     "2-16Gi",
			reason:   "learned from 5 runs: p95 0.4 vCPU / max 7.5Gi → 2-16Gi",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := Recommend(id, tt.runs, spec(t, tt.declared), DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			if rec.Spec != spec(t, tt.want) {
				t.Errorf("spec %s, want %s (target %dm / %s)", rec.Spec, tt.want, rec.TargetMilliCPU, FormatBytes(float64(rec.TargetMemoryBytes)))
			}
			if rec.Reason != tt.reason {
				t.Errorf("reason %q, want %q", rec.Reason, tt.reason)
			}
			if float64(rec.Spec.MemoryMiB*mib) < rec.Memory.Max || float64(rec.Spec.MilliCPU) < rec.CPU.Max*1000 {
				t.Errorf("spec %s below the observed max (%g vCPU, %g bytes)", rec.Spec, rec.CPU.Max, rec.Memory.Max)
			}
			if rec.CostAfter > rec.CostBefore || rec.CostAfter <= 0 {
				t.Errorf("cost %g → %g", rec.CostBefore, rec.CostAfter)
			}
			if want := CostPerRun(spec(t, tt.declared), 600); math.Abs(rec.CostBefore-want) > 1e-12 {
				t.Errorf("cost before %g, want %g", rec.CostBefore, want)
			}
		})
	}
}

func TestRecommendOOMGrowsMemory(t *testing.T) {
	rs := runs(6, []float64{0.4}, []float64{900, 1000})
	// The last run was killed at the 1 GiB it had: it needed more than any run shows.
	rs[5].OOMKilled, rs[5].PeakMemory = true, 1024*mib
	rec, err := Recommend(id, rs, spec(t, "0.5-1Gi"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	// had 1 GiB → max(1.2 GiB, 1 GiB + 100 MiB) = 1.2 GiB; plain max+15 % would be 1.125 GiB.
	if float64(rec.TargetMemoryBytes) < 1.2*gib || rec.Spec != spec(t, "0.5-2Gi") {
		t.Errorf("target %s spec %s, want ≥ 1.2Gi and 0.5-2Gi", FormatBytes(float64(rec.TargetMemoryBytes)), rec.Spec)
	}
	if rec.OOMKills != 1 {
		t.Errorf("OOMKills = %d", rec.OOMKills)
	}
}

func TestRecommendNoRecommendation(t *testing.T) {
	gappy := runs(8, []float64{0.5}, []float64{300})
	for i := range 4 {
		gappy[i].Coverage = 0.5
	}
	noCPU := runs(5, []float64{0.5}, []float64{300})
	noCPU[0].CPUSamples = 0
	tests := []struct {
		name                  string
		runs                  []Run
		usable, dropped, need int
	}{
		{"no runs", nil, 0, 0, 5},
		{"too few runs", runs(4, []float64{1}, []float64{100}), 4, 0, 5},
		{"runs with gaps are dropped", gappy, 4, 4, 5},
		{"a run too short for a CPU rate is dropped", noCPU, 4, 1, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := Recommend(id, tt.runs, eci.DefaultSpec, DefaultOptions())
			if rec != nil || !errors.Is(err, ErrTooFewRuns) {
				t.Fatalf("rec %v err %v, want ErrTooFewRuns", rec, err)
			}
			var few *TooFewRunsError
			if !errors.As(err, &few) || few.Usable != tt.usable || few.Dropped != tt.dropped || few.Need != tt.need {
				t.Errorf("got %+v, want usable %d dropped %d need %d", few, tt.usable, tt.dropped, tt.need)
			}
		})
	}
}

func TestRecommendTooLarge(t *testing.T) {
	_, err := Recommend(id, runs(5, []float64{70}, []float64{100}), eci.DefaultSpec, DefaultOptions())
	if err == nil || errors.Is(err, ErrTooFewRuns) {
		t.Fatalf("err = %v, want a too-large error", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, mutate := range []func(*Options){
		func(o *Options) { o.MinRuns = 0 },
		func(o *Options) { o.MinCoverage = 0 },
		func(o *Options) { o.CPUPercentile = 1.5 },
		func(o *Options) { o.OOMBumpRatio = 0.5 },
		func(o *Options) { o.MemoryMargin = -1 },
	} {
		o := DefaultOptions()
		mutate(&o)
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Error(err)
	}
}

func TestPercentile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3}
	for p, want := range map[float64]float64{0: 1, 0.5: 3, 0.95: 4.8, 1: 5, 0.25: 2} {
		if got := percentile(v, p); math.Abs(got-want) > 1e-9 {
			t.Errorf("p%g = %g, want %g", p, got, want)
		}
	}
	if v[0] != 5 {
		t.Error("percentile sorted its input")
	}
}

func TestFormatBytes(t *testing.T) {
	for b, want := range map[float64]string{512 * mib: "512Mi", 2.9 * gib: "2.9Gi", 2.91 * gib: "3Gi", 100: "1Mi", gib: "1Gi"} {
		if got := FormatBytes(b); got != want {
			t.Errorf("FormatBytes(%g) = %s, want %s", b, got, want)
		}
	}
}

func TestMeasureRun(t *testing.T) {
	step := 10 * time.Second
	start, end := t0, t0.Add(100*time.Second)
	var cpu, mem []Point
	for i := 0; i <= 12; i++ { // one point before the run and two after its end
		ts := start.Add(time.Duration(i-1) * step)
		if i == 5 || i == 6 { // a 20 s gap
			continue
		}
		cpu = append(cpu, Point{ts, float64(i) / 10})
		mem = append(mem, Point{ts, float64(i) * mib})
	}
	r := MeasureRun("p", start, end, step, cpu, mem)
	// Points at 0..100 s and 100 s+ <110 s: t = 0,10,20,30,(40,50 missing),60,..,100 → 9 points of 10 steps.
	if r.Coverage != 0.9 || r.PeakCPU != 1.1 || r.PeakMemory != 11*mib || r.CPUSamples != 9 {
		t.Errorf("got %+v", r)
	}
	if r.Seconds() != 100 {
		t.Errorf("seconds %g", r.Seconds())
	}
	short := MeasureRun("p", start, start.Add(3*time.Second), step, nil, []Point{{start.Add(5 * time.Second), 1}})
	if short.Coverage != 1 || short.CPUSamples != 0 {
		t.Errorf("short run: %+v", short)
	}
}
