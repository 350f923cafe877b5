// Package fluidsim is a test stand-in for Fluid's and ECI's controllers. Fluid's runtimes cannot run
// on the local control plane, so this small controller moves the status of real Dataset, DataLoad
// and ImageCache objects in a real kube-apiserver the way Fluid v1.0.8's controllers do:
//
//   - the runtime controller binds a Dataset once its JindoRuntime is ready, leaves ufsTotal as
//     "[Calculating]" and cachedPercentage empty until ufsTotal is known, and rewrites
//     status.cacheStates only in its periodic sync (about every 90 s; pkg/ddc/jindocache/cache.go);
//   - the operation controller keeps a DataLoad without a phase until its Dataset has a bound
//     runtime, moves it Pending → Executing once the runtime is ready, adding it to the Dataset's
//     comma-list status.operationRef (there is no exclusive lock: pkg/ddc/base/operation_lock.go),
//     re-checks an Executing DataLoad about every 20 s (pkg/ddc/base/operation.go), copies the loader
//     Job's finish time into the Complete or Failed condition, releases operationRef, and deletes the
//     DataLoad ttlSecondsAfterFinished after it ended.
//
// Fluid's own periods scale by Script.Scale, keeping their ratios. Failure modes a test switches on
// (Script.Failure): a DataLoad stuck Executing after its Job finished (fluid#4287), Complete with a
// partial cache (fluid#633), a runtime that never gets ready (fluid#4328), a loader pod that is
// never scheduled. It is only for tests; no product package imports it.
package fluidsim

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	"github.com/fluid-cloudnative/fluid/pkg/common"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Fluid v1.0.8's own periods, before scaling.
const (
	// DataLoadPoll is how often the operation controller re-checks a DataLoad that waits for its
	// runtime or is Executing.
	DataLoadPoll = 20 * time.Second
	// CacheSync is the runtime controller's periodic sync, the only writer of Dataset cacheStates.
	CacheSync = 90 * time.Second
	// UfsTotalCalc is how long computing ufsTotal takes after binding (cachedPercentage stays
	// empty until then); it depends on the dataset's size, this is a modest one.
	UfsTotalCalc = 30 * time.Second
)

// DefaultScale applies when Script.Scale is zero: a 20 s poll becomes 2 s, the 90 s sync 9 s.
const DefaultScale = 0.1

// Failure is a failure mode of Fluid that a test switches on.
type Failure string

// Failure modes.
const (
	// StuckExecuting: the loader Job finishes and fills the cache, but the DataLoad stays Executing
	// (fluid#4287, fluid#920).
	StuckExecuting Failure = "StuckExecuting"
	// PartialCache: the DataLoad goes Complete with only Script.PartialPercentage cached (fluid#633).
	PartialCache Failure = "PartialCache"
	// RuntimeNeverReady: the JindoRuntime never gets ready, so the Dataset stays NotBound and its
	// DataLoads never get a phase (fluid#4328).
	RuntimeNeverReady Failure = "RuntimeNeverReady"
	// LoaderUnschedulable: the loader Job's pod is never scheduled; the DataLoad stays Executing and
	// nothing is cached.
	LoaderUnschedulable Failure = "LoaderUnschedulable"
)

// Outcome is how a simulated loader Job ends.
type Outcome string

// Job outcomes.
const (
	Complete Outcome = "Complete"
	Fail     Outcome = "Failed"
)

// LoadPlan scripts the loader Job of one DataLoad (absolute durations, not scaled).
type LoadPlan struct {
	// StartAfter: the loader pod starts this long after the DataLoad goes Executing.
	StartAfter time.Duration
	// Duration: the loader Job runs this long.
	Duration time.Duration
	// Outcome, default Complete.
	Outcome Outcome
	// FailMessage is the Job's failure message, copied into the Failed condition.
	FailMessage string
	// CachedPercentage of the dataset cached when a whole-dataset load ends (default 100); a load of
	// other paths adds 10 % per path.
	CachedPercentage float64
}

// CachePlan scripts one ImageCache.
type CachePlan struct {
	// ReadyAfter: the cache goes Creating at once and Ready (or Failed) after this.
	ReadyAfter time.Duration
	// Fail ends in Failed with Events instead of Ready.
	Fail   bool
	Events []map[string]any
	// ID is the imageCacheId reported when Ready (default "imc-sim-<name>"; set "-" for none).
	ID string
}

