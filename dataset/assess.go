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

	"github.com/argo-eci/argo-eci/internal/requeue"
)

// observation is what one execute call saw; its methods decide the node's reply without I/O.
type observation struct {
	now      time.Time
	spec     *Spec
	dataset  *fluidv1.Dataset
	dataLoad *fluidv1.DataLoad // the attempt's own DataLoad, or the one it follows
	followed bool              // dataLoad was started by someone else for the same paths
	start    time.Time         // anchor of this attempt's timeout
	// completeSeen is when the plugin first saw dataLoad Complete (zero before); refreshed says
	// whether Fluid has rewritten the Dataset's cache states since then.
	completeSeen time.Time
	refreshed    bool
	settle       time.Duration
	// fullSince is when the plugin first saw the cache meet the minimum while the DataLoad was still
	// Executing; after stuck more the load is taken as done (Fluid left it Executing).
	fullSince time.Time
	stuck     time.Duration
	findings  []string
	requeue   requeue.Policy
}

// cachedPercentage parses Fluid's "57.0%" cache state; ok is false while Fluid leaves it empty
// (it does until ufsTotal has been calculated).
func cachedPercentage(ds *fluidv1.Dataset) (float64, bool) {
	if ds == nil {
		return 0, false
	}
	s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(ds.Status.CacheStates[common.CachedPercentage]), "%"))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, false
	}
	return v, true
}

// cacheFingerprint identifies one refresh of the Dataset's cache states.
func cacheFingerprint(ds *fluidv1.Dataset) string {
	if ds == nil {
		return ""
	}
	c := ds.Status.CacheStates
	return c[common.Cached] + "|" + c[common.CachedPercentage] + "|" + c[common.CacheCapacity] + "|" + ds.Status.UfsTotal
}

// cacheShort explains why the cache does not meet what the template asked for ("" when it does).
func cacheShort(spec *Spec, ds *fluidv1.Dataset) string {
	pct, known := cachedPercentage(ds)
	if spec.WholeDataset() || spec.MinCachedPercentage != nil {
		minPct := spec.MinCached()
		switch {
		case minPct == 0:
			return ""
		case !known:
			return fmt.Sprintf("Dataset %s reports no cachedPercentage (Fluid leaves it empty while it calculates ufsTotal), so minCachedPercentage %g could not be verified", ds.Name, minPct)
		case pct < minPct:
			return fmt.Sprintf("only %.1f%% of Dataset %s is cached, below minCachedPercentage %g (Fluid can report Complete for a partial load, fluid#633)", pct, ds.Name, minPct)
		}
		return ""
	}
	if b, ok := ParseSize(ds.Status.CacheStates[common.Cached]); !ok || b <= 0 {
		return fmt.Sprintf("Dataset %s reports nothing cached after loading %s", ds.Name, strings.Join(spec.Load.Paths, ", "))
	}
	return ""
}

// alreadyWarm reports whether a Bound Dataset already meets the template's minimum, so no DataLoad is needed.
func alreadyWarm(spec *Spec, ds *fluidv1.Dataset) bool {
	if spec.Load.Force || ds.Status.Phase != fluidv1.BoundDatasetPhase {
		return false
	}
	if !spec.WholeDataset() && spec.MinCachedPercentage == nil {
		return false // a subset load has no per-path cache report to judge it by
	}
	pct, known := cachedPercentage(ds)
	return known && pct >= spec.MinCached() && spec.MinCached() > 0
}

