package recovery

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/argo-eci/argo-eci/eci"
)

// NextMemory returns the cheapest vCPU/memory spec with the same vCPUs and more memory than s, or,
// when s's vCPU row has no more memory, the smallest spec with more vCPUs and more memory. ok is
// false for the largest specs and for ECS types of unknown size.
func NextMemory(s eci.Spec) (eci.Spec, bool) {
	cpu, mem, ok := eci.SpecSize(s)
	if !ok {
		return eci.Spec{}, false
	}
	for _, c := range eci.Catalog() {
		if c.MilliCPU == cpu && c.MemoryMiB > mem {
			return c, true
		}
	}
	return eci.RoundUp(cpu, mem+1)
}

// moreMemory steps every spec up min(ooms, max) times and raises the main container's memory limit
// by what the first spec gained. Without eci-use-specs it starts from what ECI would bill for the
// pod's resources.
func (d *Decision) moreMemory(pod *corev1.Pod, specs []eci.Spec, ooms, max int) []eci.Spec {
	steps := min(ooms, max)
	if steps == 0 {
		d.Reasons = append(d.Reasons, fmt.Sprintf("no more memory after %d OOMKill(s): maxMemorySteps is %d", ooms, max))
		return specs
	}
	if len(specs) == 0 {
		cpu, mem := podNeed(pod)
		s, ok := eci.RoundUp(cpu, mem)
		if !ok {
			return specs
		}
		specs = []eci.Spec{s}
	}
	_, before, _ := eci.SpecSize(specs[0])
	out := make([]eci.Spec, 0, len(specs))
	seen := map[eci.Spec]bool{}
	for _, s := range specs {
		for i := 0; i < steps; i++ {
			next, ok := NextMemory(s)
			if !ok {
				break
			}
			s = next
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	_, after, _ := eci.SpecSize(out[0])
	d.Reasons = append(d.Reasons, fmt.Sprintf("%s after %d OOMKill(s) (%d memory step(s), at most %d)", out[0], ooms, steps, max))
	if lim, ok := mainMemoryLimit(pod); ok && after > before {
		lim.Add(*resource.NewQuantity((after-before)*1024*1024, resource.BinarySI))
		d.MainMemoryLimit = &lim
	}
	return out
}

func mainMemoryLimit(pod *corev1.Pod) (resource.Quantity, bool) {
	for _, c := range pod.Spec.Containers {
		if c.Name == "main" {
			q, ok := c.Resources.Limits[corev1.ResourceMemory]
			return q.DeepCopy(), ok
		}
	}
	return resource.Quantity{}, false
}

// podNeed sums the containers' limits (requests where no limit is set), leaving out containers
// marked with eci.EnvResourceIgnore, as ECI does.
func podNeed(pod *corev1.Pod) (milliCPU, memMiB int64) {
	for _, c := range pod.Spec.Containers {
		if ignored(c) {
			continue
		}
		milliCPU += pick(c.Resources, corev1.ResourceCPU).MilliValue()
		memMiB += (pick(c.Resources, corev1.ResourceMemory).Value() + 1<<20 - 1) >> 20
	}
	return milliCPU, memMiB
}

func pick(r corev1.ResourceRequirements, name corev1.ResourceName) *resource.Quantity {
	if q, ok := r.Limits[name]; ok {
		return &q
	}
	q := r.Requests[name]
	return &q
}

func ignored(c corev1.Container) bool {
	for _, e := range c.Env {
		if e.Name == eci.EnvResourceIgnore && e.Value == "TRUE" {
			return true
		}
	}
	return false
}

// rotate starts the spec and vSwitch lists k places later, fills the spec list up to ECI's
// maximum with the next larger specs, and lets spot fall back to pay-as-you-go.
func (d *Decision) rotate(ann map[string]string, specs []eci.Spec, k int, spot bool) []eci.Spec {
	if len(specs) > 0 {
		specs = rotated(specs, k)
		if extra := eci.MaxSpecs - len(specs); extra > 0 && largest(specs).MilliCPU > 0 {
			specs = appendNew(specs, eci.Fallbacks(largest(specs), extra))
		}
	}
	if v := ann[eci.AnnotationVSwitch]; v != "" {
		vs := splitList(v)
		d.set(eci.AnnotationVSwitch, joinList(rotated(vs, k)), "")
	}
	if spot && ann[eci.AnnotationSpotFallback] != "true" {
		d.set(eci.AnnotationSpotFallback, "true", "")
	}
	d.Reasons = append(d.Reasons, fmt.Sprintf("specs and zones rotated after %d stock-out(s)", k))
	return specs
}

func rotated[T any](in []T, k int) []T {
	if len(in) == 0 {
		return in
	}
	k %= len(in)
	return append(append([]T(nil), in[k:]...), in[:k]...)
}

func appendNew(specs, more []eci.Spec) []eci.Spec {
	for _, m := range more {
		dup := false
		for _, s := range specs {
			dup = dup || s == m
		}
		if !dup && len(specs) < eci.MaxSpecs {
			specs = append(specs, m)
		}
	}
	return specs
}

// largest is the vCPU/memory spec with the most memory, then vCPUs; ECS types count by size.
func largest(specs []eci.Spec) eci.Spec {
	var best eci.Spec
	var bc, bm int64
	for _, s := range specs {
		c, m, ok := eci.SpecSize(s)
		if ok && (m > bm || (m == bm && c > bc)) {
			best, bc, bm = eci.Spec{MilliCPU: c, MemoryMiB: m}, c, m
		}
	}
	return best
}