// Script is what the simulated controllers do in one namespace.
type Script struct {
	// BindAfter: a JindoRuntime is ready (and its Dataset Bound) this long after first sight.
	BindAfter time.Duration
	// UfsTotal the Dataset reports once calculated (default "10.00GiB").
	UfsTotal string
	// CacheCapacity the runtime's cache offers (default "120.00GiB").
	CacheCapacity string
	// Load is the plan of every DataLoad not named in Loads.
	Load LoadPlan
	// Loads are plans per DataLoad name.
	Loads map[string]LoadPlan
	// ImageCaches are plans per ImageCache name; other ImageCaches follow AnyImageCache or are left
	// alone. ImageCaches are cluster-scoped: give plans to one simulator of a cluster only.
	ImageCaches map[string]CachePlan
	// AnyImageCache, when set, is the plan of every ImageCache not named in ImageCaches.
	AnyImageCache *CachePlan
	// PVC makes a Bound Dataset's PersistentVolume and PersistentVolumeClaim, as Fluid does.
	PVC bool
	// Failure switches on one of Fluid's failure modes.
	Failure Failure
	// PartialPercentage is what PartialCache leaves cached (default 57).
	PartialPercentage float64
	// Scale multiplies Fluid's own periods (DataLoadPoll, CacheSync, UfsTotalCalc); 0 means DefaultScale.
	Scale float64
}

func (s Script) scaled(d time.Duration) time.Duration {
	f := s.Scale
	if f <= 0 {
		f = DefaultScale
	}
	return time.Duration(float64(d) * f)
}

// dsState is the simulator's truth about one Dataset.
type dsState struct {
	runtimeSeen time.Time
	boundAt     time.Time
	lastSync    time.Time
	cached      float64 // bytes really in the cache
	pv          string
}

// dlState is the simulator's truth about one DataLoad and its loader Job.
type dlState struct {
	nextCheck time.Time // the operation controller's next reconcile
	executing time.Time
	jobStart  time.Time
	jobEnd    time.Time
	baseline  float64 // cached bytes when the Job started
	hasBase   bool
	ended     time.Time
}

// Simulator runs a Script against the objects of one namespace.
type Simulator struct {
	client    client.Client
	namespace string
	tick      time.Duration

	mu        sync.Mutex
	script    Script
	datasets  map[string]*dsState
	loads     map[string]*dlState
	caches    map[string]time.Time
	completed map[string]time.Time
}

// New returns a simulator for namespace ns. c needs Fluid's types in its scheme.
func New(c client.Client, ns string, s Script) *Simulator {
	return &Simulator{client: c, namespace: ns, tick: 100 * time.Millisecond, script: s,
		datasets: map[string]*dsState{}, loads: map[string]*dlState{}, caches: map[string]time.Time{}, completed: map[string]time.Time{}}
}

// SetLoad changes the plan of one DataLoad while the simulator runs.
func (s *Simulator) SetLoad(name string, p LoadPlan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.script.Loads == nil {
		s.script.Loads = map[string]LoadPlan{}
	}
	s.script.Loads[name] = p
}

// SetFailure switches a failure mode on ("" switches it off) while the simulator runs.
func (s *Simulator) SetFailure(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script.Failure = f
}

// CompletedAt is when the simulator wrote DataLoad name's Complete or Failed status.
func (s *Simulator) CompletedAt(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.completed[name]
	return t, ok
}

