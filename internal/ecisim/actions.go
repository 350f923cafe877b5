package ecisim

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/eci"
)

// AnnotationEnded marks a pod the simulator ended (value: the reason). kwok's stages stop playing
// the pod once it is set, so a completion kwok had scheduled cannot overwrite the failure.
const AnnotationEnded = annotationPrefix + "ended"

// Event reasons the simulator records besides ECI's own (NoStock, SpotToBeReleased, BidFailed).
const (
	EventInstanceCreated = "InstanceCreated"
	EventProviderFailed  = eci.ReasonProviderFailed
	EventSpotEvicted     = "SpotEvicted"
	EventOOMKilled       = eci.ReasonOOMKilled
	EventStillPending    = "StillPending"
)

// create finds stock for a Pending pod, or fails it, or keeps it Pending.
func (s *Simulator) create(ctx context.Context, pod *corev1.Pod, cfg *Config) (time.Duration, error) {
	req, err := ParseRequest(pod)
	if err != nil {
		return 0, s.fail(ctx, pod, eci.ReasonProviderFailed, "ProviderFailed: invalid pod: "+err.Error(), nil)
	}
	caches, err := s.readyImageCaches(ctx)
	if err != nil {
		return 0, err
	}
	withCaches := *cfg
	withCaches.ImageCaches = append(append([]ImageCache(nil), cfg.ImageCaches...), caches...)
	pl, out, ok := Place(req, &withCaches, s.shuffle)
	if ok {
		return 0, s.place(ctx, pod, pl)
	}
	if req.FailFast {
		s.event(ctx, pod, corev1.EventTypeWarning, eci.ReasonNoStock, out.Message())
		return 0, s.fail(ctx, pod, eci.ReasonProviderFailed, "ProviderFailed: "+out.Message()+" (eci-fail-strategy fail-fast)", nil)
	}
	limit := cfg.scaled(float64(req.MaxPending))
	waited := s.Now().Sub(pod.CreationTimestamp.Time)
	if waited >= limit {
		return 0, s.fail(ctx, pod, eci.ReasonProviderFailed, fmt.Sprintf("ProviderFailed: %s; still no stock after eci-max-pending-minute %d", out.Message(), req.MaxPending), nil)
	}
	if !hasCondition(pod, eci.ConditionContainerInstanceCreated, corev1.ConditionFalse) {
		s.Logger.Info("eci simulator: no stock, pod stays pending", "pod", key(pod), "tried", out.Message(), "maxPendingMinute", req.MaxPending)
		s.event(ctx, pod, corev1.EventTypeWarning, eci.ReasonNoStock, out.Message())
		cond := corev1.PodCondition{Type: eci.ConditionContainerInstanceCreated, Status: corev1.ConditionFalse,
			Reason: eci.ReasonNoStock, Message: out.Message(), LastTransitionTime: s.now()}
		if err := s.patchStatus(ctx, pod, map[string]any{"conditions": []corev1.PodCondition{cond}}); err != nil {
			return 0, err
		}
	}
	return min(cfg.scaled(1), limit-waited) + time.Millisecond, nil
}

// place writes back what ECI writes once the instance exists; kwok then runs the pod.
func (s *Simulator) place(ctx context.Context, pod *corev1.Pod, pl Placement) error {
	id := instanceID(string(pod.UID))
	ann := map[string]any{
		eci.AnnotationInstanceID: id, eci.AnnotationInstanceSpec: billedSpec(pl.Spec),
		AnnotationZone: pl.Zone, AnnotationMarket: string(pl.Market),
		AnnotationCreatedAt: s.Now().UTC().Format(time.RFC3339Nano),
	}
	if pl.VSwitch != "" {
		ann[AnnotationVSwitch] = pl.VSwitch
	}
	if pl.ImageCache != "" {
		ann[eci.AnnotationMatchedIMC] = pl.ImageCache
	}
	if !s.first(pod, "create") {
		return nil
	}
	cond := corev1.PodCondition{Type: eci.ConditionContainerInstanceCreated, Status: corev1.ConditionTrue,
		Reason: "Created", Message: "instance " + id, LastTransitionTime: s.now()}
	if err := s.patchAnnotations(ctx, pod, ann); err != nil {
		s.forget(pod, "create")
		return err
	}
	if err := s.patchStatus(ctx, pod, map[string]any{"conditions": []corev1.PodCondition{cond}}); err != nil {
		return err
	}
	msg := fmt.Sprintf("instance %s: spec %s, %s, zone %s", id, billedSpec(pl.Spec), pl.Market, pl.Zone)
	if pl.ImageCache != "" {
		msg += ", image cache " + pl.ImageCache
	}
	s.Logger.Info("eci simulator: instance created", "pod", key(pod), "instance", id, "spec", billedSpec(pl.Spec),
		"market", pl.Market, "zone", pl.Zone, "vswitch", pl.VSwitch, "imageCache", pl.ImageCache)
	s.event(ctx, pod, corev1.EventTypeNormal, EventInstanceCreated, msg)
	return nil
}

