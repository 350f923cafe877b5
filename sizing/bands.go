package sizing

import (
	"fmt"
	"math"
	"time"

	"github.com/argo-eci/argo-eci/eci"
)

// Band is the recommendation of one time-of-day band of a template: learned from the runs that
// started at local hours [FromHour, ToHour) in the recommendation's time zone.
type Band struct {
	FromHour, ToHour int
	Recommendation
}

func (o Options) bandMinRuns() int {
	if o.BandMinRuns == 0 {
		return o.MinRuns
	}
	return o.BandMinRuns
}

func (o Options) zone() *time.Location {
	if o.TimeZone == nil {
		return time.UTC
	}
	return o.TimeZone
}

// BandOf is the index of the band t falls in when the day in loc (nil: UTC) is split into n equal
// bands (n a divisor of 24).
func BandOf(t time.Time, n int, loc *time.Location) int {
	if loc == nil {
		loc = time.UTC
	}
	if n < 2 {
		return 0
	}
	return t.In(loc).Hour() / (24 / n)
}

// recommendBands learns every band with at least BandMinRuns usable runs of its own. Bands whose
// runs are too few (or need more than any spec) are left out: the whole template's spec holds
// there. A band's memory is never below the highest peak seen in the bands either side of it: a
// run that starts late in one band can use what the next one does. Neither target is above the
// whole template's, which already covers every run of the band (a percentile over the band's
// fewer runs can land higher). When no band differs from whole, the result is nil.
func recommendBands(id Identity, runs []Run, declared eci.Spec, o Options, whole *Recommendation) []Band {
	loc, width := o.zone(), 24/o.Bands
	byBand := make([][]Run, o.Bands)
	peak := make([]float64, o.Bands)
	for _, r := range runs {
		b := BandOf(r.Start, o.Bands, loc)
		byBand[b] = append(byBand[b], r)
		peak[b] = math.Max(peak[b], float64(r.PeakMemory))
	}
	var out []Band
	differs := false
	for i, rs := range byBand {
		from, to := i*width, (i+1)*width
		bo := o
		bo.MinRuns = o.bandMinRuns()
		rec, err := recommend(id, rs, declared, bo, &bandLimits{
			scope:    fmt.Sprintf(" started %02d:00–%02d:00 %s", from, to, loc),
			memFloor: math.Max(peak[(i+o.Bands-1)%o.Bands], peak[(i+1)%o.Bands]),
			whole:    whole,
		})
		if err != nil {
			continue
		}
		differs = differs || rec.Spec != whole.Spec
		out = append(out, Band{FromHour: from, ToHour: to, Recommendation: *rec})
	}
	if !differs {
		return nil
	}
	return out
}

// At is the recommendation for a run created at t: its band's when the band was learned, else the
// whole template's (also for the zero t, when the creation time is not known).
func (r *Recommendation) At(t time.Time) *Recommendation {
	if len(r.Bands) == 0 || t.IsZero() {
		return r
	}
	loc := r.TimeZone
	if loc == nil {
		loc = time.UTC
	}
	h := t.In(loc).Hour()
	for i := range r.Bands {
		if r.Bands[i].FromHour <= h && h < r.Bands[i].ToHour {
			return &r.Bands[i].Recommendation
		}
	}
	return r
}
