package ecisim

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/argo-eci/argo-eci/eci"
)

// Annotations the simulator reads or writes besides ECI's own (prefix eci-simulator.argo-eci.io/).
const (
	annotationPrefix = "eci-simulator.argo-eci.io/"
	// AnnotationManaged (value "true") on a Node makes the simulator play ECI for its pods.
	AnnotationManaged = annotationPrefix + "managed"
	// AnnotationMemoryUse on a pod is its simulated peak memory use (a quantity such as 6Gi).
	AnnotationMemoryUse = annotationPrefix + "memory-use"
	// AnnotationZone, AnnotationVSwitch and AnnotationMarket record where and how the instance was
	// created (ECI itself reports these through its API rather than on the pod).
	AnnotationZone    = annotationPrefix + "zone"
	AnnotationVSwitch = annotationPrefix + "vswitch"
	AnnotationMarket  = annotationPrefix + "market"
	// AnnotationCreatedAt is when the instance was created (RFC 3339, billing starts here).
	AnnotationCreatedAt = annotationPrefix + "created-at"
	// AnnotationReleaseAt is when a spot instance picked for reclaim will be released.
	AnnotationReleaseAt = annotationPrefix + "release-at"
)

// Request is what a pod asks ECI for.
type Request struct {
	Specs          []eci.Spec // in order
	VSwitches      []string   // in order; empty = the default zone
	Random         bool       // VSwitchRandom
	Spot           bool
	SpotPriceLimit float64 // 0 = SpotAsPriceGo
	SpotHours      int     // protection period
	SpotFallback   bool
	APIEvict       bool
	FailFast       bool
	MaxPending     int // minutes
	AutoIMC        bool
	IMCID          string
	MemoryUse      int64 // bytes, 0 = unknown
	MainLimit      int64 // bytes, 0 = none
	Images         []string
}

// ParseRequest reads a pod's ECI annotations and resources. Errors name the annotation, as ECI
// rejects a pod with a malformed one.
func ParseRequest(pod *corev1.Pod) (Request, error) {
	a := pod.Annotations
	r := Request{SpotHours: 1, MaxPending: eci.DefaultMaxPendingMinutes, AutoIMC: true}
	var err error
	if v := a[eci.AnnotationUseSpecs]; v != "" {
		if r.Specs, err = eci.ParseSpecList(v); err != nil {
			return r, fmt.Errorf("%s: %w", eci.AnnotationUseSpecs, err)
		}
	} else {
		s, ok := podSpec(pod)
		if !ok {
			return r, fmt.Errorf("resources: the containers need more than ECI's largest spec")
		}
		r.Specs = []eci.Spec{s}
	}
	for _, v := range strings.Split(a[eci.AnnotationVSwitch], ",") {
		if v = strings.TrimSpace(v); v != "" {
			r.VSwitches = append(r.VSwitches, v)
		}
	}
	switch s := a[eci.AnnotationScheduleStrategy]; s {
	case "", "VSwitchOrdered":
	case "VSwitchRandom":
		r.Random = true
	default:
		return r, fmt.Errorf("%s: %q is not VSwitchOrdered or VSwitchRandom", eci.AnnotationScheduleStrategy, s)
	}
	if err := r.parseSpot(a); err != nil {
		return r, err
	}
	if err := r.parseFailure(a); err != nil {
		return r, err
	}
	r.AutoIMC = a[eci.AnnotationAutoIMC] != "false" && a[eci.AnnotationImageCache] != "false"
	r.IMCID = a[eci.AnnotationIMCID]
	if r.IMCID == "" {
		r.IMCID = a[eci.AnnotationImageSnapshotID]
	}
	if v := a[AnnotationMemoryUse]; v != "" {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return r, fmt.Errorf("%s: %w", AnnotationMemoryUse, err)
		}
		r.MemoryUse = q.Value()
	}
	for _, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		r.Images = append(r.Images, c.Image)
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && c.Name == "main" {
			r.MainLimit = q.Value()
		}
	}
	return r, nil
}

