package eci

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Spec is one entry of eci-use-specs: either a vCPU/memory pair (written "2-4Gi") or an ECS instance
// type (written "ecs.c6.large"). The zero Spec is invalid.
type Spec struct {
	// MilliCPU and MemoryMiB describe a vCPU/memory spec (0.25 vCPU = 250, 0.5 GiB = 512).
	MilliCPU  int64
	MemoryMiB int64
	// InstanceType is set instead for an ECS instance type such as ecs.gn6i-c4g1.xlarge.
	InstanceType string
}

// DefaultSpec is what ECI bills for a pod that declares no resources: 2 vCPU, 4 GiB.
var DefaultSpec = Spec{MilliCPU: 2000, MemoryMiB: 4096}

// IsInstanceType reports whether s names an ECS instance type rather than a vCPU/memory pair.
func (s Spec) IsInstanceType() bool { return s.InstanceType != "" }

// IsGPUType reports whether s is an ECS GPU instance type (families gn*, vgn*, sgn*, ebmgn*, gi*,
// e.g. ecs.gn6i-c4g1.xlarge).
func (s Spec) IsGPUType() bool {
	if s.InstanceType == "" {
		return false
	}
	family := strings.TrimPrefix(s.InstanceType, "ecs.")
	for _, p := range []string{"gn", "vgn", "sgn", "ebmgn", "gi"} {
		if strings.HasPrefix(family, p) {
			return true
		}
	}
	return false
}

// String renders s the way eci-use-specs expects it: "2-4Gi", "0.25-0.5Gi" or the ECS type.
func (s Spec) String() string {
	if s.InstanceType != "" {
		return s.InstanceType
	}
	return formatMilli(s.MilliCPU) + "-" + formatMilli(s.MemoryMiB*1000/1024) + "Gi"
}

// Covers reports whether the vCPU/memory spec s offers at least milliCPU and memMiB.
func (s Spec) Covers(milliCPU, memMiB int64) bool {
	return s.InstanceType == "" && s.MilliCPU >= milliCPU && s.MemoryMiB >= memMiB
}

// HourlyPrice is the pay-as-you-go list price per hour in CNY (Alibaba Cloud ECI pricing, China regions: 0.000049 per
// vCPU-second, 0.00000613 per GiB-second). ok is false for ECS instance types, whose prices are
// not in the catalog.
func (s Spec) HourlyPrice() (price float64, ok bool) {
	if s.InstanceType != "" || s.MilliCPU <= 0 {
		return 0, false
	}
	perSecond := float64(s.MilliCPU)/1000*PricePerVCPUSecond + float64(s.MemoryMiB)/1024*PricePerGiBSecond
	return perSecond * 3600, true
}

// List prices (China, CNY, 2024-11), billed per second.
const (
	PricePerVCPUSecond = 0.000049
	PricePerGiBSecond  = 0.00000613
)

func formatMilli(m int64) string {
	return strconv.FormatFloat(float64(m)/1000, 'f', -1, 64)
}

// catalog lists the vCPU → GiB combinations available in every region (Alibaba Cloud ECI "specifications" page), sorted by
// vCPU then memory.
var catalog = func() []Spec {
	table := []struct {
		cpu  float64
		mems []float64
	}{
		{0.25, []float64{0.5, 1}}, {0.5, []float64{1, 2}}, {1, []float64{2, 4, 8}},
		{2, []float64{1, 2, 4, 8, 16}}, {4, []float64{2, 4, 8, 16, 32}}, {8, []float64{4, 8, 16, 32, 64}},
		{12, []float64{12, 24, 48, 96}}, {16, []float64{16, 32, 64, 128}}, {24, []float64{24, 48, 96, 192}},
		{32, []float64{32, 64, 128, 256}}, {52, []float64{96, 192, 384}}, {64, []float64{128, 256, 512}},
	}
	var out []Spec
	for _, row := range table {
		for _, m := range row.mems {
			out = append(out, Spec{MilliCPU: int64(row.cpu * 1000), MemoryMiB: int64(m * 1024)})
		}
	}
	return out
}()

// byPrice is the catalog sorted by hourly price (ties: fewer vCPU first).
var byPrice = func() []Spec {
	out := append([]Spec(nil), catalog...)
	sort.SliceStable(out, func(i, j int) bool {
		pi, _ := out[i].HourlyPrice()
		pj, _ := out[j].HourlyPrice()
		if pi != pj {
			return pi < pj
		}
		return out[i].MilliCPU < out[j].MilliCPU
	})
	return out
}()

// Catalog returns a copy of the vCPU/memory specs available in every region, by vCPU then memory.
func Catalog() []Spec { return append([]Spec(nil), catalog...) }

// InCatalog reports whether the vCPU/memory spec s is one ECI offers everywhere.
func InCatalog(s Spec) bool {
	for _, c := range catalog {
		if c == s {
			return true
		}
	}
	return false
}