// capacityShort explains why the runtime's cache cannot hold the minimum of the dataset ("" when it can
// or when Fluid has not reported the sizes yet).
func capacityShort(spec *Spec, ds *fluidv1.Dataset) string {
	minPct := spec.MinCached()
	if !spec.WholeDataset() || minPct <= 0 {
		return ""
	}
	ufs, ok1 := ParseSize(ds.Status.UfsTotal)
	capacity, ok2 := ParseSize(ds.Status.CacheStates[common.CacheCapacity])
	if !ok1 || !ok2 || ufs <= 0 || capacity <= 0 {
		return ""
	}
	if need := ufs * minPct / 100; capacity < need {
		return fmt.Sprintf("the cache of Dataset %s holds %s (cacheCapacity) but minCachedPercentage %g of ufsTotal %s needs %s: raise the runtime's tieredstore quota or replicas, or lower minCachedPercentage",
			ds.Name, ds.Status.CacheStates[common.CacheCapacity], minPct, ds.Status.UfsTotal, FormatSize(need))
	}
	return ""
}

func (o *observation) withFindings(msg string) string {
	if len(o.findings) == 0 {
		return msg
	}
	return msg + "; findings: " + strings.Join(o.findings, "; ")
}

func (o *observation) running(msg string) executorplugins.ExecuteTemplateReply {
	return executorplugins.ExecuteTemplateReply{
		Node:    &wfv1.NodeResult{Phase: wfv1.NodeRunning, Message: o.withFindings(msg)},
		Requeue: &metav1.Duration{Duration: o.requeue.After(o.now.Sub(o.start))},
	}
}

func (o *observation) failed(msg string) executorplugins.ExecuteTemplateReply {
	return executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{Phase: wfv1.NodeFailed, Message: o.withFindings(msg)}}
}

func (o *observation) timedOut() bool {
	return o.now.Sub(o.start) >= o.spec.TimeoutDuration()
}

// percent renders the Dataset's cached share for messages.
func percent(ds *fluidv1.Dataset) string {
	if pct, ok := cachedPercentage(ds); ok {
		return fmt.Sprintf("%.1f%%", pct)
	}
	return "an unknown share (cachedPercentage not reported yet)"
}

// assess decides the reply once the attempt has a DataLoad (its own or one it follows).
func (o *observation) assess() executorplugins.ExecuteTemplateReply {
	dl, ds := o.dataLoad, o.dataset
	switch dl.Status.Phase {
	case common.PhaseComplete:
		return o.assessComplete()
	case common.PhaseFailed:
		why := conditionMessage(dl, common.Failed)
		if why == "" {
			why = "no reason given"
		}
		return o.failed(fmt.Sprintf("DataLoad %s failed: %s", dl.Name, why))
	}
	if dl.Status.Phase == common.PhaseExecuting {
		if msg := capacityShort(o.spec, ds); msg != "" {
			return o.failed(msg)
		}
		if alreadyWarm(o.spec, ds) && !o.fullSince.IsZero() && o.now.Sub(o.fullSince) >= o.stuck {
			return o.succeeded(fmt.Sprintf("DataLoad %s is still Executing %s after Dataset %s showed %s cached, meeting the minimum: its loader has finished and Fluid left the DataLoad Executing (fluid#4287)",
				dl.Name, o.stuck, ds.Name, percent(ds)))
		}
	}
	if o.timedOut() {
		return o.failed(o.timeoutMessage())
	}
	return o.running(o.progressMessage())
}

func (o *observation) progressMessage() string {
	dl, ds := o.dataLoad, o.dataset
	who := "DataLoad " + dl.Name
	if o.followed {
		who = "following DataLoad " + dl.Name + " (already running for the same paths)"
	}
	switch {
	case ds.Status.Phase != fluidv1.BoundDatasetPhase:
		return fmt.Sprintf("%s: waiting for Dataset %s to be Bound (phase: %s): its runtime is not ready yet", who, ds.Name, phaseOr(string(ds.Status.Phase), "none yet"))
	case dl.Status.Phase == common.PhaseExecuting:
		return fmt.Sprintf("%s is Executing: %s of Dataset %s cached (minimum %g%%)", who, percent(ds), ds.Name, o.spec.MinCached())
	}
	return fmt.Sprintf("%s is %s: Fluid starts it once the runtime of Dataset %s is ready; %s cached", who, phaseOr(string(dl.Status.Phase), "not picked up yet"), ds.Name, percent(ds))
}