func (r *Request) parseSpot(a map[string]string) error {
	switch s := a[eci.AnnotationSpotStrategy]; s {
	case "":
		return nil
	case eci.SpotStrategyAsPriceGo:
	case eci.SpotStrategyWithPriceLimit:
		p, err := strconv.ParseFloat(a[eci.AnnotationSpotPriceLimit], 64)
		if err != nil || !(p > 0) || math.IsInf(p, 0) {
			return fmt.Errorf("%s: %q is not a positive hourly price (required with SpotWithPriceLimit)", eci.AnnotationSpotPriceLimit, a[eci.AnnotationSpotPriceLimit])
		}
		r.SpotPriceLimit = p
	default:
		return fmt.Errorf("%s: %q is not SpotAsPriceGo or SpotWithPriceLimit", eci.AnnotationSpotStrategy, s)
	}
	r.Spot = true
	if v, ok := a[eci.AnnotationSpotDuration]; ok {
		h, err := strconv.Atoi(v)
		if err != nil || (h != 0 && h != 1) {
			return fmt.Errorf("%s: %q is not 0 or 1", eci.AnnotationSpotDuration, v)
		}
		r.SpotHours = h
	}
	r.SpotFallback = a[eci.AnnotationSpotFallback] == "true"
	r.APIEvict = a[eci.AnnotationSpotReleaseStrategy] == eci.SpotReleaseAPIEvict
	return nil
}

func (r *Request) parseFailure(a map[string]string) error {
	switch s := a[eci.AnnotationFailStrategy]; s {
	case "", eci.FailStrategyFailBack, eci.FailStrategyFailOver:
	case eci.FailStrategyFailFast:
		r.FailFast = true
	default:
		return fmt.Errorf("%s: %q is not fail-back, fail-over or fail-fast", eci.AnnotationFailStrategy, s)
	}
	if v, ok := a[eci.AnnotationMaxPendingMinute]; ok {
		m, err := strconv.Atoi(v)
		if err != nil || m < 10 || m > 1440 {
			return fmt.Errorf("%s: %q is not a number of minutes in 10..1440", eci.AnnotationMaxPendingMinute, v)
		}
		r.MaxPending = m
	}
	return nil
}

// podSpec is what ECI bills a pod without eci-use-specs: the containers' limits (requests where no
// limit is set) summed, or the largest init container if larger, rounded up to the catalog; 2-4Gi
// when nothing is declared. Containers with __ECI_RESOURCE_IGNORE__=TRUE do not count.
func podSpec(pod *corev1.Pod) (eci.Spec, bool) {
	var cpu, mem int64
	for _, c := range pod.Spec.Containers {
		if !ignored(c) {
			cpu += amount(c, corev1.ResourceCPU).MilliValue()
			mem += amount(c, corev1.ResourceMemory).Value()
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if !ignored(c) {
			cpu = max(cpu, amount(c, corev1.ResourceCPU).MilliValue())
			mem = max(mem, amount(c, corev1.ResourceMemory).Value())
		}
	}
	if cpu == 0 && mem == 0 {
		return eci.DefaultSpec, true
	}
	return eci.RoundUp(cpu, (mem+1<<20-1)>>20)
}

func amount(c corev1.Container, name corev1.ResourceName) *resource.Quantity {
	if q, ok := c.Resources.Limits[name]; ok {
		return &q
	}
	q := c.Resources.Requests[name]
	return &q
}

func ignored(c corev1.Container) bool {
	for _, e := range c.Env {
		if e.Name == eci.EnvResourceIgnore && strings.EqualFold(e.Value, "TRUE") {
			return true
		}
	}
	return false
}

// WrittenBack reports whether the simulator writes annotation key onto the pods it places (its own
// records and ECI's write-back: instance id and spec, matched image cache); the pod's creator
// (Argo's controller, the webhook) never sets these. AnnotationMemoryUse is the creator's.
func WrittenBack(key string) bool {
	switch key {
	case eci.AnnotationInstanceID, eci.AnnotationInstanceSpec, eci.AnnotationMatchedIMC:
		return true
	case AnnotationMemoryUse, AnnotationManaged:
		return false
	}
	return strings.HasPrefix(key, annotationPrefix)
}
