package sizing

import (
	"strings"
	"testing"
	"time"
)

// dailyRuns builds runs every hour for days days; a run's CPU and memory are day's when it starts
// at UTC hours 6–17, night's otherwise.
func dailyRuns(days int, dayCPU, nightCPU, dayMiB, nightMiB float64) []Run {
	var out []Run
	for h := 0; h < days*24; h++ {
		start := t0.Add(time.Duration(h) * time.Hour)
		cpu, mem := nightCPU, nightMiB
		if hour := start.Hour(); hour >= 6 && hour < 18 {
			cpu, mem = dayCPU, dayMiB
		}
		out = append(out, Run{Pod: "p", Start: start, End: start.Add(10 * time.Minute), PeakCPU: cpu,
			PeakMemory: int64(mem * mib), Coverage: 1, CPUSamples: 20})
	}
	return out
}

func bandOptions(n int) Options {
	o := DefaultOptions()
	o.Bands = n
	return o
}

func TestRecommendBands(t *testing.T) {
	rec, err := Recommend(id, dailyRuns(3, 3, 0.4, 6000, 1000), spec(t, "8-16Gi"), bandOptions(4))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Spec != spec(t, "4-8Gi") {
		t.Errorf("whole spec %s, want 4-8Gi (the busiest run decides)", rec.Spec)
	}
	// 00–06 and 18–24: quiet (1000Mi × 1.15 = 1150Mi, but never below the busy neighbour's 6000Mi
	// peak); 06–18: busy.
	want := []struct {
		from, to int
		spec     string
	}{{0, 6, "1-8Gi"}, {6, 12, "4-8Gi"}, {12, 18, "4-8Gi"}, {18, 24, "1-8Gi"}}
	if len(rec.Bands) != len(want) {
		t.Fatalf("%d bands, want %d: %+v", len(rec.Bands), len(want), rec.Bands)
	}
	for i, w := range want {
		b := rec.Bands[i]
		if b.FromHour != w.from || b.ToHour != w.to || b.Spec != spec(t, w.spec) || b.Runs != 18 {
			t.Errorf("band %d: %02d–%02d %s from %d runs, want %02d–%02d %s from 18", i, b.FromHour, b.ToHour, b.Spec, b.Runs, w.from, w.to, w.spec)
		}
	}
	if r := rec.Bands[0].Reason; r != "learned from 18 runs started 00:00–06:00 UTC: p95 0.4 vCPU / max 1000Mi → 1-8Gi" {
		t.Errorf("band reason %q", r)
	}
	if rec.Reason != "learned from 72 runs: p95 3 vCPU / max 5.9Gi → 4-8Gi" {
		t.Errorf("whole reason %q", rec.Reason)
	}
	for hour, want := range map[int]string{3: "1-8Gi", 7: "4-8Gi", 23: "1-8Gi"} {
		if got := rec.At(t0.Add(time.Duration(hour) * time.Hour)).Spec; got != spec(t, want) {
			t.Errorf("At(%02d:00) = %s, want %s", hour, got, want)
		}
	}
	if got := rec.At(time.Time{}); got != rec {
		t.Errorf("At(zero time) = %s, want the whole template's", got.Spec)
	}
}

// The quiet band's memory is never below what the bands either side of it saw: a run started
// at 05:59 does what the 06:00 runs do.
func TestRecommendBandsNeighbourMemory(t *testing.T) {
	rec, err := Recommend(id, dailyRuns(3, 0.4, 0.4, 6000, 1000), spec(t, "8-16Gi"), bandOptions(4))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Bands != nil {
		t.Fatalf("bands %+v, want none: every band needs the busy neighbour's 6000Mi", rec.Bands)
	}
	rec, err = Recommend(id, dailyRuns(3, 0.4, 0.4, 6000, 1000), spec(t, "8-16Gi"), bandOptions(8))
	if err != nil {
		t.Fatal(err)
	}
	// 8 bands of 3 h: 00–03 and 21–24 have only quiet neighbours, so they learn 1150Mi → 0.5-2Gi;
	// 03–06 and 18–21 border the busy hours and keep 6000Mi.
	for _, b := range rec.Bands {
		if float64(b.Spec.MemoryMiB) < 6000 && (b.FromHour == 3 || b.FromHour == 18) {
			t.Errorf("band %02d–%02d: %s below the neighbour's 6000Mi peak", b.FromHour, b.ToHour, b.Spec)
		}
		if (b.FromHour == 0 || b.FromHour == 21) && b.Spec != spec(t, "0.5-2Gi") {
			t.Errorf("band %02d–%02d: %s, want 0.5-2Gi", b.FromHour, b.ToHour, b.Spec)
		}
	}
}

