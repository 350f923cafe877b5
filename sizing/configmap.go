package sizing

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	_ "time/tzdata" // time zones of the sizing bands, also in images without a zone database

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/eci"
)

// ConfigMapName is the ConfigMap recommend --apply writes and the webhook reads (in the namespace of
// the argo-eci-profiles ConfigMap).
const ConfigMapName = "argo-eci-sizing"

// Entry is one template's learned spec as stored in the ConfigMap (one data key per template, see
// [Identity.Key]), with the evidence behind it.
type Entry struct {
	Namespace string    `json:"namespace"`
	Kind      OwnerKind `json:"kind"`
	Owner     string    `json:"owner"`
	Template  string    `json:"template"`
	// Spec is the ECI spec to bill, e.g. "2-4Gi".
	Spec string `json:"spec"`
	// Declared is the spec the template declared when it was learned.
	Declared string `json:"declared,omitempty"`
	Runs     int    `json:"runs"`
	OOMKills int    `json:"oomKills,omitempty"`
	Window   Window `json:"window"`
	// CPU holds the per-run CPU peaks in vCPU; Memory the per-run memory peaks.
	CPU    CPUStats    `json:"cpu"`
	Memory MemoryStats `json:"memory"`
	Reason string      `json:"reason"`
	// TimeZone and Bands are the specs learned per time-of-day band: a pod created at a local
	// hour in [from, to) of a band, in TimeZone (an IANA name), gets the band's spec; other hours,
	// and pods whose creation time is not known, get Spec. Entries learned without bands have none.
	TimeZone string      `json:"timeZone,omitempty"`
	Bands    []BandEntry `json:"bands,omitempty"`
}

// BandEntry is the learned spec of one time-of-day band, with the evidence of its runs.
type BandEntry struct {
	From     int         `json:"from"` // first local hour, 0–23
	To       int         `json:"to"`   // hour after the last, 1–24
	Spec     string      `json:"spec"`
	Runs     int         `json:"runs"`
	OOMKills int         `json:"oomKills,omitempty"`
	CPU      CPUStats    `json:"cpu"`
	Memory   MemoryStats `json:"memory"`
	Reason   string      `json:"reason"`
}

// Window is the time span of the runs an entry was learned from.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// CPUStats are per-run CPU peaks in vCPU.
type CPUStats struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

// MemoryStats are per-run memory peaks.
type MemoryStats struct {
	P50 resource.Quantity `json:"p50"`
	P95 resource.Quantity `json:"p95"`
	Max resource.Quantity `json:"max"`
}

// Identity is the template the entry is for.
func (e *Entry) Identity() Identity {
	return Identity{Namespace: e.Namespace, Kind: e.Kind, Owner: e.Owner, Template: e.Template}
}

// EntryOf is the stored form of a recommendation.
func EntryOf(r *Recommendation) Entry {
	e := Entry{
		Namespace: r.Identity.Namespace, Kind: r.Identity.Kind, Owner: r.Identity.Owner, Template: r.Identity.Template,
		Spec: r.Spec.String(), Runs: r.Runs, OOMKills: r.OOMKills,
		Window: Window{From: r.From.UTC().Truncate(time.Second), To: r.To.UTC().Truncate(time.Second)},
		CPU:    cpuStats(r.CPU),
		Memory: memoryStats(r.Memory),
		Reason: r.Reason,
	}
	if r.Declared != (eci.Spec{}) {
		e.Declared = r.Declared.String()
	}
	for _, b := range r.Bands {
		if e.TimeZone == "" {
			e.TimeZone = zoneName(r.TimeZone)
		}
		e.Bands = append(e.Bands, BandEntry{From: b.FromHour, To: b.ToHour, Spec: b.Spec.String(), Runs: b.Runs,
			OOMKills: b.OOMKills, CPU: cpuStats(b.CPU), Memory: memoryStats(b.Memory), Reason: b.Reason})
	}
	return e
}

func cpuStats(s Stats) CPUStats {
	round := func(v float64) float64 { return math.Ceil(v*1000) / 1000 }
	return CPUStats{P50: round(s.P50), P95: round(s.P95), Max: round(s.Max)}
}

func memoryStats(s Stats) MemoryStats {
	q := func(v float64) resource.Quantity {
		return *resource.NewQuantity(int64(math.Ceil(v)), resource.BinarySI)
	}
	return MemoryStats{P50: q(s.P50), P95: q(s.P95), Max: q(s.Max)}
}

func zoneName(loc *time.Location) string {
	if loc == nil {
		return "UTC"
	}
	return loc.String()
}