// running plays OOMKills and spot reclaims for a Running pod.
func (s *Simulator) running(ctx context.Context, pod *corev1.Pod, cfg *Config) (time.Duration, error) {
	req, err := ParseRequest(pod)
	if err != nil {
		return 0, nil
	}
	spec, err := eci.ParseSpec(pod.Annotations[eci.AnnotationInstanceSpec])
	if err != nil {
		return 0, nil
	}
	now := s.Now()
	var wait time.Duration
	if limit := oomLimit(req, spec); req.MemoryUse > 0 && limit > 0 && req.MemoryUse > limit {
		started := pod.CreationTimestamp.Time
		if pod.Status.StartTime != nil {
			started = pod.Status.StartTime.Time
		}
		if due := started.Add(cfg.OOMAfter.Duration); now.Before(due) {
			wait = due.Sub(now)
		} else {
			return 0, s.oomKill(ctx, pod, req.MemoryUse, limit)
		}
	}
	if Market(pod.Annotations[AnnotationMarket]) != MarketSpot {
		return wait, nil
	}
	next, err := s.spot(ctx, pod, cfg, req, spec)
	if wait == 0 || (next > 0 && next < wait) {
		wait = next
	}
	return wait, err
}

// spot runs the reclaim checks of a Running spot instance.
func (s *Simulator) spot(ctx context.Context, pod *corev1.Pod, cfg *Config, req Request, spec eci.Spec) (time.Duration, error) {
	now := s.Now()
	if at, err := time.Parse(time.RFC3339Nano, pod.Annotations[AnnotationReleaseAt]); err == nil {
		if now.Before(at) {
			return at.Sub(now), nil
		}
		return 0, s.release(ctx, pod, req)
	}
	created, err := time.Parse(time.RFC3339Nano, pod.Annotations[AnnotationCreatedAt])
	if err != nil {
		created = pod.CreationTimestamp.Time
	}
	protected := created.Add(cfg.scaled(60 * float64(req.SpotHours)))
	if now.Before(protected) {
		return protected.Sub(now), nil
	}
	lost := !cfg.Available(spec, pod.Annotations[AnnotationVSwitch], MarketSpot)
	if !lost && !pickedForReclaim(string(pod.UID), cfg.Spot.ReclaimFraction) {
		return cfg.scaled(5), nil
	}
	if !s.first(pod, "notice") {
		return cfg.scaled(3), nil
	}
	releaseAt := now.Add(cfg.scaled(3))
	why := "picked by the market"
	if lost {
		why = "spot stock ran out"
	}
	msg := fmt.Sprintf("The spot instance %s will be released in about 3 minutes (%s)", pod.Annotations[eci.AnnotationInstanceID], why)
	s.Logger.Info("eci simulator: spot instance to be released", "pod", key(pod), "releaseAt", releaseAt, "why", why)
	s.event(ctx, pod, corev1.EventTypeWarning, eci.EventSpotToBeReleased, msg)
	cond := corev1.PodCondition{Type: eci.ConditionContainerInstanceExpired, Status: corev1.ConditionTrue,
		Reason: eci.EventSpotToBeReleased, Message: msg, LastTransitionTime: s.now()}
	if err := s.patchStatus(ctx, pod, map[string]any{"conditions": []corev1.PodCondition{cond}}); err != nil {
		return 0, err
	}
	if err := s.patchAnnotations(ctx, pod, map[string]any{AnnotationReleaseAt: releaseAt.UTC().Format(time.RFC3339Nano)}); err != nil {
		s.forget(pod, "notice")
		return 0, err
	}
	return releaseAt.Sub(now), nil
}

// release ends a reclaimed spot instance: an eviction with api-evict, else Failed/BidFailed.
// An eviction stops the pod's containers with SIGTERM before the pod goes away; on a real kubelet
// Argo then records the main container's end ("main: Error (exit code 143)"), not "pod deleted",
// so the pod is ended that way first and then evicted.
func (s *Simulator) release(ctx context.Context, pod *corev1.Pod, req Request) error {
	id := pod.Annotations[eci.AnnotationInstanceID]
	if !req.APIEvict {
		return s.fail(ctx, pod, eci.ReasonBidFailed,
			fmt.Sprintf("BidFailed: the spot instance %s was released (%s)", id, eci.ConditionContainerInstanceExpired), exited(pod, 137, "ContainerInstanceExpired"))
	}
	if !s.first(pod, "evict") {
		return nil
	}
	msg := fmt.Sprintf("The spot instance %s was released; the pod was evicted through the Eviction API (eci-spot-release-strategy api-evict)", id)
	if err := s.fail(ctx, pod, "", "", exited(pod, sigtermExitCode, "Error"), EventSpotEvicted, msg); err != nil {
		s.forget(pod, "evict")
		return err
	}
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace}}
	if err := s.Kube.CoreV1().Pods(pod.Namespace).EvictV1(ctx, ev); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("evict %s: %w", key(pod), err)
	}
	s.Logger.Info("eci simulator: spot instance released by eviction", "pod", key(pod), "instance", id)
	return nil
}

// sigtermExitCode is how a container stopped by SIGTERM exits (128 + 15).
const sigtermExitCode = 143

// oomKill fails the pod as the kernel's OOM killer ends its main container.
func (s *Simulator) oomKill(ctx context.Context, pod *corev1.Pod, use, limit int64) error {
	statuses := exited(pod, 0, "Completed")
	for i := range statuses {
		if statuses[i].Name == "main" {
			statuses[i].State.Terminated.ExitCode = 137
			statuses[i].State.Terminated.Reason = eci.ReasonOOMKilled
		}
	}
	return s.fail(ctx, pod, "", "", statuses, EventOOMKilled, fmt.Sprintf("container main used %dMi, more than the %dMi it may use", use>>20, limit>>20))
}
