package cost

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/argo-eci/argo-eci/eci"
)

// Prices says how to price attempts.
type Prices struct {
	// SpotRatio is the spot price as a fraction of the list price (Alibaba publishes 0.1..0.7).
	SpotRatio float64
}

// DefaultPrices prices spot at 0.2 of list, within the published range.
func DefaultPrices() Prices { return Prices{SpotRatio: 0.2} }

// Validate reports a spot ratio outside Alibaba's published range.
func (p Prices) Validate(path *field.Path) field.ErrorList {
	if p.SpotRatio < eci.SpotPriceRatioMin || p.SpotRatio > eci.SpotPriceRatioMax {
		return field.ErrorList{field.Invalid(path.Child("spotRatio"), p.SpotRatio,
			fmt.Sprintf("must be %g..%g (spot is 30-90%% off the list price)", eci.SpotPriceRatioMin, eci.SpotPriceRatioMax))}
	}
	return nil
}

// Price returns the attempt's cost at list price and as billed (spot at SpotRatio of list). ok is
// false when the spec's price is unknown (GPU and other ECS types of unknown size).
func (p Prices) Price(a Attempt) (list, billed float64, ok bool) {
	if a.Spec == "" || a.Seconds == 0 {
		return 0, 0, true
	}
	s, err := eci.ParseSpec(a.Spec)
	if err != nil {
		return 0, 0, false
	}
	hourly, ok := eci.EstimatedHourlyPrice(s)
	if !ok {
		return 0, 0, false
	}
	list = hourly * a.Seconds / 3600
	billed = list
	if a.Spot {
		billed = list * p.SpotRatio
	}
	return list, billed, true
}

// Line adds up the attempts of one template of one workflow (or, with Template "", a workflow;
// with Workflow "" too, everything).
type Line struct {
	Workflow string   `json:"workflow,omitempty"`
	Template string   `json:"template,omitempty"`
	Specs    []string `json:"specs"`
	Attempts int      `json:"attempts"`
	// Retries are attempts after a step's first; Failed attempts ended without success.
	Retries int `json:"retries"`
	Failed  int `json:"failed"`
	// SpotAttempts and OnDemandAttempts split the attempts that got an instance.
	SpotAttempts     int     `json:"spotAttempts"`
	OnDemandAttempts int     `json:"onDemandAttempts"`
	Seconds          float64 `json:"seconds"`
	SpotSeconds      float64 `json:"spotSeconds"`
	ListCNY          float64 `json:"listCNY"`
	BilledCNY        float64 `json:"billedCNY"`
	// WastedCNY is what failed attempts cost.
	WastedCNY float64 `json:"wastedCNY"`
	// Unpriced counts attempts whose spec has no known price (left out of the CNY sums).
	Unpriced int `json:"unpriced,omitempty"`
}

func (l *Line) add(a Attempt, p Prices) {
	l.Attempts++
	if a.Retry > 0 {
		l.Retries++
	}
	if a.Failed() {
		l.Failed++
	}
	if a.Spec != "" {
		if a.Spot {
			l.SpotAttempts++
			l.SpotSeconds += a.Seconds
		} else {
			l.OnDemandAttempts++
		}
		if !contains(l.Specs, a.Spec) {
			l.Specs = append(l.Specs, a.Spec)
			sort.Strings(l.Specs)
		}
	}
	l.Seconds += a.Seconds
	list, billed, ok := p.Price(a)
	if !ok {
		l.Unpriced++
		return
	}
	l.ListCNY += list
	l.BilledCNY += billed
	if a.Failed() {
		l.WastedCNY += billed
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Report is the cost of a set of attempts.
type Report struct {
	Templates []Line    `json:"templates"`
	Workflows []Line    `json:"workflows"`
	Total     Line      `json:"total"`
	Attempts  []Attempt `json:"attempts"`
	SpotRatio float64   `json:"spotRatio"`
}

// Summarize adds attempts up per workflow and template, per workflow, and in total, each sorted
// by name.
func Summarize(attempts []Attempt, p Prices) Report {
	r := Report{Attempts: attempts, SpotRatio: p.SpotRatio}
	tmpl := map[[2]string]*Line{}
	wf := map[string]*Line{}
	for _, a := range attempts {
		k := [2]string{a.Workflow, a.Template}
		if tmpl[k] == nil {
			tmpl[k] = &Line{Workflow: a.Workflow, Template: a.Template, Specs: []string{}}
		}
		if wf[a.Workflow] == nil {
			wf[a.Workflow] = &Line{Workflow: a.Workflow, Specs: []string{}}
		}
		tmpl[k].add(a, p)
		wf[a.Workflow].add(a, p)
	}
	r.Total.Specs = []string{}
	for _, a := range attempts {
		r.Total.add(a, p)
	}
	for _, l := range tmpl {
		r.Templates = append(r.Templates, *l)
	}
	for _, l := range wf {
		r.Workflows = append(r.Workflows, *l)
	}
	sort.Slice(r.Templates, func(i, j int) bool {
		a, b := r.Templates[i], r.Templates[j]
		return a.Workflow < b.Workflow || (a.Workflow == b.Workflow && a.Template < b.Template)
	})
	sort.Slice(r.Workflows, func(i, j int) bool { return r.Workflows[i].Workflow < r.Workflows[j].Workflow })
	return r
}