func TestRecommendBandsTooFewRuns(t *testing.T) {
	// One day of hourly runs: 6 runs per band of 6 h, fewer than the 10 a band needs by default;
	// with BandMinRuns 5 they are enough, and BandMinRuns 0 means MinRuns.
	rs := dailyRuns(1, 3, 0.4, 1000, 1000)
	for _, tt := range []struct {
		bandMin, minRuns, want int
	}{{10, 5, 0}, {5, 5, 4}, {0, 5, 4}, {0, 7, 0}} {
		o := bandOptions(4)
		o.BandMinRuns, o.MinRuns = tt.bandMin, tt.minRuns
		rec, err := Recommend(id, rs, spec(t, "8-16Gi"), o)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Bands) != tt.want {
			t.Errorf("band min-runs %d, min-runs %d: %d bands from 6 runs each, want %d", tt.bandMin, tt.minRuns, len(rec.Bands), tt.want)
		}
	}
	// Three days of quiet nights, and busy runs only at 06:00–09:00 of the first day: 4 runs in
	// 06–12 (too few) and none in 12–18. Those hours keep the whole template's spec.
	rs = nil
	for _, r := range dailyRuns(3, 3, 0.4, 1000, 1000) {
		if h := r.Start.Hour(); h < 6 || h >= 18 || (r.Start.Day() == t0.Day() && h < 10) {
			rs = append(rs, r)
		}
	}
	rec, err := Recommend(id, rs, spec(t, "8-16Gi"), bandOptions(4))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Bands) != 2 || rec.Bands[0].FromHour != 0 || rec.Bands[1].FromHour != 18 {
		t.Fatalf("bands %+v, want 00–06 and 18–24 only", rec.Bands)
	}
	if got := rec.At(t0.Add(7 * time.Hour)); got != rec || got.Spec.MilliCPU < 3000 {
		t.Errorf("07:00 (4 runs in its band): %s, want the whole template's", got.Spec)
	}
	if got := rec.At(t0.Add(13 * time.Hour)); got != rec {
		t.Errorf("13:00 (no runs in its band): %s, want the whole template's", got.Spec)
	}
	if got := rec.At(t0.Add(2 * time.Hour)).Spec; got.MilliCPU > 1000 {
		t.Errorf("02:00: %s, want the quiet band's", got)
	}
}

func TestRecommendBandsTimeZone(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	o := bandOptions(4)
	o.TimeZone = shanghai
	// Busy at UTC 06–18 is busy at 14–02 in Shanghai (UTC+8): of the Shanghai bands only 06–12
	// holds quiet runs alone.
	rec, err := Recommend(id, dailyRuns(3, 3, 0.4, 1000, 1000), spec(t, "8-16Gi"), o)
	if err != nil {
		t.Fatal(err)
	}
	if rec.TimeZone != shanghai || len(rec.Bands) != 4 {
		t.Fatalf("time zone %v, %d bands", rec.TimeZone, len(rec.Bands))
	}
	if b := rec.Bands[0]; !strings.Contains(b.Reason, "started 00:00–06:00 Asia/Shanghai") {
		t.Errorf("reason %q", b.Reason)
	}
	// 02:00 UTC is 10:00 in Shanghai (quiet band 06–12), 08:00 UTC is 16:00 (busy).
	if got := rec.At(t0.Add(2 * time.Hour)).Spec; got.MilliCPU > 1000 {
		t.Errorf("10:00 Shanghai: %s, want the quiet spec", got)
	}
	if got := rec.At(t0.Add(8 * time.Hour)).Spec; got.MilliCPU < 3000 {
		t.Errorf("16:00 Shanghai: %s, want the busy spec", got)
	}
}

func TestOptionsValidateBands(t *testing.T) {
	for _, n := range []int{-1, 5, 7, 25} {
		if err := bandOptions(n).Validate(); err == nil || !strings.Contains(err.Error(), "bands") {
			t.Errorf("bands %d: %v", n, err)
		}
	}
	o := bandOptions(4)
	o.BandMinRuns = -1
	if err := o.Validate(); err == nil {
		t.Error("band min-runs -1 accepted")
	}
	for _, n := range []int{0, 1, 2, 3, 4, 6, 8, 12, 24} {
		if err := bandOptions(n).Validate(); err != nil {
			t.Errorf("bands %d: %v", n, err)
		}
	}
}

// A band's targets never exceed the whole template's, which already covers each of its runs: the
// busy hour's p95 + 15 % (2.07 vCPU) would need 4 vCPU, the whole template's max (1.8) needs 2.
func TestRecommendBandsNotAboveWhole(t *testing.T) {
	var rs []Run
	for _, r := range dailyRuns(10, 0.4, 0.4, 1000, 1000) {
		if r.Start.Hour() == 12 {
			r.PeakCPU = 1.8
		}
		rs = append(rs, r)
	}
	rec, err := Recommend(id, rs, spec(t, "8-16Gi"), bandOptions(24))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Spec != spec(t, "2-2Gi") || len(rec.Bands) != 24 {
		t.Fatalf("whole %s with %d bands, want 2-2Gi with 24", rec.Spec, len(rec.Bands))
	}
	if b := rec.Bands[12]; b.Spec != rec.Spec || b.TargetMilliCPU != 1800 {
		t.Errorf("busy hour: %s (target %dm), want the whole template's %s", b.Spec, b.TargetMilliCPU, rec.Spec)
	}
	if b := rec.Bands[3]; b.Spec != spec(t, "0.5-2Gi") {
		t.Errorf("quiet hour: %s, want 0.5-2Gi", b.Spec)
	}
}
