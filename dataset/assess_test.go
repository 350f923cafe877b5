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

func boundDataset(pct string, lock string) *fluidv1.Dataset {
	ds := &fluidv1.Dataset{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Status: fluidv1.DatasetStatus{
		Phase: fluidv1.BoundDatasetPhase, UfsTotal: "10.00GiB",
		CacheStates: common.CacheStateList{common.Cached: "5.70GiB", common.CachedPercentage: pct},
	}}
	if lock != "" {
		ds.Status.OperationRef = map[string]string{operationType: lock}
	}
	return ds
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

func TestAssessLoad(t *testing.T) {
	spec := &Spec{Name: "data", Timeout: "30m"}
	partial := &Spec{Name: "data", Timeout: "30m", Load: Load{Paths: []string{"/train"}}}
	cases := []struct {
		name     string
		spec     *Spec
		dl       *fluidv1.DataLoad
		ds       *fluidv1.Dataset
		now      time.Time
		phase    wfv1.NodePhase
		progress wfv1.Progress
		contains string
	}{
		{"executing", spec, dataLoad(common.PhaseExecuting, "", time.Time{}, ""), boundDataset("42.5%", "data-warm-1"), t0.Add(time.Minute),
			wfv1.NodeRunning, "42/100", "Executing: 42.5%"},
		{"complete and full", spec, dataLoad(common.PhaseComplete, common.Complete, t0.Add(2*time.Minute), ""), boundDataset("100.0%", ""), t0.Add(3 * time.Minute),
			wfv1.NodeSucceeded, "100/100", "Complete"},
		{"complete at 57% settles first", spec, dataLoad(common.PhaseComplete, common.Complete, t0.Add(2*time.Minute), ""), boundDataset("57.0%", ""), t0.Add(2*time.Minute + 5*time.Second),
			wfv1.NodeRunning, "57/100", "waiting up to"},
		{"complete at 57% fails after settle", spec, dataLoad(common.PhaseComplete, common.Complete, t0.Add(2*time.Minute), ""), boundDataset("57.0%", ""), t0.Add(3 * time.Minute),
			wfv1.NodeFailed, "57/100", "only 57.0%"},
		{"complete with unknown cache state fails after settle", spec, dataLoad(common.PhaseComplete, common.Complete, t0.Add(2*time.Minute), ""), boundDataset("", ""), t0.Add(3 * time.Minute),
			wfv1.NodeFailed, "0/100", "only unknown"},
		{"partial load is judged by phase", partial, dataLoad(common.PhaseComplete, common.Complete, t0.Add(2*time.Minute), ""), boundDataset("12.0%", ""), t0.Add(2 * time.Minute),
			wfv1.NodeSucceeded, "100/100", "Complete"},
		{"failed", spec, dataLoad(common.PhaseFailed, common.Failed, t0.Add(time.Minute), "loader pod OOMKilled"), boundDataset("3.0%", ""), t0.Add(2 * time.Minute),
			wfv1.NodeFailed, "3/100", "OOMKilled"},
		{"stuck executing times out", spec, dataLoad(common.PhaseExecuting, "", time.Time{}, ""), boundDataset("99.0%", "data-warm-1"), t0.Add(31 * time.Minute),
			wfv1.NodeFailed, "99/100", "timed out after 30m0s: DataLoad data-warm-1 is still Executing"},
		{"pending behind another load", spec, dataLoad(common.PhasePending, "", time.Time{}, ""), boundDataset("10.0%", "nightly-load"), t0.Add(time.Minute),
			wfv1.NodeRunning, "10/100", "busy with DataLoad nightly-load"},
		{"no phase yet", spec, dataLoad("", "", time.Time{}, ""), boundDataset("0.0%", ""), t0.Add(time.Second),
			wfv1.NodeRunning, "0/100", "is Pending"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := &state{now: c.now, spec: c.spec, dataLoad: c.dl, dataset: c.ds, start: c.dl.CreationTimestamp.Time,
				requeue: Requeue{Min: time.Second, Max: 15 * time.Second}, settle: 30 * time.Second}
			r := st.assessLoad()
			if r.Node.Phase != c.phase || r.Node.Progress != c.progress || !strings.Contains(r.Node.Message, c.contains) {
				t.Fatalf("got %s %s %q; want %s %s containing %q", r.Node.Phase, r.Node.Progress, r.Node.Message, c.phase, c.progress, c.contains)
			}
			if (r.Requeue != nil) != (c.phase == wfv1.NodeRunning) {
				t.Fatalf("requeue %v for phase %s", r.Requeue, c.phase)
			}
			if c.phase == wfv1.NodeSucceeded {
				got := map[string]string{}
				for _, p := range r.Node.Outputs.Parameters {
					got[p.Name] = p.Value.String()
				}
				for _, k := range []string{"cached", "cachedPercentage", "ufsTotal", "duration", "dataload"} {
					if got[k] == "" {
						t.Fatalf("output %s missing: %v", k, got)
					}
				}
				if got["dataload"] != "data-warm-1" || got["duration"] != "2m0s" || got["ufsTotal"] != "10.00GiB" {
					t.Fatalf("outputs = %v", got)
				}
			}
		})
	}
}

