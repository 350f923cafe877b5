package sizing

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/argo-eci/argo-eci/eci"
)

const (
	mib = 1 << 20
	gib = 1 << 30
)

// Run is what one run (one pod) of a template used.
type Run struct {
	Pod        string
	Start, End time.Time
	// PeakCPU is the highest CPU usage rate seen, in vCPU.
	PeakCPU float64
	// PeakMemory is the highest working set seen, in bytes.
	PeakMemory int64
	// Coverage is the share of the run's life covered by memory samples (0..1); CPUSamples counts
	// the CPU rate points (a rate needs two raw samples).
	Coverage   float64
	CPUSamples int
	// OOMKilled: the run was killed for memory, so PeakMemory is what it had, not what it needed.
	OOMKilled bool
}

// Seconds is the run's billed duration.
func (r Run) Seconds() float64 { return r.End.Sub(r.Start).Seconds() }

// Options are the algorithm's knobs; [DefaultOptions] documents the defaults.
type Options struct {
	MinRuns         int     // usable runs a template needs
	MinCoverage     float64 // share of a run's life its samples must cover
	CPUPercentile   float64 // percentile of per-run CPU peaks (0..1)
	CPUMargin       float64 // added on top of the CPU percentile
	MemoryMargin    float64 // added on top of the highest memory peak
	OOMBumpRatio    float64 // an OOMKilled run needed at least this × what it had
	OOMMinBumpBytes int64   // … and at least this much more
	// Bands splits the day into this many equal time-of-day bands (a divisor of 24; 0 or 1: none)
	// and learns each band with at least BandMinRuns runs on its own, for loads with a daily cycle.
	Bands int
	// BandMinRuns: usable runs a band needs (0: MinRuns).
	BandMinRuns int
	// TimeZone places the bands (nil: UTC).
	TimeZone *time.Location
}

// DefaultOptions: 5 runs, 80 % coverage, CPU p95 + 15 %, memory max + 15 %, OOM bump × 1.2 and
// at least 100 MiB (VPA's oomBumpUpRatio and oomMinBumpUp); no bands, and 10 runs for a band
// when bands are asked for (the highest of 5 runs underestimates a band's peak: in the replay
// benchmark that OOMKilled runs the whole-day recommendation did not).
func DefaultOptions() Options {
	return Options{MinRuns: 5, MinCoverage: 0.8, CPUPercentile: 0.95, CPUMargin: 0.15, MemoryMargin: 0.15,
		OOMBumpRatio: 1.2, OOMMinBumpBytes: 100 * mib, BandMinRuns: 10}
}

// Validate reports the first out-of-range option.
func (o Options) Validate() error {
	switch {
	case o.MinRuns < 1:
		return fmt.Errorf("min-runs: expected at least 1, got %d", o.MinRuns)
	case o.MinCoverage <= 0 || o.MinCoverage > 1:
		return fmt.Errorf("coverage: expected 0 < coverage ≤ 1, got %g", o.MinCoverage)
	case o.CPUPercentile <= 0 || o.CPUPercentile > 1:
		return fmt.Errorf("cpu percentile: expected 0 < p ≤ 1, got %g", o.CPUPercentile)
	case o.CPUMargin < 0 || o.MemoryMargin < 0 || o.OOMBumpRatio < 1 || o.OOMMinBumpBytes < 0:
		return errors.New("margins must be ≥ 0 and the OOM bump ratio ≥ 1")
	case o.BandMinRuns < 0:
		return fmt.Errorf("band min-runs: expected at least 0 (0: min-runs), got %d", o.BandMinRuns)
	case o.Bands < 0 || o.Bands > 24 || (o.Bands > 0 && 24%o.Bands != 0):
		return fmt.Errorf("bands: expected a divisor of 24 (1, 2, 3, 4, 6, 8, 12 or 24) or 0, got %d", o.Bands)
	}
	return nil
}

