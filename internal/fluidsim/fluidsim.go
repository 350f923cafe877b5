// Package fluidsim is a test stand-in for Fluid's and ECI's controllers: Fluid's runtimes cannot run
// on the local control plane, so this small controller moves the status of real Dataset, DataLoad
// and ImageCache objects in a real kube-apiserver the way those controllers would, following a
// Script chosen by each test — including the failure modes users hit (a DataLoad stuck Executing,
// Complete with only part of the data cached (fluid#633), Failed, a runtime that never gets ready,
// the one-DataLoad-per-dataset lock held by someone else).
//
// It is only for tests; nothing in the argo-eci binary imports it.
package fluidsim

import (
	"context"
	"fmt"
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

// Outcome is how a simulated DataLoad ends.
type Outcome string

// DataLoad outcomes.
const (
	Complete Outcome = "Complete" // phase Complete after Duration, with CachedPercentage cached
	Fail     Outcome = "Failed"   // phase Failed after Duration, with FailMessage
	Stuck    Outcome = "Stuck"    // stays Executing forever (fluid#4287, #920)
)

// LoadPlan scripts one DataLoad.
type LoadPlan struct {
	// StartAfter: Pending → Executing this long after first sight, once the Dataset is Bound and its lock is free.
	StartAfter time.Duration
	// Duration: Executing → Outcome.
	Duration time.Duration
	// Outcome, default Complete.
	Outcome Outcome
	// CachedPercentage the Dataset reports when the load ends (default 100).
	CachedPercentage float64
	// FailMessage is the Failed condition's message.
	FailMessage string
}

// CachePlan scripts one ImageCache.
type CachePlan struct {
	// ReadyAfter: the cache goes Creating at once and Ready (or Failed) after this.
	ReadyAfter time.Duration
	// Fail ends in Failed with Events instead of Ready.
	Fail   bool
	Events []map[string]any
}

// Script is what the simulated controllers do in one namespace.
type Script struct {
	// BindAfter: a Dataset whose JindoRuntime exists is Bound this long after first sight.
	BindAfter time.Duration
	// NeverBind keeps every Dataset NotBound (the runtime never gets ready, fluid#4328).
	NeverBind bool
	// UfsTotal the Dataset reports once Bound (default "10.00GiB").
	UfsTotal string
	// Load is the plan of every DataLoad not named in Loads.
	Load LoadPlan
	// Loads are plans per DataLoad name.
	Loads map[string]LoadPlan
	// ImageCaches are plans per ImageCache name; other ImageCaches are left alone.
	ImageCaches map[string]CachePlan
	// PVC makes a Bound Dataset's PersistentVolume and PersistentVolumeClaim, as Fluid does, so pods can mount it.
	PVC bool
}

// Simulator runs a Script against the objects of one namespace.
type Simulator struct {
	client    client.Client
	namespace string
	interval  time.Duration

	mu        sync.Mutex
	script    Script
	firstSeen map[string]time.Time
	started   map[string]time.Time
	completed map[string]time.Time
	pvs       map[string]bool
}

// New returns a simulator for namespace ns. c needs Fluid's types in its scheme.
func New(c client.Client, ns string, s Script) *Simulator {
	return &Simulator{client: c, namespace: ns, interval: 100 * time.Millisecond, script: s,
		firstSeen: map[string]time.Time{}, started: map[string]time.Time{}, completed: map[string]time.Time{}, pvs: map[string]bool{}}
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

// CompletedAt is when the simulator ended DataLoad name (Complete or Failed), to the nanosecond.
func (s *Simulator) CompletedAt(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.completed[name]
	return t, ok
}

// Run drives the objects every 100 ms until ctx ends. Conflicts are retried on the next tick.
func (s *Simulator) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
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
	names := make([]string, 0, len(s.pvs))
	for n := range s.pvs {
		names = append(names, n)
	}
	s.mu.Unlock()
	for _, n := range names {
		_ = s.client.Delete(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
}

func (s *Simulator) seen(kind, name string, now time.Time) time.Time {
	k := kind + "/" + name
	if t, ok := s.firstSeen[k]; ok {
		return t
	}
	s.firstSeen[k] = now
	return now
}

func (s *Simulator) plan(name string) LoadPlan {
	p, ok := s.script.Loads[name]
	if !ok {
		p = s.script.Load
	}
	if p.Outcome == "" {
		p.Outcome = Complete
	}
	if p.CachedPercentage == 0 && p.Outcome == Complete {
		p.CachedPercentage = 100
	}
	return p
}

// Step moves every object one step; Run calls it on each tick.
func (s *Simulator) Step(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if err := s.stepDatasets(ctx, now); err != nil {
		return err
	}
	if err := s.stepDataLoads(ctx, now); err != nil {
		return err
	}
	return s.stepImageCaches(ctx, now)
}

func (s *Simulator) stepDatasets(ctx context.Context, now time.Time) error {
	var list fluidv1.DatasetList
	if err := s.client.List(ctx, &list, client.InNamespace(s.namespace)); err != nil {
		return fmt.Errorf("list Datasets: %w", err)
	}
	for i := range list.Items {
		ds := &list.Items[i]
		if ds.Status.Phase == fluidv1.BoundDatasetPhase {
			continue
		}
		first := s.seen("Dataset", ds.Name, now)
		rt := &fluidv1.JindoRuntime{}
		rtErr := s.client.Get(ctx, client.ObjectKeyFromObject(ds), rt)
		if s.script.NeverBind || rtErr != nil || now.Sub(first) < s.script.BindAfter {
			if ds.Status.Phase != fluidv1.NotBoundDatasetPhase {
				ds.Status.Phase = fluidv1.NotBoundDatasetPhase
				ds.Status.Conditions = []fluidv1.DatasetCondition{}
				if err := s.client.Status().Update(ctx, ds); err != nil {
					return err
				}
			}
			continue
		}
		ufs := s.script.UfsTotal
		if ufs == "" {
			ufs = "10.00GiB"
		}
		ds.Status.Phase = fluidv1.BoundDatasetPhase
		ds.Status.UfsTotal = ufs
		ds.Status.CacheStates = common.CacheStateList{common.Cached: "0.00B", common.CachedPercentage: "0.0%", common.CacheCapacity: "120.00GiB"}
		ds.Status.Runtimes = []fluidv1.Runtime{{Name: ds.Name, Namespace: ds.Namespace, Category: common.AccelerateCategory, Type: "jindo"}}
		ds.Status.Conditions = []fluidv1.DatasetCondition{{Type: fluidv1.DatasetReady, Status: corev1.ConditionTrue, Reason: "DatasetReady",
			Message: "The ddc runtime is ready.", LastUpdateTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}}
		if err := s.client.Status().Update(ctx, ds); err != nil {
			return err
		}
		if s.script.PVC {
			if err := s.ensurePVC(ctx, ds); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensurePVC creates the PersistentVolume and claim Fluid makes for a Bound Dataset.
func (s *Simulator) ensurePVC(ctx context.Context, ds *fluidv1.Dataset) error {
	pvName := ds.Namespace + "-" + ds.Name
	size := resource.MustParse("100Pi")
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: pvName, Labels: map[string]string{"fluid.io/s-" + ds.Namespace + "-" + ds.Name: "true"}},
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
	s.pvs[pvName] = true
	sc := "fluid"
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: ds.Name, Namespace: ds.Namespace,
			Labels: map[string]string{"fluid.io/s-" + ds.Namespace + "-" + ds.Name: "true"}},
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

func (s *Simulator) stepDataLoads(ctx context.Context, now time.Time) error {
	var list fluidv1.DataLoadList
	if err := s.client.List(ctx, &list, client.InNamespace(s.namespace)); err != nil {
		return fmt.Errorf("list DataLoads: %w", err)
	}
	for i := range list.Items {
		dl := &list.Items[i]
		p := s.plan(dl.Name)
		first := s.seen("DataLoad", dl.Name, now)
		ds := &fluidv1.Dataset{}
		if err := s.client.Get(ctx, types.NamespacedName{Namespace: s.namespace, Name: dl.Spec.Dataset.Name}, ds); err != nil {
			continue
		}
		switch dl.Status.Phase {
		case common.PhaseNone:
			dl.Status.Phase, dl.Status.Duration, dl.Status.Conditions = common.PhasePending, "Unfinished", []fluidv1.Condition{}
			if err := s.client.Status().Update(ctx, dl); err != nil {
				return err
			}
		case common.PhasePending:
			holder := ds.GetDataOperationInProgress("DataLoad")
			if ds.Status.Phase != fluidv1.BoundDatasetPhase || now.Sub(first) < p.StartAfter || (holder != "" && holder != dl.Name) {
				continue
			}
			ds.SetDataOperationInProgress("DataLoad", dl.Name)
			if err := s.client.Status().Update(ctx, ds); err != nil {
				return err
			}
			dl.Status.Phase = common.PhaseExecuting
			if err := s.client.Status().Update(ctx, dl); err != nil {
				return err
			}
			s.started[dl.Name] = now
		case common.PhaseExecuting:
			start, ok := s.started[dl.Name]
			if !ok {
				start, s.started[dl.Name] = now, now
			}
			elapsed := now.Sub(start)
			final := p.CachedPercentage
			if p.Outcome == Stuck || elapsed < p.Duration {
				pct := final
				if p.Duration > 0 && elapsed < p.Duration {
					pct = final * float64(elapsed) / float64(p.Duration)
				}
				if p.Outcome == Stuck {
					pct = final
				}
				if err := s.setCached(ctx, ds, pct); err != nil {
					return err
				}
				continue
			}
			if err := s.setCached(ctx, ds, final); err != nil {
				return err
			}
			if _, err := s.release(ctx, ds, dl.Name); err != nil {
				return err
			}
			cond := fluidv1.Condition{Type: common.Complete, Status: corev1.ConditionTrue, Reason: "DataLoadJobComplete",
				Message: "The DataLoad job has been completed", LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
			dl.Status.Phase = common.PhaseComplete
			if p.Outcome == Fail {
				dl.Status.Phase = common.PhaseFailed
				cond.Type, cond.Reason, cond.Message = common.Failed, "DataLoadJobFailed", p.FailMessage
			}
			dl.Status.Conditions = []fluidv1.Condition{cond}
			dl.Status.Duration = elapsed.Round(time.Second).String()
			if err := s.client.Status().Update(ctx, dl); err != nil {
				return err
			}
			s.completed[dl.Name] = now
		}
	}
	return nil
}

func (s *Simulator) setCached(ctx context.Context, ds *fluidv1.Dataset, pct float64) error {
	want := fmt.Sprintf("%.1f%%", pct)
	if ds.Status.CacheStates[common.CachedPercentage] == want {
		return nil
	}
	if ds.Status.CacheStates == nil {
		ds.Status.CacheStates = common.CacheStateList{}
	}
	ds.Status.CacheStates[common.CachedPercentage] = want
	ds.Status.CacheStates[common.Cached] = fmt.Sprintf("%.2fGiB", 10*pct/100)
	return s.client.Status().Update(ctx, ds)
}

func (s *Simulator) release(ctx context.Context, ds *fluidv1.Dataset, name string) (string, error) {
	left := ds.RemoveDataOperationInProgress("DataLoad", name)
	return left, s.client.Status().Update(ctx, ds)
}

var imageCacheGVK = schema.GroupVersionKind{Group: "eci.alibabacloud.com", Version: "v1", Kind: "ImageCache"}

func (s *Simulator) stepImageCaches(ctx context.Context, now time.Time) error {
	for name, p := range s.script.ImageCaches {
		ic := &unstructured.Unstructured{}
		ic.SetGroupVersionKind(imageCacheGVK)
		if err := s.client.Get(ctx, types.NamespacedName{Name: name}, ic); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("get ImageCache %s: %w", name, err)
		}
		phase, _, _ := unstructured.NestedString(ic.Object, "status", "phase")
		if phase == "Ready" || phase == "Failed" {
			continue
		}
		first := s.seen("ImageCache", name, now)
		status := map[string]any{"phase": "Creating", "progress": "0%", "startTime": first.UTC().Format(time.RFC3339)}
		if now.Sub(first) >= p.ReadyAfter {
			status = map[string]any{"phase": "Ready", "progress": "100%", "imageCacheId": "imc-sim-" + name,
				"startTime": first.UTC().Format(time.RFC3339), "lastUpdatedTime": now.UTC().Format(time.RFC3339)}
			if p.Fail {
				events := make([]any, 0, len(p.Events))
				for _, e := range p.Events {
					events = append(events, e)
				}
				status = map[string]any{"phase": "Failed", "progress": "0%", "events": events}
			}
		} else if phase == "Creating" {
			continue
		}
		ic.Object["status"] = status
		if err := s.client.Status().Update(ctx, ic); err != nil {
			return err
		}
	}
	return nil
}