func TestAssessWaiting(t *testing.T) {
	spec := &Spec{Name: "data", Timeout: "10m"}
	notBound := &fluidv1.Dataset{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Status: fluidv1.DatasetStatus{Phase: fluidv1.NotBoundDatasetPhase}}
	cases := []struct {
		name     string
		ds       *fluidv1.Dataset
		age      time.Duration
		ok       bool
		phase    wfv1.NodePhase
		contains string
	}{
		{"not bound", notBound, time.Minute, false, wfv1.NodeRunning, "waiting for Dataset data to be Bound (phase: NotBound)"},
		{"never bound", notBound, 11 * time.Minute, false, wfv1.NodeFailed, "runtime never became ready"},
		{"lock held", boundDataset("0.0%", "other"), time.Minute, false, wfv1.NodeRunning, "busy with DataLoad other"},
		{"lock held too long", boundDataset("0.0%", "other"), 10 * time.Minute, false, wfv1.NodeFailed, "waiting for DataLoad other to release"},
		{"free", boundDataset("0.0%", ""), time.Minute, true, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := &state{now: t0.Add(c.age), spec: spec, dataset: c.ds, start: t0, requeue: Requeue{Min: time.Second, Max: 15 * time.Second}}
			r, ok := st.assessWaiting()
			if ok != c.ok {
				t.Fatalf("ok = %v", ok)
			}
			if ok {
				return
			}
			if r.Node.Phase != c.phase || !strings.Contains(r.Node.Message, c.contains) {
				t.Fatalf("got %s %q", r.Node.Phase, r.Node.Message)
			}
		})
	}
}

func TestRequeueBacksOff(t *testing.T) {
	r := Requeue{Min: time.Second, Max: 15 * time.Second}
	for _, c := range []struct{ age, want time.Duration }{
		{0, time.Second}, {5 * time.Second, time.Second}, {30 * time.Second, 3 * time.Second},
		{100 * time.Second, 10 * time.Second}, {10 * time.Minute, 15 * time.Second},
	} {
		if got := r.After(c.age); got != c.want {
			t.Errorf("After(%v) = %v, want %v", c.age, got, c.want)
		}
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
	long := DataLoadName(strings.Repeat("a", 63), Key("u", a))
	if len(long) > 44 || !strings.Contains(long, "-warm-") {
		t.Fatalf("DataLoadName = %q", long)
	}
}

func TestSpecDefaults(t *testing.T) {
	s := &Spec{Name: "d"}
	if s.MinCached() != 100 || s.TimeoutDuration() != DefaultTimeout {
		t.Fatalf("defaults: %v %v", s.MinCached(), s.TimeoutDuration())
	}
	s.Load.Paths = []string{"/train"}
	if s.MinCached() != 0 {
		t.Fatal("partial load must default to 0")
	}
	s.MinCachedPercentage = NewNumber(80)
	if s.MinCached() != 80 {
		t.Fatal("explicit minimum ignored")
	}
}
