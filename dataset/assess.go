package dataset

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	"github.com/fluid-cloudnative/fluid/pkg/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// operationType is the key of Fluid's per-dataset lock for DataLoads (status.operationRef).
const operationType = "DataLoad"

// Requeue is the adaptive polling policy: poll every Min at first, then every age/10, at most Max.
// With the defaults (1s, 15s) completion is seen within 1 s during the first 10 s of a warm-up, within
// age/10 afterwards and within 15 s once the warm-up is older than 150 s.
type Requeue struct {
	Min, Max time.Duration
}

// After returns the requeue delay for a warm-up that started age ago.
func (r Requeue) After(age time.Duration) time.Duration {
	d := age / 10
	if d < r.Min {
		d = r.Min
	}
	if d > r.Max {
		d = r.Max
	}
	return d
}

// state is what one execute call observed; assess turns it into the node's reply.
type state struct {
	now      time.Time
	spec     *Spec
	dataLoad *fluidv1.DataLoad // nil until created
	dataset  *fluidv1.Dataset
	start    time.Time // anchor of the timeout
	findings []string
	requeue  Requeue
	settle   time.Duration // how long a Complete load below the minimum may wait for fresher cache states
}

// cachedPercentage parses Fluid's "57.0%" cache state.
func cachedPercentage(ds *fluidv1.Dataset) (float64, bool) {
	if ds == nil {
		return 0, false
	}
	s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(ds.Status.CacheStates[common.CachedPercentage]), "%"))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

func progress(pct float64) wfv1.Progress {
	n := int64(math.Floor(pct))
	if n < 0 {
		n = 0
	}
	if n > 100 {
		n = 100
	}
	return wfv1.Progress(fmt.Sprintf("%d/100", n))
}

// lockHolders are the DataLoads other than own that hold the dataset's DataLoad lock.
func lockHolders(ds *fluidv1.Dataset, own string) []string {
	if ds == nil {
		return nil
	}
	var others []string
	for _, n := range strings.Split(ds.GetDataOperationInProgress(operationType), ",") {
		if n = strings.TrimSpace(n); n != "" && n != own {
			others = append(others, n)
		}
	}
	return others
}

func conditionTime(dl *fluidv1.DataLoad, t common.ConditionType) (time.Time, string) {
	for _, c := range dl.Status.Conditions {
		if c.Type == t {
			return c.LastTransitionTime.Time, c.Message
		}
	}
	return time.Time{}, ""
}

func (s *state) withFindings(msg string) string {
	if len(s.findings) == 0 {
		return msg
	}
	return msg + "; findings: " + strings.Join(s.findings, "; ")
}

func (s *state) running(msg string, pct float64) executorplugins.ExecuteTemplateReply {
	return executorplugins.ExecuteTemplateReply{
		Node: &wfv1.NodeResult{
			Phase:    wfv1.NodeRunning,
			Message:  s.withFindings(msg),
			Progress: progress(pct),
		},
		Requeue: &metav1.Duration{Duration: s.requeue.After(s.now.Sub(s.start))},
	}
}

func (s *state) failed(msg string, pct float64) executorplugins.ExecuteTemplateReply {
	return executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{
		Phase:    wfv1.NodeFailed,
		Message:  s.withFindings(msg),
		Progress: progress(pct),
	}}
}

// timedOut reports whether the timeout has elapsed since start.
func (s *state) timedOut() bool {
	return s.now.Sub(s.start) >= s.spec.TimeoutDuration()
}