// Stats summarises per-run peaks.
type Stats struct{ P50, P95, Max float64 }

// Recommendation is the learned spec of one template, with its evidence.
type Recommendation struct {
	Identity Identity
	// Runs used; Dropped were left out for gaps; OOMKills among all runs.
	Runs, Dropped, OOMKills int
	From, To                time.Time // first start and last end of the usable runs
	CPU                     Stats     // vCPU
	Memory                  Stats     // bytes
	// TargetMilliCPU and TargetMemoryBytes are the need before rounding to a spec.
	TargetMilliCPU    int64
	TargetMemoryBytes int64
	Spec, Declared    eci.Spec
	MeanSeconds       float64
	// CostBefore and CostAfter are CNY per run at list price for the declared and learned spec.
	CostBefore, CostAfter float64
	Reason                string
	// TimeZone and Bands: the recommendations of the time-of-day bands that had enough runs of
	// their own (Options.Bands), when at least one of them differs from the whole template's.
	TimeZone *time.Location
	Bands    []Band
}

// ErrTooFewRuns: the template has fewer usable runs than Options.MinRuns (see [TooFewRunsError]).
var ErrTooFewRuns = errors.New("too few runs")

// TooFewRunsError says how many runs a template had and why it gets no recommendation.
type TooFewRunsError struct {
	Usable, Dropped, Need int
}

func (e *TooFewRunsError) Error() string {
	s := fmt.Sprintf("%d usable runs, need %d", e.Usable, e.Need)
	if e.Dropped > 0 {
		s += fmt.Sprintf(" (%d more dropped: gaps in their usage series)", e.Dropped)
	}
	return s
}

// Is makes errors.Is(err, ErrTooFewRuns) true.
func (e *TooFewRunsError) Is(target error) bool { return target == ErrTooFewRuns }

// Recommend learns the spec for id from its runs; declared is the spec the template is billed for
// today. The error is a *TooFewRunsError when too few runs are usable.
// With Options.Bands, each band of the day with enough runs of its own is learned on its own too.
func Recommend(id Identity, runs []Run, declared eci.Spec, o Options) (*Recommendation, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	rec, err := recommend(id, runs, declared, o, nil)
	if err != nil {
		return nil, err
	}
	if o.Bands > 1 {
		rec.TimeZone = o.zone()
		rec.Bands = recommendBands(id, runs, declared, o, rec)
	}
	return rec, nil
}

// bandLimits bound the targets of a band (see recommendBands).
type bandLimits struct {
	scope    string          // goes into the reason, e.g. " started 06:00–12:00 UTC"
	memFloor float64         // the memory target is at least this
	whole    *Recommendation // neither target is above the whole template's
}