// Run drives the objects every tick until ctx ends. Conflicts and vanished objects are retried on
// the next tick, as a controller's work queue would.
func (s *Simulator) Run(ctx context.Context) error {
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for {
		if err := s.Step(ctx); err != nil && ctx.Err() == nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Cleanup deletes the cluster-scoped PersistentVolumes the simulator created.
func (s *Simulator) Cleanup(ctx context.Context) {
	s.mu.Lock()
	var names []string
	for _, d := range s.datasets {
		if d.pv != "" {
			names = append(names, d.pv)
		}
	}
	s.mu.Unlock()
	for _, n := range names {
		_ = s.client.Delete(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
}

// Step moves every object one step; Run calls it on each tick.
func (s *Simulator) Step(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if err := s.stepDataLoads(ctx, now); err != nil {
		return err
	}
	if err := s.stepDatasets(ctx, now); err != nil {
		return err
	}
	return s.stepImageCaches(ctx, now)
}

func (s *Simulator) dataset(name string) *dsState {
	d, ok := s.datasets[name]
	if !ok {
		d = &dsState{}
		s.datasets[name] = d
	}
	return d
}

func (s *Simulator) sizes() (ufs, capacity float64) {
	ufs, capacity = 10<<30, 120<<30
	if v, ok := parseSize(s.script.UfsTotal); ok {
		ufs = v
	}
	if v, ok := parseSize(s.script.CacheCapacity); ok {
		capacity = v
	}
	return ufs, capacity
}

func (s *Simulator) plan(name string) LoadPlan {
	p, ok := s.script.Loads[name]
	if !ok {
		p = s.script.Load
	}
	if p.Outcome == "" {
		p.Outcome = Complete
	}
	if p.CachedPercentage == 0 {
		p.CachedPercentage = 100
	}
	if s.script.Failure == PartialCache {
		p.CachedPercentage = s.script.PartialPercentage
		if p.CachedPercentage == 0 {
			p.CachedPercentage = 57
		}
	}
	return p
}

// stepDataLoads is Fluid's operation controller for DataLoads (pkg/ddc/base/operation.go).
func (s *Simulator) stepDataLoads(ctx context.Context, now time.Time) error {
	var list fluidv1.DataLoadList
	if err := s.client.List(ctx, &list, client.InNamespace(s.namespace)); err != nil {
		return fmt.Errorf("list DataLoads: %w", err)
	}
	poll := s.script.scaled(DataLoadPoll)
	for i := range list.Items {
		dl := &list.Items[i]
		st, ok := s.loads[dl.Name]
		if !ok {
			st = &dlState{nextCheck: now}
			s.loads[dl.Name] = st
		}
		if !dl.DeletionTimestamp.IsZero() {
			continue
		}
		s.growCache(dl, st, now)
		if !st.ended.IsZero() {
			if err := s.expire(ctx, dl, st, now); err != nil {
				return err
			}
			continue
		}
		if now.Before(st.nextCheck) {
			continue
		}
		ds := &fluidv1.Dataset{}
		if err := s.client.Get(ctx, types.NamespacedName{Namespace: s.namespace, Name: dl.Spec.Dataset.Name}, ds); err != nil {
			st.nextCheck = now.Add(poll) // "Target dataset not found": requeue after 20 s
			continue
		}
		if err := s.reconcileDataLoad(ctx, dl, ds, st, now, poll); err != nil {
			return err
		}
	}
	return nil
}

func (s *Simulator) reconcileDataLoad(ctx context.Context, dl *fluidv1.DataLoad, ds *fluidv1.Dataset, st *dlState, now time.Time, poll time.Duration) error {
	switch dl.Status.Phase {
	case common.PhaseNone:
		if len(ds.Status.Runtimes) == 0 { // "bounded runtime with Accelerate Category is not found"
			st.nextCheck = now.Add(poll)
			return nil
		}
		dl.Status.Phase, dl.Status.Duration, dl.Status.Conditions = common.PhasePending, "Unfinished", []fluidv1.Condition{}
		return s.client.Status().Update(ctx, dl)
	case common.PhasePending:
		if ds.Status.Phase != fluidv1.BoundDatasetPhase || s.script.Failure == RuntimeNeverReady {
			st.nextCheck = now.Add(poll) // "Bounded accelerate runtime not ready"
			return nil
		}
		ds.SetDataOperationInProgress(string(dataLoadOp), dl.Name) // a comma list: never refused
		if err := s.client.Status().Update(ctx, ds); err != nil {
			return err
		}
		dl.Status.Phase = common.PhaseExecuting
		if err := s.client.Status().Update(ctx, dl); err != nil {
			return err
		}
		p := s.plan(dl.Name)
		st.executing = now
		if s.script.Failure != LoaderUnschedulable {
			st.jobStart = now.Add(p.StartAfter)
			st.jobEnd = st.jobStart.Add(p.Duration)
		}
		st.nextCheck = now.Add(poll)
		return nil
	case common.PhaseExecuting:
		st.nextCheck = now.Add(poll)
		if st.executing.IsZero() { // a DataLoad Executing before the simulator started: its Job is lost
			st.executing = now
			return nil
		}
		if !st.jobStart.IsZero() { // the plan may have been changed with SetLoad since the Job started
			st.jobEnd = st.jobStart.Add(s.plan(dl.Name).Duration)
		}
		if st.jobStart.IsZero() || now.Before(st.jobEnd) || s.script.Failure == StuckExecuting {
			return nil
		}
		return s.finish(ctx, dl, ds, st, now)
	}
	return nil
}

const dataLoadOp = "DataLoad"

// finish copies the loader Job's end into the DataLoad (status_handler.go) and releases operationRef.
func (s *Simulator) finish(ctx context.Context, dl *fluidv1.DataLoad, ds *fluidv1.Dataset, st *dlState, now time.Time) error {
	p := s.plan(dl.Name)
	jobEnd := metav1.NewTime(st.jobEnd)
	cond := fluidv1.Condition{Type: common.Complete, Status: corev1.ConditionTrue, Reason: "DataLoadJobComplete",
		Message: "", LastProbeTime: jobEnd, LastTransitionTime: jobEnd}
	dl.Status.Phase = common.PhaseComplete
	if p.Outcome == Fail {
		dl.Status.Phase = common.PhaseFailed
		cond.Type, cond.Reason, cond.Message = common.Failed, "BackoffLimitExceeded", p.FailMessage
	}
	dl.Status.Conditions = []fluidv1.Condition{cond}
	dl.Status.Duration = st.jobEnd.Sub(st.executing).Round(time.Second).String()
	if err := s.client.Status().Update(ctx, dl); err != nil {
		return err
	}
	st.ended = now
	s.completed[dl.Name] = now
	ds.RemoveDataOperationInProgress(dataLoadOp, dl.Name)
	return s.client.Status().Update(ctx, ds)
}

// expire deletes a finished DataLoad once its ttlSecondsAfterFinished has passed.
func (s *Simulator) expire(ctx context.Context, dl *fluidv1.DataLoad, st *dlState, now time.Time) error {
	ttl := dl.Spec.TTLSecondsAfterFinished
	if ttl == nil || now.Before(st.ended.Add(time.Duration(*ttl)*time.Second)) {
		return nil
	}
	if err := s.client.Delete(ctx, dl); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	delete(s.loads, dl.Name)
	return nil
}

// growCache fills the simulator's true cache while a loader Job runs.
func (s *Simulator) growCache(dl *fluidv1.DataLoad, st *dlState, now time.Time) {
	if st.jobStart.IsZero() || now.Before(st.jobStart) {
		return
	}
	d := s.dataset(dl.Spec.Dataset.Name)
	if !st.hasBase {
		st.baseline, st.hasBase = d.cached, true
	}
	ufs, capacity := s.sizes()
	p := s.plan(dl.Name)
	target := ufs * p.CachedPercentage / 100
	if !wholeDataset(dl) {
		target = st.baseline + ufs*0.10*float64(len(dl.Spec.Target))
	}
	if p.Outcome == Fail {
		target = st.baseline + (target-st.baseline)/2
	}
	target = min(target, ufs, capacity)
	frac := 1.0
	if d := st.jobEnd.Sub(st.jobStart); d > 0 && now.Before(st.jobEnd) {
		frac = float64(now.Sub(st.jobStart)) / float64(d)
	}
	if v := st.baseline + (target-st.baseline)*frac; v > d.cached {
		d.cached = v
	}
}

func wholeDataset(dl *fluidv1.DataLoad) bool {
	if len(dl.Spec.Target) == 0 {
		return true
	}
	for _, t := range dl.Spec.Target {
		if strings.Trim(t.Path, "/") == "" {
			return true
		}
	}
	return false
}

// stepDatasets is Fluid's runtime controller: binding, ufsTotal and the periodic cache-state sync.
func (s *Simulator) stepDatasets(ctx context.Context, now time.Time) error {
	var list fluidv1.DatasetList
	if err := s.client.List(ctx, &list, client.InNamespace(s.namespace)); err != nil {
		return fmt.Errorf("list Datasets: %w", err)
	}
	for i := range list.Items {
		ds := &list.Items[i]
		d := s.dataset(ds.Name)
		if d.boundAt.IsZero() {
			if err := s.bind(ctx, ds, d, now); err != nil {
				return err
			}
			continue
		}
		if err := s.sync(ctx, ds, d, now); err != nil {
			return err
		}
	}
	return nil
}

// bind makes a Dataset Bound once its JindoRuntime is ready.
func (s *Simulator) bind(ctx context.Context, ds *fluidv1.Dataset, d *dsState, now time.Time) error {
	rt := &fluidv1.JindoRuntime{}
	if err := s.client.Get(ctx, client.ObjectKeyFromObject(ds), rt); err == nil && d.runtimeSeen.IsZero() {
		d.runtimeSeen = now
	}
	if d.runtimeSeen.IsZero() || s.script.Failure == RuntimeNeverReady || now.Sub(d.runtimeSeen) < s.script.BindAfter {
		if ds.Status.Phase == fluidv1.NotBoundDatasetPhase {
			return nil
		}
		ds.Status.Phase = fluidv1.NotBoundDatasetPhase
		ds.Status.Conditions = []fluidv1.DatasetCondition{}
		return s.client.Status().Update(ctx, ds)
	}
	_, capacity := s.sizes()
	ds.Status.Phase = fluidv1.BoundDatasetPhase
	ds.Status.UfsTotal = "[Calculating]"
	ds.Status.CacheStates = common.CacheStateList{common.Cached: formatSize(d.cached), common.CachedPercentage: "", common.CacheCapacity: formatSize(capacity)}
	ds.Status.Runtimes = []fluidv1.Runtime{{Name: ds.Name, Namespace: ds.Namespace, Category: common.AccelerateCategory, Type: "jindo"}}
	ds.Status.Conditions = []fluidv1.DatasetCondition{{Type: fluidv1.DatasetReady, Status: corev1.ConditionTrue, Reason: "DatasetReady",
		Message: "The ddc runtime is ready.", LastUpdateTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}}
	if err := s.client.Status().Update(ctx, ds); err != nil {
		return err
	}
	d.boundAt, d.lastSync = now, now
	if s.script.PVC {
		return s.ensurePVC(ctx, ds, d)
	}
	return nil
}

// sync writes ufsTotal once calculated and the cache states every CacheSync; cachedPercentage stays
// empty while ufsTotal is unknown (jindocache/cache.go).
func (s *Simulator) sync(ctx context.Context, ds *fluidv1.Dataset, d *dsState, now time.Time) error {
	ufs, capacity := s.sizes()
	ufsKnown := now.Sub(d.boundAt) >= s.script.scaled(UfsTotalCalc)
	changed := false
	if ufsKnown && ds.Status.UfsTotal != formatSize(ufs) {
		ds.Status.UfsTotal, changed = formatSize(ufs), true
	}
	if now.Sub(d.lastSync) >= s.script.scaled(CacheSync) {
		pct := ""
		if ufsKnown {
			pct = fmt.Sprintf("%.1f%%", min(100, 100*d.cached/ufs))
		}
		ds.Status.CacheStates = common.CacheStateList{common.Cached: formatSize(d.cached), common.CachedPercentage: pct, common.CacheCapacity: formatSize(capacity)}
		d.lastSync, changed = now, true
	}
	if !changed {
		return nil
	}
	return s.client.Status().Update(ctx, ds)
}

// ensurePVC creates the PersistentVolume and claim Fluid makes for a Bound Dataset.
func (s *Simulator) ensurePVC(ctx context.Context, ds *fluidv1.Dataset, d *dsState) error {
	pvName := ds.Namespace + "-" + ds.Name
	size := resource.MustParse("100Pi")
	label := map[string]string{"fluid.io/s-" + ds.Namespace + "-" + ds.Name: "true"}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: pvName, Labels: label},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              "fluid",
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: ds.Namespace, Name: ds.Name},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver: "fuse.csi.fluid.io", VolumeHandle: pvName,
				VolumeAttributes: map[string]string{"fluid_path": "/runtime-mnt/jindo/" + ds.Namespace + "/" + ds.Name + "/jindofs-fuse", "mount_type": "fuse.jindofs-fuse"},
			}},
		},
	}
	if err := s.client.Create(ctx, pv); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create PersistentVolume %s: %w", pvName, err)
	}
	d.pv = pvName
	sc := "fluid"
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: ds.Name, Namespace: ds.Namespace, Labels: label},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany},
			StorageClassName: &sc,
			VolumeName:       pvName,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	if err := s.client.Create(ctx, pvc); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create PersistentVolumeClaim %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return nil
}

