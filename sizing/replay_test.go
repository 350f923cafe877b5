package sizing

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/argo-eci/argo-eci/eci"
)

// The replay: a synthetic history fed through the same algorithm recommend uses.
//
// 20 templates; each declares ≈ 3.5 × its mean use (CPU and memory, rounded up as ECI bills) and runs
// every 2 hours for 28 days. A run's use is the template's mean × (1 + 0.4·u + 0.2·sin(2π·t/24h)),
// u uniform in [-1, 1]: ±60 % between runs, a third of it a daily cycle. Within a run, CPU peaks at
// 1.25 × that level and memory at 1.1 ×. Once a day the recommendations are relearned from the last
// 14 days (at least 5 runs, as recommend does); runs use the learned spec when there is one, else the
// declared one. A run whose memory peak exceeds its spec is OOMKilled: it is billed for half its time,
// enters the history as OOMKilled and is retried with GrowAfterOOM's spec. A run whose CPU peak
// exceeds its spec is counted as CPU-starved (it would run slower; its cost is not adjusted).
type replayResult struct {
	declaredCNY, learnedCNY float64
	runs, oom, starved      int
}

type replayTemplate struct {
	cpu, memMiB, seconds float64
	declared             eci.Spec
}

func replayTemplates(rng *rand.Rand) []replayTemplate {
	out := make([]replayTemplate, 20)
	for i := range out {
		t := replayTemplate{
			cpu:     0.2 + rng.Float64()*3.8,
			memMiB:  256 + rng.Float64()*(8192-256),
			seconds: 60 + rng.Float64()*1740,
		}
		t.declared, _ = eci.RoundUp(int64(math.Ceil(3.5*t.cpu*1000)), int64(math.Ceil(3.5*t.memMiB)))
		out[i] = t
	}
	return out
}

// replayLoad shapes the synthetic load: in-run bursts, start-time jitter (runs start up to ±jitter
// around their slot) and the hour of the daily cycle's peak relative to the bands' time zone.
type replayLoad struct {
	burstCPU, burstMemory float64
	jitter                time.Duration
	peakHour              float64
}

var steadyLoad = replayLoad{burstCPU: 1, burstMemory: 1, peakHour: 6}

func replay(seed uint64, o Options, load replayLoad) replayResult {
	rng := rand.New(rand.NewPCG(seed, 0))
	tmpls := replayTemplates(rng)
	const every, days, window = 2 * time.Hour, 28, 14 * 24 * time.Hour
	var res replayResult
	for _, tm := range tmpls {
		var history []Run
		var learned *Table
		learnedOn := time.Time{}
		for slot := t0; slot.Before(t0.Add(days * 24 * time.Hour)); slot = slot.Add(every) {
			if day := slot.Truncate(24 * time.Hour); day.After(learnedOn) {
				learned, learnedOn = relearn(history, slot.Add(-window), tm.declared, o), day
			}
			at := slot
			if load.jitter > 0 {
				at = at.Add(time.Duration((2*rng.Float64() - 1) * float64(load.jitter)))
			}
			hours := float64(at.Sub(t0)) / float64(time.Hour)
			level := 1 + 0.4*(2*rng.Float64()-1) + 0.2*math.Sin(2*math.Pi*(hours-load.peakHour+6)/24)
			run := Run{Pod: "p", Start: at, End: at.Add(time.Duration(tm.seconds) * time.Second),
				PeakCPU: load.burstCPU * level * tm.cpu, PeakMemory: int64(load.burstMemory * level * tm.memMiB * mib), Coverage: 1, CPUSamples: 10}
			use := tm.declared
			if l, ok := learned.LookupAt(replayID, at); ok {
				use = l.Spec
			}
			history = res.bill(history, run, use, tm.seconds, CostPerRun(tm.declared, tm.seconds), o)
		}

	}
	return res
}

// bill runs one run on spec use, counts it and returns the history with it (and its OOMKilled
// attempt, after which it is retried with GrowAfterOOM's spec).
func (res *replayResult) bill(history []Run, run Run, use eci.Spec, seconds, declaredCNY float64, o Options) []Run {
	res.runs++
	res.declaredCNY += declaredCNY
	if run.PeakCPU*1000 > float64(use.MilliCPU) {
		res.starved++
	}
	if run.PeakMemory > use.MemoryMiB*mib {
		res.oom++
		res.learnedCNY += CostPerRun(use, seconds/2)
		killed := run
		killed.OOMKilled, killed.PeakMemory = true, use.MemoryMiB*mib
		history = append(history, killed)
		use, _ = GrowAfterOOM(use, o)
	}
	res.learnedCNY += CostPerRun(use, seconds)
	return append(history, run)
}

var replayID = Identity{"replay", OwnerWorkflow, "t", "t"}

// relearn recommends from the runs that started after since and stores the result as
// recommend --apply does; nil means "none yet".
func relearn(history []Run, since time.Time, declared eci.Spec, o Options) *Table {
	sort.Slice(history, func(i, j int) bool { return history[i].Start.Before(history[j].Start) })
	i := sort.Search(len(history), func(i int) bool { return !history[i].Start.Before(since) })
	rec, err := Recommend(replayID, history[i:], declared, o)
	if err != nil {
		return nil
	}
	data, err := EncodeConfigMapData([]Entry{EntryOf(rec)})
	if err != nil {
		panic(err)
	}
	table, err := ParseConfigMapData(data)
	if err != nil {
		panic(err)
	}
	return table
}