// Validate checks an entry as read from the ConfigMap: a known identity, a catalog spec that is
// not below the highest peak it records, ordered statistics, a one-line reason, and bands (when
// present) in a known time zone, in order, each valid the same way.
func (e *Entry) Validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if err := e.Identity().Validate(); err != nil {
		errs = append(errs, field.Invalid(path.Child("kind"), e.Kind, err.Error()))
	}
	errs = append(errs, validateLearned(path, e.Spec, e.Runs, e.OOMKills, e.CPU, e.Memory, e.Reason)...)
	if e.Declared != "" {
		if _, err := eci.ParseSpec(e.Declared); err != nil {
			errs = append(errs, field.Invalid(path.Child("declared"), e.Declared, err.Error()))
		}
	}
	if e.Window.From.IsZero() || e.Window.To.Before(e.Window.From) {
		errs = append(errs, field.Invalid(path.Child("window"), e.Window, "expected from ≤ to, both set"))
	}
	return append(errs, e.validateBands(path)...)
}

// validateLearned checks what an entry and its bands share: a vCPU/memory catalog spec not below
// the peaks recorded beside it, runs, ordered statistics and a one-line reason.
func validateLearned(path *field.Path, specText string, runs, oomKills int, cpu CPUStats, m MemoryStats, reason string) field.ErrorList {
	var errs field.ErrorList
	spec, err := eci.ParseSpec(specText)
	switch {
	case err != nil:
		errs = append(errs, field.Invalid(path.Child("spec"), specText, err.Error()))
	case spec.IsInstanceType():
		errs = append(errs, field.Invalid(path.Child("spec"), specText, "expected a vCPU/memory spec such as 2-4Gi"))
	default:
		if float64(spec.MilliCPU) < math.Floor(cpu.Max*1000) {
			errs = append(errs, field.Invalid(path.Child("spec"), specText, fmt.Sprintf("below the highest CPU peak seen (%g vCPU)", cpu.Max)))
		}
		if spec.MemoryMiB*mib < m.Max.Value() {
			errs = append(errs, field.Invalid(path.Child("spec"), specText, "below the highest memory peak seen ("+m.Max.String()+")"))
		}
	}
	if runs < 1 {
		errs = append(errs, field.Invalid(path.Child("runs"), runs, "expected at least 1"))
	}
	if oomKills < 0 {
		errs = append(errs, field.Invalid(path.Child("oomKills"), oomKills, "expected at least 0"))
	}
	if !(0 <= cpu.P50 && cpu.P50 <= cpu.P95 && cpu.P95 <= cpu.Max) {
		errs = append(errs, field.Invalid(path.Child("cpu"), cpu, "expected 0 ≤ p50 ≤ p95 ≤ max"))
	}
	if !(m.P50.Sign() >= 0 && m.P50.Cmp(m.P95) <= 0 && m.P95.Cmp(m.Max) <= 0) {
		errs = append(errs, field.Invalid(path.Child("memory"), m.Max.String(), "expected 0 ≤ p50 ≤ p95 ≤ max"))
	}
	if strings.TrimSpace(reason) == "" || strings.ContainsAny(reason, "\r\n") {
		errs = append(errs, field.Invalid(path.Child("reason"), reason, "expected one non-empty line"))
	}
	return errs
}

// validateBands checks the time zone and the bands: hours in order, not overlapping, within the day.
func (e *Entry) validateBands(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(e.Bands) == 0 {
		if e.TimeZone != "" {
			errs = append(errs, field.Invalid(path.Child("timeZone"), e.TimeZone, "set without bands"))
		}
		return errs
	}
	if _, err := LoadZone(e.TimeZone); err != nil {
		errs = append(errs, field.Invalid(path.Child("timeZone"), e.TimeZone, err.Error()))
	}
	next := 0
	for i, b := range e.Bands {
		p := path.Child("bands").Index(i)
		if b.From < next || b.To <= b.From || b.To > 24 {
			errs = append(errs, field.Invalid(p, fmt.Sprintf("from %d to %d", b.From, b.To),
				fmt.Sprintf("expected hours %d ≤ from < to ≤ 24 (bands in order, not overlapping)", next)))
		}
		next = max(next, b.To)
		errs = append(errs, validateLearned(p, b.Spec, b.Runs, b.OOMKills, b.CPU, b.Memory, b.Reason)...)
	}
	return errs
}

// LoadZone loads an IANA time zone such as "Asia/Shanghai" or "UTC" (from the zone database
// built into the binary). "" and "Local", whose meaning depends on the machine, are errors.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("expected an IANA time zone such as Asia/Shanghai or UTC, got %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("expected an IANA time zone such as Asia/Shanghai or UTC: %w", err)
	}
	return loc, nil
}

