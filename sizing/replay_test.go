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

func replay(seed uint64, o Options, burstCPU, burstMem float64) replayResult {
	rng := rand.New(rand.NewPCG(seed, 0))
	tmpls := replayTemplates(rng)
	const every, days, window = 2 * time.Hour, 28, 14 * 24 * time.Hour
	var res replayResult
	for ti, tm := range tmpls {
		var history []Run
		learned, learnedOn := eci.Spec{}, time.Time{}
		for at := t0; at.Before(t0.Add(days * 24 * time.Hour)); at = at.Add(every) {
			if day := at.Truncate(24 * time.Hour); day.After(learnedOn) {
				learned, learnedOn = relearn(history, at.Add(-window), tm.declared, o, ti), day
			}
			phase := 2 * math.Pi * float64(at.Sub(t0)) / float64(24*time.Hour)
			level := 1 + 0.4*(2*rng.Float64()-1) + 0.2*math.Sin(phase)
			run := Run{Pod: "p", Start: at, End: at.Add(time.Duration(tm.seconds) * time.Second),
				PeakCPU: burstCPU * level * tm.cpu, PeakMemory: int64(burstMem * level * tm.memMiB * mib), Coverage: 1, CPUSamples: 10}
			res.runs++
			res.declaredCNY += CostPerRun(tm.declared, tm.seconds)
			use := tm.declared
			if learned != (eci.Spec{}) {
				use = learned
			}
			if run.PeakCPU*1000 > float64(use.MilliCPU) {
				res.starved++
			}
			if run.PeakMemory > use.MemoryMiB*mib {
				res.oom++
				res.learnedCNY += CostPerRun(use, tm.seconds/2)
				killed := run
				killed.OOMKilled, killed.PeakMemory = true, use.MemoryMiB*mib
				history = append(history, killed)
				use, _ = GrowAfterOOM(use, o)
			}
			res.learnedCNY += CostPerRun(use, tm.seconds)
			if !run.OOMKilled {
				history = append(history, run)
			}
		}
	}
	return res
}

// relearn recommends from the runs that started after since; the zero Spec means "none yet".
func relearn(history []Run, since time.Time, declared eci.Spec, o Options, ti int) eci.Spec {
	i := sort.Search(len(history), func(i int) bool { return !history[i].Start.Before(since) })
	rec, err := Recommend(Identity{"replay", OwnerWorkflow, "t", "t"}, history[i:], declared, o)
	if err != nil {
		return eci.Spec{}
	}
	return rec.Spec
}

func (r replayResult) ratio() float64        { return r.learnedCNY / r.declaredCNY }
func (r replayResult) oomShare() float64     { return float64(r.oom) / float64(r.runs) }
func (r replayResult) starvedShare() float64 { return float64(r.starved) / float64(r.runs) }

// TestReplay: learned specs never OOMKill more than 1 % of runs and cost well under the declared
// ones. The stated goal is ≤ 0.5 × declared; this model's floor for a spec that never goes below the
// observed max is 1.6 × 1.15 / 3.5 ≈ 0.53 before rounding to the catalog, so the guard is 0.6.
func TestReplay(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		r := replay(seed, DefaultOptions(), 1, 1)
		t.Logf("seed %d: %d runs, cost learned/declared %.3f (%.0f / %.0f CNY), OOMKilled %.2f %%, CPU-starved %.2f %%",
			seed, r.runs, r.ratio(), r.learnedCNY, r.declaredCNY, 100*r.oomShare(), 100*r.starvedShare())
		if r.ratio() > 0.6 || r.oomShare() > 0.01 {
			t.Errorf("seed %d: cost ratio %.3f (guard ≤ 0.6), OOM share %.4f (goal ≤ 0.01)", seed, r.ratio(), r.oomShare())
		}
	}
}

// BenchmarkReplay reports, over seeds 1–3, the replay's billed cost with learned specs relative to
// declared specs and the shares of OOMKilled and CPU-starved runs: with the defaults, with lighter
// margins, and with in-run bursts (CPU peaks 1.25 × and memory 1.1 × the run's mean use).
//
//	go test -run '^$' -bench Replay -benchtime 1x ./sizing/
func BenchmarkReplay(b *testing.B) {
	for _, v := range []struct {
		name                  string
		opts                  func(*Options)
		burstCPU, burstMemory float64
	}{
		{"defaults", func(*Options) {}, 1, 1},
		{"cpu-p90-no-margin,memory-max+5%", func(o *Options) { o.CPUPercentile, o.CPUMargin, o.MemoryMargin = 0.9, 0, 0.05 }, 1, 1},
		{"memory-max-no-margin", func(o *Options) { o.MemoryMargin = 0 }, 1, 1},
		{"defaults,in-run-bursts", func(*Options) {}, 1.25, 1.1},
	} {
		b.Run(v.name, func(b *testing.B) {
			o := DefaultOptions()
			v.opts(&o)
			var total replayResult
			for i := 0; i < b.N; i++ {
				total = replayResult{}
				for seed := uint64(1); seed <= 3; seed++ {
					r := replay(seed, o, v.burstCPU, v.burstMemory)
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
