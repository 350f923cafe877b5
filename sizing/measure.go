package sizing

import (
	"math"
	"time"
)

// Point is one value of a usage series at a query step.
type Point struct {
	T time.Time
	V float64
}

// MeasureRun turns a pod's usage series into a Run: cpu holds the pod's CPU usage rate in vCPU and
// mem its memory working set in bytes, each point the highest value within the step ending at T
// (as max_over_time over the step gives). Points outside [start, end + step) are ignored. Coverage
// is the share of the run's steps that have a memory point; a run shorter than one step needs one.
func MeasureRun(pod string, start, end time.Time, step time.Duration, cpu, mem []Point) Run {
	r := Run{Pod: pod, Start: start, End: end}
	in := func(t time.Time) bool { return !t.Before(start) && t.Before(end.Add(step)) }
	seen := map[int64]bool{}
	for _, p := range mem {
		if !in(p.T) || math.IsNaN(p.V) {
			continue
		}
		seen[p.T.UnixMilli()] = true
		r.PeakMemory = max(r.PeakMemory, int64(math.Ceil(p.V)))
	}
	for _, p := range cpu {
		if !in(p.T) || math.IsNaN(p.V) {
			continue
		}
		r.CPUSamples++
		r.PeakCPU = math.Max(r.PeakCPU, p.V)
	}
	expected := math.Max(1, math.Floor(end.Sub(start).Seconds()/step.Seconds()))
	r.Coverage = math.Min(1, float64(len(seen))/expected)
	return r
}
