package eci

import (
	"math"
	"testing"
)

func TestRoundUp(t *testing.T) {
	tests := []struct {
		cpu, mem int64 // milli-vCPU, MiB
		want     string
		ok       bool
	}{
		{7000, 13 * 1024, "8-16Gi", true}, // ECI rounds 7 vCPU / 13 GiB up to 8-16Gi (its documented example)
		{1500, 3 * 1024, "2-4Gi", true},
		{1000, 2048, "1-2Gi", true},
		{10, 64, "0.25-0.5Gi", true},
		{0, 0, "0.25-0.5Gi", true},
		{250, 1025, "0.5-2Gi", true}, // 0.25 vCPU tops out at 1Gi
		{1000, 16 * 1024, "2-16Gi", true},
		{2001, 1024, "4-2Gi", true},
		{64000, 512 * 1024, "64-512Gi", true},
		{64001, 1024, "", false},
		{1000, 513 * 1024, "", false},
	}
	for _, tt := range tests {
		got, ok := RoundUp(tt.cpu, tt.mem)
		if ok != tt.ok || (ok && got.String() != tt.want) {
			t.Errorf("RoundUp(%d, %d) = %v, %v; want %s, %v", tt.cpu, tt.mem, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseSpec(t *testing.T) {
	good := map[string]string{
		"2-4Gi": "2-4Gi", "0.25-0.5Gi": "0.25-0.5Gi", "2.0-4.0Gi": "2-4Gi", " 8-16Gi ": "8-16Gi",
		"ecs.c6.large": "ecs.c6.large", "ecs.gn6i-c4g1.xlarge": "ecs.gn6i-c4g1.xlarge",
	}
	for in, want := range good {
		s, err := ParseSpec(in)
		if err != nil || s.String() != want {
			t.Errorf("ParseSpec(%q) = %v, %v; want %s", in, s, err, want)
		}
	}
	for _, in := range []string{"", "2-4", "2-3Gi", "3-4Gi", "2-4GB", "ecs.", "ecs.c6", "c6.large", "-1-2Gi", "1e3-2Gi", "2-4Gi,4-8Gi"} {
		if s, err := ParseSpec(in); err == nil {
			t.Errorf("ParseSpec(%q) = %v, want error", in, s)
		}
	}
}

func TestParseSpecList(t *testing.T) {
	l, err := ParseSpecList("ecs.c6.large,ecs.c5.large,2-4Gi")
	if err != nil || FormatSpecList(l) != "ecs.c6.large,ecs.c5.large,2-4Gi" {
		t.Fatalf("got %v, %v", l, err)
	}
	for _, in := range []string{"", "2-4Gi,2-4Gi", "1-2Gi,2-4Gi,4-8Gi,8-16Gi,16-32Gi,32-64Gi", "2-4Gi,,4-8Gi"} {
		if _, err := ParseSpecList(in); err == nil {
			t.Errorf("ParseSpecList(%q): want error", in)
		}
	}
}

func TestFallbacks(t *testing.T) {
	got := FormatSpecList(Fallbacks(Spec{MilliCPU: 2000, MemoryMiB: 4096}, 2))
	if got != "2-8Gi,2-16Gi" {
		t.Errorf("Fallbacks(2-4Gi, 2) = %s", got)
	}
	for _, chosen := range Catalog() {
		fb := Fallbacks(chosen, 4)
		prev := 0.0
		for _, f := range fb {
			if !f.Covers(chosen.MilliCPU, chosen.MemoryMiB) || f == chosen {
				t.Errorf("Fallbacks(%s) has %s, which does not cover it", chosen, f)
			}
			p, _ := f.HourlyPrice()
			if p < prev {
				t.Errorf("Fallbacks(%s) not in price order", chosen)
			}
			prev = p
		}
	}
	if len(Fallbacks(Spec{InstanceType: "ecs.c6.large"}, 2)) != 0 {
		t.Error("fallbacks for an ECS type")
	}
}

func TestHourlyPrice(t *testing.T) {
	p, ok := DefaultSpec.HourlyPrice()
	want := (2*0.000049 + 4*0.00000613) * 3600 // 0.44107 CNY/h
	if !ok || math.Abs(p-want) > 1e-9 {
		t.Errorf("2-4Gi = %v, %v; want %v", p, ok, want)
	}
	if _, ok := (Spec{InstanceType: "ecs.c6.large"}).HourlyPrice(); ok {
		t.Error("price for an ECS type")
	}
}

func TestCatalogStrings(t *testing.T) {
	for _, s := range Catalog() {
		back, err := ParseSpec(s.String())
		if err != nil || back != s {
			t.Errorf("round trip %v → %q → %v, %v", s, s.String(), back, err)
		}
	}
}

func TestIsGPUType(t *testing.T) {
	for in, want := range map[string]bool{"ecs.gn6i-c4g1.xlarge": true, "ecs.gn7i-c8g1.2xlarge": true, "ecs.vgn6i-m4.xlarge": true,
		"ecs.ebmgn7e.32xlarge": true, "ecs.c6.large": false, "ecs.g6.xlarge": false, "2-4Gi": false} {
		s, err := ParseSpec(in)
		if err != nil || s.IsGPUType() != want {
			t.Errorf("%s: IsGPUType = %v (%v), want %v", in, s.IsGPUType(), err, want)
		}
	}
}

// Over the whole catalog grid (every catalog vCPU and memory, and the points just above them):
// Cheapest covers the need, no cheaper covering spec exists, and the fallbacks cover the chosen
// spec and are ordered by price.
func TestCheapestGrid(t *testing.T) {
	var cpus, mems []int64
	for _, c := range Catalog() {
		cpus = append(cpus, c.MilliCPU, c.MilliCPU+1)
		mems = append(mems, c.MemoryMiB, c.MemoryMiB+1)
	}
	price := func(s Spec) float64 { p, _ := s.HourlyPrice(); return p }
	for _, cpu := range cpus {
		for _, mem := range mems {
			chosen, ok := Cheapest(cpu, mem)
			if !ok {
				for _, c := range Catalog() {
					if c.Covers(cpu, mem) {
						t.Fatalf("%d/%d: nothing chosen but %s covers it", cpu, mem, c)
					}
				}
				continue
			}
			if !chosen.Covers(cpu, mem) {
				t.Fatalf("%d/%d: %s does not cover it", cpu, mem, chosen)
			}
			for _, c := range Catalog() {
				if c.Covers(cpu, mem) && price(c) < price(chosen) {
					t.Fatalf("%d/%d: chose %s, but %s is cheaper", cpu, mem, chosen, c)
				}
			}
			fb := Fallbacks(chosen, 4)
			for i, f := range fb {
				if !f.Covers(chosen.MilliCPU, chosen.MemoryMiB) || f == chosen || (i > 0 && price(f) < price(fb[i-1])) {
					t.Fatalf("%d/%d: fallbacks %v of %s not covering or not ordered by price", cpu, mem, fb, chosen)
				}
			}
		}
	}
}

// Cheapest on needs between and beyond the catalog's sizes.
func TestCheapestExamples(t *testing.T) {
	tests := []struct {
		cpu, mem int64
		want     string
	}{
		{7000, 13 * 1024, "8-16Gi"},
		{300, 6 * 1024, "1-8Gi"},
		{1, 1, "0.25-0.5Gi"},
		{1000, 9 * 1024, "2-16Gi"},
		{2000, 1024, "2-1Gi"},
		{64000, 512 * 1024, "64-512Gi"},
		{65000, 1024, ""},
		{1000, 600 * 1024, ""},
	}
	for _, tt := range tests {
		got, ok := Cheapest(tt.cpu, tt.mem)
		if tt.want == "" {
			if ok {
				t.Errorf("%dm/%dMi: got %s, want none", tt.cpu, tt.mem, got)
			}
			continue
		}
		if !ok || got.String() != tt.want {
			t.Errorf("%dm/%dMi: got %s (%v), want %s", tt.cpu, tt.mem, got, ok, tt.want)
		}
	}
}
