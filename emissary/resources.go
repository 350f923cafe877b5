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

type amount struct{ cpu, mem, gpu int64 }

func (n *need) containerAmount(c *corev1.Container) amount {
	var a amount
	pick := func(name corev1.ResourceName) (int64, bool) {
		if q, ok := c.Resources.Limits[name]; ok {
			n.limits = true
			return quantityValue(name, q.MilliValue(), q.Value()), true
		}
		if q, ok := c.Resources.Requests[name]; ok {
			n.requests = true
			return quantityValue(name, q.MilliValue(), q.Value()), true
		}
		return 0, false
	}
	var okC, okM bool
	a.cpu, okC = pick(corev1.ResourceCPU)
	a.mem, okM = pick(corev1.ResourceMemory)
	a.gpu, _ = pick(eci.ResourceGPU)
	if okC || okM {
		n.declared = true
	}
	return a
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
func computeNeed(inits, containers []corev1.Container) need {
	var n need
	var sum, sidecars, initPeak amount
	for i := range containers {
		c := &containers[i]
		if isIgnored(c) {
			n.ignored = append(n.ignored, c.Name)
			continue
		}
		a := n.containerAmount(c)
		sum.cpu, sum.mem, sum.gpu = sum.cpu+a.cpu, sum.mem+a.mem, sum.gpu+a.gpu
	}
	for i := range inits {
		c := &inits[i]
		if isIgnored(c) {
			n.ignored = append(n.ignored, c.Name)
			continue
		}
		a := n.containerAmount(c)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars.cpu, sidecars.mem, sidecars.gpu = sidecars.cpu+a.cpu, sidecars.mem+a.mem, sidecars.gpu+a.gpu
			continue
		}
		initPeak.cpu = max(initPeak.cpu, sidecars.cpu+a.cpu)
		initPeak.mem = max(initPeak.mem, sidecars.mem+a.mem)
		initPeak.gpu = max(initPeak.gpu, sidecars.gpu+a.gpu)
	}
	n.milliCPU = max(sum.cpu+sidecars.cpu, initPeak.cpu)
	n.memMiB = max(sum.mem+sidecars.mem, initPeak.mem)
	n.gpu = max(sum.gpu+sidecars.gpu, initPeak.gpu)
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
	s := fmt.Sprintf("sum of %s %s vCPU/%s", src, trimFloat(float64(n.milliCPU)/1000), formatMiB(n.memMiB))
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
	if m%1024 == 0 || m >= 10*1024 {
		return trimFloat(float64(m)/1024) + "Gi"
	}
	if m >= 1024 {
		return trimFloat(float64(m)/1024) + "Gi"
	}
	return fmt.Sprintf("%dMi", m)
}