func (o *observation) timeoutMessage() string {
	dl, ds := o.dataLoad, o.dataset
	head := fmt.Sprintf("timed out after %s", o.spec.TimeoutDuration())
	switch {
	case ds.Status.Phase != fluidv1.BoundDatasetPhase:
		return fmt.Sprintf("%s: Dataset %s never became Bound (phase: %s): its runtime never got ready (fluid#4328); DataLoad %s was left in place",
			head, ds.Name, phaseOr(string(ds.Status.Phase), "none"), dl.Name)
	case dl.Status.Phase == common.PhaseExecuting:
		return fmt.Sprintf("%s: DataLoad %s is still Executing with %s of Dataset %s cached: its loader pod may be unschedulable, or Fluid left the DataLoad Executing after the loader finished (fluid#4287); it was left in place",
			head, dl.Name, percent(ds), ds.Name)
	}
	return fmt.Sprintf("%s: DataLoad %s is still %s: Fluid did not start it (runtime of Dataset %s not ready); it was left in place",
		head, dl.Name, phaseOr(string(dl.Status.Phase), "not picked up"), ds.Name)
}

// assessComplete judges a Complete DataLoad. Fluid refreshes the Dataset's cache states only in the
// runtime's periodic sync, so a shortfall is believed only after a refresh newer than the moment the
// plugin first saw Complete, or once the settle window since then has passed.
func (o *observation) assessComplete() executorplugins.ExecuteTemplateReply {
	dl, ds := o.dataLoad, o.dataset
	short := cacheShort(o.spec, ds)
	if short == "" {
		return o.succeeded(fmt.Sprintf("DataLoad %s Complete: %s (%s) of Dataset %s cached", dl.Name, ds.Status.CacheStates[common.Cached], percent(ds), ds.Name))
	}
	if !o.refreshed && o.now.Sub(o.completeSeen) < o.settle {
		return o.running(fmt.Sprintf("DataLoad %s is Complete; waiting up to %s for Fluid's next cache-state refresh of Dataset %s (it reports %s)",
			dl.Name, o.settle, ds.Name, percent(ds)))
	}
	if o.spec.OnCacheShort == CacheShortFail {
		return o.failed(fmt.Sprintf("DataLoad %s is Complete but %s", dl.Name, short))
	}
	return o.succeeded(fmt.Sprintf("warning: DataLoad %s is Complete but %s (set onCacheShort: fail to fail instead)", dl.Name, short))
}

func (o *observation) succeeded(msg string) executorplugins.ExecuteTemplateReply {
	return succeededReply(o.withFindings(msg), o.dataset, o.dataLoad)
}

// succeededReply is the Succeeded reply with the template's output parameters; dl may be nil.
func succeededReply(msg string, ds *fluidv1.Dataset, dl *fluidv1.DataLoad) executorplugins.ExecuteTemplateReply {
	param := func(name, value string) wfv1.Parameter {
		return wfv1.Parameter{Name: name, Value: wfv1.AnyStringPtr(value)}
	}
	pctText := ""
	if pct, ok := cachedPercentage(ds); ok {
		pctText = strconv.FormatFloat(pct, 'f', 1, 64)
	}
	name, duration := "", ""
	if dl != nil {
		name, duration = dl.Name, dl.Status.Duration
	}
	return executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{
		Phase:   wfv1.NodeSucceeded,
		Message: msg,
		Outputs: &wfv1.Outputs{Parameters: []wfv1.Parameter{
			param("cached", ds.Status.CacheStates[common.Cached]),
			param("cachedPercentage", pctText),
			param("ufsTotal", ds.Status.UfsTotal),
			param("duration", duration),
			param("dataload", name),
		}},
	}}
}

func conditionMessage(dl *fluidv1.DataLoad, t common.ConditionType) string {
	for _, c := range dl.Status.Conditions {
		if c.Type == t {
			return c.Message
		}
	}
	return ""
}

func phaseOr(phase, def string) string {
	if phase == "" {
		return def
	}
	return phase
}