// assessWaiting decides the reply while no DataLoad exists yet (Dataset not Bound or lock held).
// ok is true when the DataLoad may be created now.
func (s *state) assessWaiting() (reply executorplugins.ExecuteTemplateReply, ok bool) {
	ds := s.dataset
	if ds.Status.Phase != fluidv1.BoundDatasetPhase {
		phase := string(ds.Status.Phase)
		if phase == "" {
			phase = "none yet"
		}
		msg := fmt.Sprintf("waiting for Dataset %s to be Bound (phase: %s): its runtime is not ready", ds.Name, phase)
		if s.timedOut() {
			return s.failed(fmt.Sprintf("timed out after %s waiting for Dataset %s to be Bound (phase: %s): its runtime never became ready",
				s.spec.TimeoutDuration(), ds.Name, phase), 0), false
		}
		return s.running(msg, 0), false
	}
	if others := lockHolders(ds, ""); len(others) > 0 {
		pct, _ := cachedPercentage(ds)
		if s.timedOut() {
			return s.failed(fmt.Sprintf("timed out after %s waiting for DataLoad %s to release Dataset %s (Fluid runs one DataLoad per dataset at a time)",
				s.spec.TimeoutDuration(), strings.Join(others, ","), ds.Name), pct), false
		}
		return s.running(fmt.Sprintf("waiting: Dataset %s is busy with DataLoad %s (Fluid runs one DataLoad per dataset at a time)",
			ds.Name, strings.Join(others, ",")), pct), false
	}
	return executorplugins.ExecuteTemplateReply{}, true
}

// assessLoad decides the reply once the DataLoad exists.
func (s *state) assessLoad() executorplugins.ExecuteTemplateReply {
	dl, ds := s.dataLoad, s.dataset
	pct, known := cachedPercentage(ds)
	minPct := s.spec.MinCached()
	switch dl.Status.Phase {
	case common.PhaseComplete:
		if minPct == 0 || (known && pct >= minPct) {
			return s.succeeded(pct)
		}
		done, _ := conditionTime(dl, common.Complete)
		if done.IsZero() {
			done = s.start
		}
		shown := "unknown"
		if known {
			shown = fmt.Sprintf("%.1f%%", pct)
		}
		if s.now.Sub(done) < s.settle {
			return s.running(fmt.Sprintf("DataLoad %s is Complete but Dataset %s reports %s cached (minimum %g%%); waiting up to %s for Fluid to refresh its cache states",
				dl.Name, ds.Name, shown, minPct, s.settle), pct)
		}
		return s.failed(fmt.Sprintf("DataLoad %s is Complete but only %s of Dataset %s is cached, below minCachedPercentage %g (Fluid can report Complete for a partial load, fluid#633)",
			dl.Name, shown, ds.Name, minPct), pct)
	case common.PhaseFailed:
		_, why := conditionTime(dl, common.Failed)
		if why == "" {
			why = "no reason given"
		}
		return s.failed(fmt.Sprintf("DataLoad %s failed: %s", dl.Name, why), pct)
	}
	phase := string(dl.Status.Phase)
	if phase == "" {
		phase = string(common.PhasePending)
	}
	if s.timedOut() {
		return s.failed(fmt.Sprintf("timed out after %s: DataLoad %s is still %s with %.1f%% of Dataset %s cached; it was left in place",
			s.spec.TimeoutDuration(), dl.Name, phase, pct, ds.Name), pct)
	}
	if others := lockHolders(ds, dl.Name); len(others) > 0 && dl.Status.Phase != common.PhaseExecuting {
		return s.running(fmt.Sprintf("waiting: Dataset %s is busy with DataLoad %s (Fluid runs one DataLoad per dataset at a time); DataLoad %s is %s",
			ds.Name, strings.Join(others, ","), dl.Name, phase), pct)
	}
	return s.running(fmt.Sprintf("DataLoad %s is %s: %.1f%% of Dataset %s cached", dl.Name, phase, pct, ds.Name), pct)
}

func (s *state) succeeded(pct float64) executorplugins.ExecuteTemplateReply {
	dl, ds := s.dataLoad, s.dataset
	param := func(name, value string) wfv1.Parameter {
		return wfv1.Parameter{Name: name, Value: wfv1.AnyStringPtr(value)}
	}
	cached := ds.Status.CacheStates[common.Cached]
	return executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{
		Phase:    wfv1.NodeSucceeded,
		Message:  s.withFindings(fmt.Sprintf("DataLoad %s Complete: %s (%.1f%%) of Dataset %s cached", dl.Name, cached, pct, ds.Name)),
		Progress: wfv1.Progress("100/100"),
		Outputs: &wfv1.Outputs{Parameters: []wfv1.Parameter{
			param("cached", cached),
			param("cachedPercentage", strconv.FormatFloat(pct, 'f', 1, 64)),
			param("ufsTotal", ds.Status.UfsTotal),
			param("duration", dl.Status.Duration),
			param("dataload", dl.Name),
		}},
	}}
}
