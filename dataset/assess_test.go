package dataset

import (
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	"github.com/fluid-cloudnative/fluid/pkg/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func boundDataset(pct string) *fluidv1.Dataset {
	return &fluidv1.Dataset{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Status: fluidv1.DatasetStatus{
		Phase: fluidv1.BoundDatasetPhase, UfsTotal: "10.00GiB",
		CacheStates: common.CacheStateList{common.Cached: "5.70GiB", common.CachedPercentage: pct, common.CacheCapacity: "120.00GiB"},
	}}
}

func dataLoad(phase common.Phase, cond common.ConditionType, at time.Time, msg string) *fluidv1.DataLoad {
	dl := &fluidv1.DataLoad{ObjectMeta: metav1.ObjectMeta{Name: "data-warm-1", CreationTimestamp: metav1.NewTime(t0)},
		Status: fluidv1.OperationStatus{Phase: phase, Duration: "Unfinished"}}
	if cond != "" {
		dl.Status.Duration = "2m0s"
		dl.Status.Conditions = []fluidv1.Condition{{Type: cond, Status: "True", Message: msg, LastTransitionTime: metav1.NewTime(at)}}
	}
	return dl
}

func TestAssess(t *testing.T) {
	spec := &Spec{Name: "data", Timeout: "30m"}
	failShort := &Spec{Name: "data", Timeout: "30m", OnCacheShort: CacheShortFail}
	subset := &Spec{Name: "data", Timeout: "30m", Load: Load{Paths: []string{"/train"}}}
	// Fluid copies the loader Job's finish time into Complete: here it is long before the plugin
	// first sees Complete (t0+10m), which must not shorten the settle window.
	jobDone := t0.Add(2 * time.Minute)
	complete := dataLoad(common.PhaseComplete, common.Complete, jobDone, "")
	seen := t0.Add(10 * time.Minute)
	emptyPct := boundDataset("")
	nothing := boundDataset("0.0%")
	nothing.Status.CacheStates[common.Cached] = "0.00B"
	smallCache := boundDataset("10.0%")
	smallCache.Status.CacheStates[common.CacheCapacity] = "6.00GiB"
	notBound := &fluidv1.Dataset{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Status: fluidv1.DatasetStatus{Phase: fluidv1.NotBoundDatasetPhase}}
	cases := []struct {
		name      string
		spec      *Spec
		dl        *fluidv1.DataLoad
		ds        *fluidv1.Dataset
		now       time.Time
		refreshed bool
		phase     wfv1.NodePhase
		contains  string
	}{
		{"executing shows the percentage", spec, dataLoad(common.PhaseExecuting, "", time.Time{}, ""), boundDataset("42.5%"), t0.Add(time.Minute), false,
			wfv1.NodeRunning, "Executing: 42.5% of Dataset data cached"},
		{"complete and full", spec, complete, boundDataset("100.0%"), seen, false, wfv1.NodeSucceeded, "Complete: 5.70GiB (100.0%)"},
		{"short: settle counts from first sight, not the Job's finish", spec, complete, boundDataset("57.0%"), seen.Add(5 * time.Second), false,
			wfv1.NodeRunning, "waiting up to 2m0s for Fluid's next cache-state refresh"},
		{"short after a refresh newer than Complete: warning", spec, complete, boundDataset("57.0%"), seen.Add(5 * time.Second), true,
			wfv1.NodeSucceeded, "warning: DataLoad data-warm-1 is Complete but only 57.0%"},
		{"short after the settle window: warning", spec, complete, boundDataset("57.0%"), seen.Add(3 * time.Minute), false,
			wfv1.NodeSucceeded, "warning:"},
		{"short with onCacheShort fail", failShort, complete, boundDataset("57.0%"), seen.Add(3 * time.Minute), false,
			wfv1.NodeFailed, "below minCachedPercentage 100"},
		{"cachedPercentage empty while ufsTotal is calculated", spec, complete, emptyPct, seen.Add(3 * time.Minute), false,
			wfv1.NodeSucceeded, "could not be verified"},
		{"subset load with nothing cached is not waved through", subset, complete, nothing, seen.Add(3 * time.Minute), false,
			wfv1.NodeSucceeded, "warning: DataLoad data-warm-1 is Complete but Dataset data reports nothing cached after loading /train"},
		{"subset load with data cached", subset, complete, boundDataset("12.0%"), seen, false, wfv1.NodeSucceeded, "Complete"},
		{"cache capacity below the minimum fails early", spec, dataLoad(common.PhaseExecuting, "", time.Time{}, ""), smallCache, t0.Add(time.Minute), false,
			wfv1.NodeFailed, "holds 6.00GiB (cacheCapacity) but minCachedPercentage 100 of ufsTotal 10.00GiB needs 10.00GiB"},
		{"Executing with the cache full waits for Fluid's Complete", spec, dataLoad(common.PhaseExecuting, "", time.Time{}, ""), boundDataset("100.0%"), t0.Add(30 * time.Second), false,
			wfv1.NodeRunning, "Executing: 100.0%"},
		{"stuck Executing with the cache full recovers", spec, dataLoad(common.PhaseExecuting, "", time.Time{}, ""), boundDataset("100.0%"), t0.Add(time.Minute), false,
			wfv1.NodeSucceeded, "fluid#4287"},
		{"failed", spec, dataLoad(common.PhaseFailed, common.Failed, t0.Add(time.Minute), "loader pod OOMKilled"), boundDataset("3.0%"), t0.Add(2 * time.Minute), false,
			wfv1.NodeFailed, "OOMKilled"},
		{"stuck executing times out", spec, dataLoad(common.PhaseExecuting, "", time.Time{}, ""), boundDataset("99.0%"), t0.Add(31 * time.Minute), false,
			wfv1.NodeFailed, "timed out after 30m0s: DataLoad data-warm-1 is still Executing with 99.0%"},
		{"runtime not ready", spec, dataLoad("", "", time.Time{}, ""), notBound, t0.Add(time.Minute), false,
			wfv1.NodeRunning, "waiting for Dataset data to be Bound (phase: NotBound)"},
		{"runtime never ready", spec, dataLoad("", "", time.Time{}, ""), notBound, t0.Add(31 * time.Minute), false,
			wfv1.NodeFailed, "never became Bound (phase: NotBound): its runtime never got ready (fluid#4328)"},
		{"pending", spec, dataLoad(common.PhasePending, "", time.Time{}, ""), boundDataset("0.0%"), t0.Add(time.Second), false,
			wfv1.NodeRunning, "is Pending"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := &observation{now: c.now, spec: c.spec, dataLoad: c.dl, dataset: c.ds, start: c.dl.CreationTimestamp.Time,
				requeue: DefaultRequeue, settle: DefaultSettle, completeSeen: seen, refreshed: c.refreshed,
				fullSince: t0, stuck: DefaultStuck} // the cache (if full) was first seen full at t0
			r := o.assess()
			if r.Node.Phase != c.phase || !strings.Contains(r.Node.Message, c.contains) {
				t.Fatalf("got %s %q; want %s containing %q", r.Node.Phase, r.Node.Message, c.phase, c.contains)
			}
			if r.Node.Progress != "" {
				t.Fatalf("progress %q set: Argo v4.0.7 drops it (taskset.go copies phase, message, outputs)", r.Node.Progress)
			}
			if (r.Requeue != nil) != (c.phase == wfv1.NodeRunning) {
				t.Fatalf("requeue %v for phase %s", r.Requeue, c.phase)
			}
			if r.Requeue != nil && r.Requeue.Duration > 2*time.Second {
				t.Fatalf("requeue %s: a running load must be polled at least every 2 s", r.Requeue.Duration)
			}
			if c.phase == wfv1.NodeSucceeded && c.dl == complete {
				got := map[string]string{}
				for _, p := range r.Node.Outputs.Parameters {
					got[p.Name] = p.Value.String()
				}
				if got["dataload"] != "data-warm-1" || got["duration"] != "2m0s" || got["ufsTotal"] != "10.00GiB" {
					t.Fatalf("outputs = %v", got)
				}
			}
		})
	}
}

