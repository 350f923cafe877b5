package emissary

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/eci"
)

// need is what ECI sums for a pod: per container the limit, else the request.
type need struct {
	milliCPU, memMiB int64
	gpu              int64
	declared         bool     // some counted container declares CPU or memory
	limits, requests bool     // which of the two the sum used
	ignored          []string // containers left out (__ECI_RESOURCE_IGNORE__=TRUE)
	podLevel         bool     // pod-level resources (pod.spec.resources) decided the sum
}

// isIgnored reports whether c carries __ECI_RESOURCE_IGNORE__=TRUE.
func isIgnored(c *corev1.Container) bool {
	for i := range c.Env {
		if c.Env[i].Name == eci.EnvResourceIgnore {
			return strings.EqualFold(c.Env[i].Value, "true")
		}
	}
	return false
}

type amount struct {
	cpu, mem, gpu    int64
	limits, requests bool // which of the two were used
}

func (a *amount) add(b amount) {
	a.cpu, a.mem, a.gpu = a.cpu+b.cpu, a.mem+b.mem, a.gpu+b.gpu
	a.limits, a.requests = a.limits || b.limits, a.requests || b.requests
}

// containerAmount is what ECI counts for one container: per resource the limit, else the request.
// declared reports whether the container states CPU or memory at all.
func containerAmount(c *corev1.Container) (a amount, declared bool) {
	pick := func(name corev1.ResourceName) (int64, bool) {
		if q, ok := c.Resources.Limits[name]; ok {
			a.limits = true
			return quantityValue(name, q.MilliValue(), q.Value()), true
		}
		if q, ok := c.Resources.Requests[name]; ok {
			a.requests = true
			return quantityValue(name, q.MilliValue(), q.Value()), true
		}
		return 0, false
	}
	var okC, okM bool
	a.cpu, okC = pick(corev1.ResourceCPU)
	a.mem, okM = pick(corev1.ResourceMemory)
	a.gpu, _ = pick(eci.ResourceGPU)
	return a, okC || okM
}

func quantityValue(name corev1.ResourceName, milli, value int64) int64 {
	switch name {
	case corev1.ResourceCPU:
		return milli
	case corev1.ResourceMemory:
		return (value + (1<<20 - 1)) >> 20 // bytes → MiB, rounded up
	}
	return value
}

// computeNeed sums the containers the way ECI bills them: regular containers (and restartable init
// sidecars) add up; each ordinary init container runs alone, so the pod needs the larger of the
// biggest init phase and the sum. Containers with __ECI_RESOURCE_IGNORE__=TRUE are left out.
// declared is set when a container other than Argo's own states CPU or memory.
func computeNeed(inits, containers []corev1.Container) need {
	var n need
	var sum, sidecars amount
	var initPeak amount
	count := func(c *corev1.Container) (amount, bool) {
		if isIgnored(c) {
			n.ignored = append(n.ignored, c.Name)
			return amount{}, false
		}
		a, declared := containerAmount(c)
		if declared && !IsExecutorContainer(c.Name) {
			n.declared = true
		}
		return a, true
	}
	for i := range containers {
		if a, ok := count(&containers[i]); ok {
			sum.add(a)
		}
	}
	for i := range inits {
		c := &inits[i]
		a, ok := count(c)
		if !ok {
			continue
		}
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars.add(a)
			continue
		}
		phase := sidecars
		phase.add(a)
		if phase.cpu > initPeak.cpu || phase.mem > initPeak.mem {
			initPeak.limits, initPeak.requests = initPeak.limits || phase.limits, initPeak.requests || phase.requests
		}
		initPeak.cpu, initPeak.mem, initPeak.gpu = max(initPeak.cpu, phase.cpu), max(initPeak.mem, phase.mem), max(initPeak.gpu, phase.gpu)
	}
	sum.add(sidecars)
	n.milliCPU, n.memMiB, n.gpu = max(sum.cpu, initPeak.cpu), max(sum.mem, initPeak.mem), max(sum.gpu, initPeak.gpu)
	n.limits, n.requests = sum.limits, sum.requests
	if initPeak.cpu > sum.cpu || initPeak.mem > sum.mem {
		n.limits, n.requests = n.limits || initPeak.limits, n.requests || initPeak.requests
	}
	return n
}

// describe renders the need for spec-reason: "sum of limits 1.5 vCPU/3Gi (wait ignored)".
func (n need) describe() string {
	src := "limits"
	switch {
	case n.limits && n.requests:
		src = "limits/requests"
	case n.requests:
		src = "requests"
	}
	what := "sum of " + src
	if n.podLevel {
		what = "pod-level resources"
	}
	s := fmt.Sprintf("%s %s vCPU/%s", what, trimFloat(float64(n.milliCPU)/1000), formatMiB(n.memMiB))
	if len(n.ignored) > 0 {
		s += " (" + strings.Join(n.ignored, ",") + " ignored)"
	}
	return s
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.3f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func formatMiB(m int64) string {
	if m < 1024 {
		return fmt.Sprintf("%dMi", m)
	}
	return trimFloat(float64(m)/1024) + "Gi"
}

// withPodLevel applies pod-level resources (pod.spec.resources, set by Argo v4.1's podResources)
// to the summed need. ECI's documentation does not say how it bills them; argo-eci sizes the pod
// to the pod-level limit where one is set (the cap every container shares), else to the larger of
// the pod-level request and the containers' sum.
func withPodLevel(n need, r *corev1.ResourceRequirements) need {
	if r == nil {
		return n
	}
	pick := func(name corev1.ResourceName, sum int64) (int64, bool) {
		if q, ok := r.Limits[name]; ok {
			return quantityValue(name, q.MilliValue(), q.Value()), true
		}
		if q, ok := r.Requests[name]; ok {
			return max(sum, quantityValue(name, q.MilliValue(), q.Value())), true
		}
		return sum, false
	}
	var okC, okM bool
	n.milliCPU, okC = pick(corev1.ResourceCPU, n.milliCPU)
	n.memMiB, okM = pick(corev1.ResourceMemory, n.memMiB)
	if okC || okM {
		n.declared, n.podLevel = true, true
	}
	return n
}