var imageCacheGVK = schema.GroupVersionKind{Group: "eci.alibabacloud.com", Version: "v1", Kind: "ImageCache"}

// stepImageCaches plays ECI's ImageCache controller for the caches the Script names (and, with
// AnyImageCache, for every other one).
func (s *Simulator) stepImageCaches(ctx context.Context, now time.Time) error {
	plans, err := s.imageCachePlans(ctx)
	if err != nil {
		return err
	}
	for name, p := range plans {
		ic := &unstructured.Unstructured{}
		ic.SetGroupVersionKind(imageCacheGVK)
		if err := s.client.Get(ctx, types.NamespacedName{Name: name}, ic); err != nil {
			if apierrors.IsNotFound(err) {
				delete(s.caches, name)
				continue
			}
			return fmt.Errorf("get ImageCache %s: %w", name, err)
		}
		if err := s.stepImageCache(ctx, ic, p, now); err != nil {
			return err
		}
	}
	return nil
}

// imageCachePlans is the Script's plans, plus AnyImageCache's for every other ImageCache there is.
func (s *Simulator) imageCachePlans(ctx context.Context) (map[string]CachePlan, error) {
	if s.script.AnyImageCache == nil {
		return s.script.ImageCaches, nil
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(imageCacheGVK.GroupVersion().WithKind(imageCacheGVK.Kind + "List"))
	if err := s.client.List(ctx, list); err != nil {
		return nil, fmt.Errorf("list ImageCaches: %w", err)
	}
	plans := make(map[string]CachePlan, len(list.Items)+len(s.script.ImageCaches))
	for _, ic := range list.Items {
		plans[ic.GetName()] = *s.script.AnyImageCache
	}
	maps.Copy(plans, s.script.ImageCaches)
	return plans, nil
}

// stepImageCache moves one ImageCache along plan p: Creating at first sight, then Ready or Failed.
func (s *Simulator) stepImageCache(ctx context.Context, ic *unstructured.Unstructured, p CachePlan, now time.Time) error {
	name := ic.GetName()
	phase, _, _ := unstructured.NestedString(ic.Object, "status", "phase")
	if phase == "Ready" || phase == "Failed" {
		return nil
	}
	first, ok := s.caches[name+"/"+string(ic.GetUID())]
	if !ok {
		first = now
		s.caches[name+"/"+string(ic.GetUID())] = now
	}
	status := map[string]any{"phase": "Creating", "progress": "0%", "startTime": first.UTC().Format(time.RFC3339)}
	switch {
	case now.Sub(first) >= p.ReadyAfter && p.Fail:
		events := make([]any, 0, len(p.Events))
		for _, e := range p.Events {
			events = append(events, e)
		}
		status = map[string]any{"phase": "Failed", "progress": "0%", "events": events}
	case now.Sub(first) >= p.ReadyAfter:
		id := p.ID
		if id == "" {
			id = "imc-sim-" + name
		} else if id == "-" {
			id = ""
		}
		status = map[string]any{"phase": "Ready", "progress": "100%", "imageCacheId": id,
			"startTime": first.UTC().Format(time.RFC3339), "lastUpdatedTime": now.UTC().Format(time.RFC3339)}
	case phase == "Creating":
		return nil
	}
	ic.Object["status"] = status
	return s.client.Status().Update(ctx, ic)
}

// parseSize and formatSize read and write sizes as Fluid does ("10.00GiB").
func parseSize(s string) (float64, bool) {
	units := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50}
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB", "B"} {
		if v, ok := strings.CutSuffix(s, u); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f * units[u], err == nil && f >= 0
		}
	}
	return 0, false
}

func formatSize(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%.2f%s", b, units[i])
}