func (r replayResult) ratio() float64        { return r.learnedCNY / r.declaredCNY }
func (r replayResult) oomShare() float64     { return float64(r.oom) / float64(r.runs) }
func (r replayResult) starvedShare() float64 { return float64(r.starved) / float64(r.runs) }

// TestReplay: learned specs never OOMKill more than 1 % of runs and cost well under the declared
// ones. The stated goal is ≤ 0.5 × declared; this model's floor for a spec that never goes below the
// observed max is 1.6 × 1.15 / 3.5 ≈ 0.53 before rounding to the catalog, so the guard is 0.6.
// Learning 4 time-of-day bands of the daily cycle costs less than learning the whole day, with
// OOMKills still within 1 %.
func TestReplay(t *testing.T) {
	var whole, banded replayResult
	for seed := uint64(1); seed <= 3; seed++ {
		r := replay(seed, DefaultOptions(), steadyLoad)
		rb := replay(seed, bandOptions(4), steadyLoad)
		for _, v := range []struct {
			name string
			r    replayResult
		}{{"whole day", r}, {"4 bands", rb}} {
			t.Logf("seed %d, %s: %d runs, cost learned/declared %.3f (%.0f / %.0f CNY), OOMKilled %.3f %%, CPU-starved %.3f %%",
				seed, v.name, v.r.runs, v.r.ratio(), v.r.learnedCNY, v.r.declaredCNY, 100*v.r.oomShare(), 100*v.r.starvedShare())
			if v.r.ratio() > 0.6 || v.r.oomShare() > 0.01 {
				t.Errorf("seed %d, %s: cost ratio %.3f (guard ≤ 0.6), OOM share %.4f (goal ≤ 0.01)", seed, v.name, v.r.ratio(), v.r.oomShare())
			}
		}
		whole.learnedCNY, whole.declaredCNY = whole.learnedCNY+r.learnedCNY, whole.declaredCNY+r.declaredCNY
		banded.learnedCNY, banded.declaredCNY = banded.learnedCNY+rb.learnedCNY, banded.declaredCNY+rb.declaredCNY
	}
	if banded.ratio() >= whole.ratio() {
		t.Errorf("4 bands cost %.4f of declared, the whole day %.4f: bands should cost less", banded.ratio(), whole.ratio())
	}
}

// BenchmarkReplay reports, over seeds 1–3, the replay's billed cost with learned specs relative to
// declared specs and the shares of OOMKilled and CPU-starved runs: with the defaults, with lighter
// margins, with in-run bursts (CPU peaks 1.25 × and memory 1.1 × the run's mean use), and with
// time-of-day bands (also with start times jittered by ±1 h and a cycle peaking mid-band).
//
//	go test -run '^$' -bench Replay -benchtime 1x ./sizing/
func BenchmarkReplay(b *testing.B) {
	bursts := replayLoad{burstCPU: 1.25, burstMemory: 1.1, peakHour: 6}
	jittered := steadyLoad
	jittered.jitter = time.Hour
	bands := func(n int) func(*Options) { return func(o *Options) { o.Bands = n } }
	for _, v := range []struct {
		name string
		opts func(*Options)
		load replayLoad
	}{
		{"defaults", func(*Options) {}, steadyLoad},
		{"cpu-p90-no-margin,memory-max+5%", func(o *Options) { o.CPUPercentile, o.CPUMargin, o.MemoryMargin = 0.9, 0, 0.05 }, steadyLoad},
		{"memory-max-no-margin", func(o *Options) { o.MemoryMargin = 0 }, steadyLoad},
		{"defaults,in-run-bursts", func(*Options) {}, bursts},
		{"defaults,jitter-1h", func(*Options) {}, jittered},
		{"bands-4", bands(4), steadyLoad},
		{"bands-4,band-min-runs-5", func(o *Options) { o.Bands, o.BandMinRuns = 4, 5 }, steadyLoad},
		{"bands-6", bands(6), steadyLoad},
		{"bands-8", bands(8), steadyLoad},
		{"bands-12", bands(12), steadyLoad},
		{"bands-12,band-min-runs-5", func(o *Options) { o.Bands, o.BandMinRuns = 12, 5 }, steadyLoad},
		{"bands-4,jitter-1h", bands(4), jittered},
		{"bands-8,jitter-1h", bands(8), jittered},
		{"bands-4,peak-at-9h", bands(4), replayLoad{burstCPU: 1, burstMemory: 1, peakHour: 9}},
		{"bands-4,in-run-bursts", bands(4), bursts},
	} {
		b.Run(v.name, func(b *testing.B) {
			o := DefaultOptions()
			v.opts(&o)
			var total replayResult
			for i := 0; i < b.N; i++ {
				total = replayResult{}
				for seed := uint64(1); seed <= 3; seed++ {
					r := replay(seed, o, v.load)
					total.declaredCNY += r.declaredCNY
					total.learnedCNY += r.learnedCNY
					total.runs += r.runs
					total.oom += r.oom
					total.starved += r.starved
				}
			}
			b.ReportMetric(total.ratio(), "cost-learned/declared")
			b.ReportMetric(100*total.oomShare(), "%OOMKilled")
			b.ReportMetric(100*total.starvedShare(), "%CPU-starved")
			b.ReportMetric(float64(total.runs), "runs")
		})
	}
}
