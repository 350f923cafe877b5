package sizing

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

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
	q := func(v float64) resource.Quantity {
		return *resource.NewQuantity(int64(math.Ceil(v)), resource.BinarySI)
	}
	round := func(v float64) float64 { return math.Ceil(v*1000) / 1000 }
	e := Entry{
		Namespace: r.Identity.Namespace, Kind: r.Identity.Kind, Owner: r.Identity.Owner, Template: r.Identity.Template,
		Spec: r.Spec.String(), Runs: r.Runs, OOMKills: r.OOMKills,
		Window: Window{From: r.From.UTC().Truncate(time.Second), To: r.To.UTC().Truncate(time.Second)},
		CPU:    CPUStats{P50: round(r.CPU.P50), P95: round(r.CPU.P95), Max: round(r.CPU.Max)},
		Memory: MemoryStats{P50: q(r.Memory.P50), P95: q(r.Memory.P95), Max: q(r.Memory.Max)},
		Reason: r.Reason,
	}
	if r.Declared != (eci.Spec{}) {
		e.Declared = r.Declared.String()
	}
	return e
}

// Validate checks an entry as read from the ConfigMap: a known identity, a catalog spec that is
// not below the highest peak it records, ordered statistics and a one-line reason.
func (e *Entry) Validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if err := e.Identity().Validate(); err != nil {
		errs = append(errs, field.Invalid(path.Child("kind"), e.Kind, err.Error()))
	}
	spec, err := eci.ParseSpec(e.Spec)
	switch {
	case err != nil:
		errs = append(errs, field.Invalid(path.Child("spec"), e.Spec, err.Error()))
	case spec.IsInstanceType():
		errs = append(errs, field.Invalid(path.Child("spec"), e.Spec, "expected a vCPU/memory spec such as 2-4Gi"))
	default:
		if float64(spec.MilliCPU) < math.Floor(e.CPU.Max*1000) {
			errs = append(errs, field.Invalid(path.Child("spec"), e.Spec, fmt.Sprintf("below the highest CPU peak seen (%g vCPU)", e.CPU.Max)))
		}
		if spec.MemoryMiB*mib < e.Memory.Max.Value() {
			errs = append(errs, field.Invalid(path.Child("spec"), e.Spec, "below the highest memory peak seen ("+e.Memory.Max.String()+")"))
		}
	}
	if e.Declared != "" {
		if _, err := eci.ParseSpec(e.Declared); err != nil {
			errs = append(errs, field.Invalid(path.Child("declared"), e.Declared, err.Error()))
		}
	}
	if e.Runs < 1 {
		errs = append(errs, field.Invalid(path.Child("runs"), e.Runs, "expected at least 1"))
	}
	if e.OOMKills < 0 {
		errs = append(errs, field.Invalid(path.Child("oomKills"), e.OOMKills, "expected at least 0"))
	}
	if e.Window.From.IsZero() || e.Window.To.Before(e.Window.From) {
		errs = append(errs, field.Invalid(path.Child("window"), e.Window, "expected from ≤ to, both set"))
	}
	if !(0 <= e.CPU.P50 && e.CPU.P50 <= e.CPU.P95 && e.CPU.P95 <= e.CPU.Max) {
		errs = append(errs, field.Invalid(path.Child("cpu"), e.CPU, "expected 0 ≤ p50 ≤ p95 ≤ max"))
	}
	m := e.Memory
	if !(m.P50.Sign() >= 0 && m.P50.Cmp(m.P95) <= 0 && m.P95.Cmp(m.Max) <= 0) {
		errs = append(errs, field.Invalid(path.Child("memory"), m.Max.String(), "expected 0 ≤ p50 ≤ p95 ≤ max"))
	}
	if strings.TrimSpace(e.Reason) == "" || strings.ContainsAny(e.Reason, "\r\n") {
		errs = append(errs, field.Invalid(path.Child("reason"), e.Reason, "expected one non-empty line"))
	}
	return errs
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
}

// Table is a parsed argo-eci-sizing ConfigMap. The zero Table is empty; a nil *Table finds nothing.
type Table struct {
	byKey map[string]Learned
}

// ParseConfigMapData decodes every entry strictly (unknown fields are errors) and validates it; one
// broken entry fails the whole ConfigMap, so a caller keeps its previous Table. The error lists
// every problem with its key and field.
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
		if err := yaml.UnmarshalStrict([]byte(data[key]), &e); err != nil {
			errs = append(errs, field.Invalid(path, "", "not an entry: "+err.Error()))
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
		spec, _ := eci.ParseSpec(e.Spec)
		t.byKey[key] = Learned{Spec: spec, Reason: e.Reason, Entry: e}
	}
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
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

// Table returns the current table (nil before the first Update).
func (s *Store) Table() *Table { return s.cur.Load() }