// EncodeConfigMapData renders entries as ConfigMap data, one key per template.
func EncodeConfigMapData(entries []Entry) (map[string]string, error) {
	data := make(map[string]string, len(entries))
	for i := range entries {
		key, ok := entries[i].Identity().Key()
		if !ok {
			return nil, fmt.Errorf("%s: %w", entries[i].Identity(), entries[i].Identity().Validate())
		}
		out, err := yaml.Marshal(&entries[i])
		if err != nil {
			return nil, err
		}
		data[key] = string(out)
	}
	return data, nil
}

// Learned is what the webhook and render apply for a template.
type Learned struct {
	Spec eci.Spec
	// Reason is the one-line spec-reason: "learned from 37 runs: p95 1.2 vCPU / max 2.9Gi → 2-4Gi".
	Reason string
	Entry  Entry
	// Band is the time-of-day band of Entry the spec comes from; nil: the whole template's spec.
	Band *BandEntry

	zone      *time.Location // Entry.TimeZone
	bandSpecs []eci.Spec     // Entry.Bands' specs
}

// Table is a parsed argo-eci-sizing ConfigMap. The zero Table is empty; a nil *Table finds nothing.
type Table struct {
	byKey map[string]Learned
}

// ParseConfigMapData decodes every entry strictly (unknown fields are errors) and validates it; one
// broken entry fails the whole ConfigMap, so a caller keeps its previous Table. The error is a
// *badinput.Error listing every problem with its key and field (`data[key].spec`).
func ParseConfigMapData(data map[string]string) (*Table, error) {
	t := &Table{byKey: make(map[string]Learned, len(data))}
	var errs field.ErrorList
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		path := field.NewPath("data").Key(key)
		var e Entry
		if derrs := badinput.DecodeYAML([]byte(data[key]), &e, path); len(derrs) > 0 {
			errs = append(errs, derrs...)
			continue
		}
		if verrs := e.Validate(path); len(verrs) > 0 {
			errs = append(errs, verrs...)
			continue
		}
		if want, _ := e.Identity().Key(); want != key {
			errs = append(errs, field.Invalid(path, key, "key does not match the entry's identity (expected "+want+")"))
			continue
		}
		t.byKey[key] = learnedOf(e)
	}
	if len(errs) > 0 {
		return nil, &badinput.Error{Errs: errs}
	}
	return t, nil
}

// Lookup returns the learned spec of template id.
func (t *Table) Lookup(id Identity) (Learned, bool) {
	if t == nil {
		return Learned{}, false
	}
	key, ok := id.Key()
	if !ok {
		return Learned{}, false
	}
	l, ok := t.byKey[key]
	return l, ok
}

// LookupAt returns the learned spec of template id for a pod created at created: the spec of the
// band created falls in when the entry has one there, else the whole template's (also for the zero
// time, when the creation time is not known).
func (t *Table) LookupAt(id Identity, created time.Time) (Learned, bool) {
	l, ok := t.Lookup(id)
	if !ok || created.IsZero() || len(l.bandSpecs) == 0 {
		return l, ok
	}
	h := created.In(l.zone).Hour()
	for i := range l.Entry.Bands {
		if b := &l.Entry.Bands[i]; b.From <= h && h < b.To {
			band := *b
			l.Spec, l.Reason, l.Band = l.bandSpecs[i], b.Reason, &band
			break
		}
	}
	return l, true
}

// learnedOf is the lookup form of a valid entry.
func learnedOf(e Entry) Learned {
	spec, _ := eci.ParseSpec(e.Spec)
	l := Learned{Spec: spec, Reason: e.Reason, Entry: e}
	if len(e.Bands) > 0 {
		l.zone, _ = LoadZone(e.TimeZone)
		for _, b := range e.Bands {
			s, _ := eci.ParseSpec(b.Spec)
			l.bandSpecs = append(l.bandSpecs, s)
		}
	}
	return l
}

// Len is the number of templates in the table.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.byKey)
}

// Store holds the current Table for concurrent readers. The zero Store is empty and ready to use.
type Store struct {
	cur atomic.Pointer[Table]
}

// Update replaces the table with data parsed from the ConfigMap. A broken ConfigMap keeps the
// previous table and returns the error; nil data (the ConfigMap was deleted) empties it.
func (s *Store) Update(data map[string]string) error {
	t, err := ParseConfigMapData(data)
	if err != nil {
		return err
	}
	s.cur.Store(t)
	return nil
}

// Lookup returns the learned spec of template id from the current table.
func (s *Store) Lookup(id Identity) (Learned, bool) { return s.cur.Load().Lookup(id) }

// LookupAt returns the learned spec of template id for a pod created at created (see
// [Table.LookupAt]) from the current table.
func (s *Store) LookupAt(id Identity, created time.Time) (Learned, bool) {
	return s.cur.Load().LookupAt(id, created)
}

// Table returns the current table (nil before the first Update).
func (s *Store) Table() *Table { return s.cur.Load() }