func TestKeyAndName(t *testing.T) {
	a := &Spec{Name: "serverless-data", Load: Load{Paths: []string{"/"}}, Timeout: "30m"}
	b := &Spec{Name: "serverless-data", Load: Load{Paths: []string{"/"}}, Timeout: "30m"}
	c := &Spec{Name: "serverless-data", Load: Load{Paths: []string{"/train"}}, Timeout: "30m"}
	if Key("uid-1", a) != Key("uid-1", b) {
		t.Fatal("equal templates give different keys")
	}
	if Key("uid-1", a) == Key("uid-2", a) || Key("uid-1", a) == Key("uid-1", c) {
		t.Fatal("different workflow or template share a key")
	}
	long := DataLoadName(strings.Repeat("a", 63), Key("u", a), 12)
	if len(long) > 47 || !strings.Contains(long, "-warm-") || !strings.HasSuffix(long, "-12") {
		t.Fatalf("DataLoadName = %q", long)
	}
	if DataLoadName("d", Key("u", a), 1) == DataLoadName("d", Key("u", a), 2) {
		t.Fatal("attempts share a DataLoad name")
	}
}

func TestSpecDefaults(t *testing.T) {
	s := &Spec{Name: "d"}
	if s.MinCached() != 100 || s.TimeoutDuration() != DefaultTimeout || s.CleanupPolicy() != CleanupOnWorkflowDeletion || s.TTL() != 3600 {
		t.Fatalf("defaults: %v %v %v %v", s.MinCached(), s.TimeoutDuration(), s.CleanupPolicy(), s.TTL())
	}
	s.Load.Paths = []string{"/train"}
	if s.MinCached() != 0 || s.WholeDataset() {
		t.Fatal("a subset load has no dataset-wide default minimum")
	}
	s.MinCachedPercentage = NewNumber(80)
	if s.MinCached() != 80 {
		t.Fatal("explicit minimum ignored")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]float64{"10.00GiB": 10 << 30, "0.00B": 0, "512MiB": 512 << 20, "1.5TiB": 1.5 * (1 << 40), "100": 100, "2GB": 2e9} {
		if got, ok := ParseSize(in); !ok || got != want {
			t.Errorf("ParseSize(%q) = %v %v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"[Calculating]", "", "-1GiB", "NaNGiB", "GiB"} {
		if _, ok := ParseSize(in); ok {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	if got := FormatSize(12 << 30); got != "12.00GiB" {
		t.Errorf("FormatSize = %q", got)
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"10.00GiB", "0.00B", "[Calculating]", "1e308EiB", "-0B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, ok := ParseSize(s); ok && (v < 0 || v != v) {
			t.Fatalf("ParseSize(%q) = %v", s, v)
		}
	})
}