// recommend learns one spec from runs, of the whole template (band nil) or of one band.
func recommend(id Identity, runs []Run, declared eci.Spec, o Options, band *bandLimits) (*Recommendation, error) {
	rec := &Recommendation{Identity: id, Declared: declared}
	var cpu, mem []float64
	var oomNeed float64
	var seconds float64
	for _, r := range runs {
		if r.OOMKilled {
			rec.OOMKills++
			had := math.Max(float64(r.PeakMemory), float64(declared.MemoryMiB)*mib)
			oomNeed = math.Max(oomNeed, math.Max(had*o.OOMBumpRatio, had+float64(o.OOMMinBumpBytes)))
		}
		if r.Coverage < o.MinCoverage || r.CPUSamples == 0 || r.End.Before(r.Start) {
			rec.Dropped++
			continue
		}
		cpu, mem = append(cpu, r.PeakCPU), append(mem, float64(r.PeakMemory))
		seconds += r.Seconds()
		if rec.From.IsZero() || r.Start.Before(rec.From) {
			rec.From = r.Start
		}
		if r.End.After(rec.To) {
			rec.To = r.End
		}
	}
	rec.Runs = len(cpu)
	if rec.Runs < o.MinRuns {
		return nil, &TooFewRunsError{Usable: rec.Runs, Dropped: rec.Dropped, Need: o.MinRuns}
	}
	rec.CPU, rec.Memory = summarise(cpu), summarise(mem)
	cpuTarget := math.Max(percentile(cpu, o.CPUPercentile)*(1+o.CPUMargin), rec.CPU.Max)
	memTarget := math.Max(rec.Memory.Max*(1+o.MemoryMargin), oomNeed)
	scope := ""
	if band != nil {
		scope = band.scope
		cpuTarget = math.Min(cpuTarget, float64(band.whole.TargetMilliCPU)/1000)
		memTarget = math.Min(math.Max(memTarget, band.memFloor), float64(band.whole.TargetMemoryBytes))
	}
	rec.TargetMilliCPU = int64(math.Ceil(cpuTarget * 1000))
	rec.TargetMemoryBytes = int64(math.Ceil(memTarget))
	spec, ok := eci.Cheapest(rec.TargetMilliCPU, ceilDiv(rec.TargetMemoryBytes, mib))
	if !ok {
		return nil, fmt.Errorf("%s: needs %s vCPU / %s, more than any ECI spec", id, formatCPU(cpuTarget), FormatBytes(memTarget))
	}
	rec.Spec = spec
	rec.MeanSeconds = seconds / float64(rec.Runs)
	rec.CostBefore, rec.CostAfter = CostPerRun(declared, rec.MeanSeconds), CostPerRun(spec, rec.MeanSeconds)
	rec.Reason = fmt.Sprintf("learned from %d runs%s: p%d %s vCPU / max %s → %s", rec.Runs, scope,
		int(math.Round(o.CPUPercentile*100)), formatCPU(percentile(cpu, o.CPUPercentile)), FormatBytes(rec.Memory.Max), spec)
	if rec.OOMKills > 0 {
		rec.Reason += fmt.Sprintf(" (%d OOMKilled: memory grown)", rec.OOMKills)
	}
	return rec, nil
}

// CostPerRun is the list price in CNY of running spec for seconds (0 for ECS instance types).
func CostPerRun(spec eci.Spec, seconds float64) float64 {
	p, _ := spec.HourlyPrice()
	return p / 3600 * seconds
}

func summarise(v []float64) Stats {
	return Stats{P50: percentile(v, 0.5), P95: percentile(v, 0.95), Max: percentile(v, 1)}
}

// percentile interpolates linearly between the closest ranks (numpy's default); v must be non-empty.
func percentile(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	pos := p * float64(len(s)-1)
	lo := int(math.Floor(pos))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (s[lo+1]-s[lo])*(pos-float64(lo))
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func formatCPU(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

// FormatBytes renders a memory amount the way people read it: "512Mi", "2.9Gi".
func FormatBytes(b float64) string {
	if b < gib {
		return strconv.FormatFloat(math.Ceil(b/mib), 'f', -1, 64) + "Mi"
	}
	return strconv.FormatFloat(math.Ceil(b/gib*10)/10, 'f', -1, 64) + "Gi"
}

// GrowAfterOOM is the spec for the next attempt of a pod that was OOMKilled on spec s: memory grown
// by VPA's OOM bump (× OOMBumpRatio, at least + OOMMinBumpBytes), CPU kept, rounded to the cheapest
// covering spec. ok is false for ECS instance types and when nothing in the catalog is larger.
func GrowAfterOOM(s eci.Spec, o Options) (eci.Spec, bool) {
	if s.IsInstanceType() || s.MemoryMiB <= 0 {
		return eci.Spec{}, false
	}
	had := float64(s.MemoryMiB) * mib
	need := math.Max(had*o.OOMBumpRatio, had+float64(o.OOMMinBumpBytes))
	return eci.Cheapest(s.MilliCPU, ceilDiv(int64(math.Ceil(need)), mib))
}