// RoundUp returns the spec ECI bills for a pod needing milliCPU and memMiB: the smallest vCPU, then
// the smallest memory, that covers both (7 vCPU/13 GiB → 8-16Gi). ok is false when nothing in the
// catalog is large enough.
func RoundUp(milliCPU, memMiB int64) (Spec, bool) {
	for _, c := range catalog {
		if c.Covers(milliCPU, memMiB) {
			return c, true
		}
	}
	return Spec{}, false
}

// Cheapest returns the cheapest catalog spec (by HourlyPrice; ties: fewer vCPU) that covers both
// milliCPU and memMiB. It is the spec to ask for in eci-use-specs: RoundUp, ECI's own vCPU-first
// rounding, can land on a dearer spec. ok is false when nothing in the catalog is large enough.
func Cheapest(milliCPU, memMiB int64) (Spec, bool) {
	for _, c := range byPrice {
		if c.Covers(milliCPU, memMiB) {
			return c, true
		}
	}
	return Spec{}, false
}

// Fallbacks returns up to n specs to try after chosen when it is out of stock: the next cheapest
// catalog specs that are larger than chosen in vCPU or memory and no smaller in either.
func Fallbacks(chosen Spec, n int) []Spec {
	if n <= 0 || chosen.InstanceType != "" {
		return nil
	}
	var out []Spec
	for _, c := range byPrice {
		if len(out) == n {
			break
		}
		if c != chosen && c.Covers(chosen.MilliCPU, chosen.MemoryMiB) {
			out = append(out, c)
		}
	}
	return out
}

var (
	cpuMemRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)-([0-9]+(?:\.[0-9]+)?)Gi$`)
	ecsRE    = regexp.MustCompile(`^ecs\.[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+$`)
)

// ParseSpec parses one eci-use-specs entry: "<vCPU>-<mem>Gi" from the catalog (ECI's written-back
// form "2.0-4.0Gi" is accepted) or an ECS instance type "ecs.<family>.<size>".
func ParseSpec(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "ecs.") {
		if !ecsRE.MatchString(s) {
			return Spec{}, fmt.Errorf("%q is not an ECS instance type (expected ecs.<family>.<size>, e.g. ecs.c6.large)", s)
		}
		return Spec{InstanceType: s}, nil
	}
	m := cpuMemRE.FindStringSubmatch(s)
	if m == nil {
		return Spec{}, fmt.Errorf("%q is not a spec (expected <vCPU>-<memory>Gi such as 2-4Gi, or an ECS type such as ecs.c6.large)", s)
	}
	cpu, _ := strconv.ParseFloat(m[1], 64)
	mem, _ := strconv.ParseFloat(m[2], 64)
	if cpu > 1024 || mem > 4096 {
		return Spec{}, fmt.Errorf("%q is not an ECI spec", s)
	}
	sp := Spec{MilliCPU: int64(math.Round(cpu * 1000)), MemoryMiB: int64(math.Round(mem * 1024))}
	if !InCatalog(sp) {
		return Spec{}, fmt.Errorf("%q is not an ECI vCPU/memory spec (for %s vCPU choose memory from %s)", s, m[1], memChoices(sp.MilliCPU))
	}
	return sp, nil
}

func memChoices(milliCPU int64) string {
	var mems []string
	for _, c := range catalog {
		if c.MilliCPU == milliCPU {
			mems = append(mems, formatMilli(c.MemoryMiB*1000/1024)+"Gi")
		}
	}
	if len(mems) == 0 {
		var cpus []string
		for _, c := range catalog {
			if len(cpus) == 0 || cpus[len(cpus)-1] != formatMilli(c.MilliCPU) {
				cpus = append(cpus, formatMilli(c.MilliCPU))
			}
		}
		return "the catalog; vCPU must be one of " + strings.Join(cpus, ", ")
	}
	return strings.Join(mems, ", ")
}

// ParseSpecList parses a comma-separated eci-use-specs value: 1 to MaxSpecs entries, no duplicates.
func ParseSpecList(s string) ([]Spec, error) {
	parts := strings.Split(s, ",")
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty spec list (expected 1..%d specs such as 2-4Gi,ecs.c6.large)", MaxSpecs)
	}
	if len(parts) > MaxSpecs {
		return nil, fmt.Errorf("%d specs listed, ECI tries at most %d", len(parts), MaxSpecs)
	}
	out := make([]Spec, 0, len(parts))
	seen := map[Spec]bool{}
	for _, p := range parts {
		sp, err := ParseSpec(p)
		if err != nil {
			return nil, err
		}
		if seen[sp] {
			return nil, fmt.Errorf("spec %s listed twice", sp)
		}
		seen[sp] = true
		out = append(out, sp)
	}
	return out, nil
}

// FormatSpecList joins specs for eci-use-specs.
func FormatSpecList(specs []Spec) string {
	parts := make([]string, len(specs))
	for i, s := range specs {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}
