package ecisim

import (
	"context"
	"testing"
	"time"

	"github.com/argo-eci/argo-eci/eci"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(baseConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.TimeScale != 60 || c.Spot.PriceRatio != 0.2 || c.OOMAfter.Duration != 500*time.Millisecond || c.DefaultZone != "cn-hangzhou-k" {
		t.Errorf("defaults: %+v", c)
	}
	bad := map[string]string{
		"unknown field": "stok: []",
		"time scale":    "timeScale: 0.5",
		"price ratio":   "spot: {priceRatio: 0.95}",
		"reclaim":       "spot: {reclaimFraction: 2}",
		"spec":          "stock: [{spec: 3-5Gi, zone: a, market: spot}]",
		"zone":          "stock: [{spec: 2-4Gi, market: spot}]",
		"market":        "stock: [{spec: 2-4Gi, zone: a, market: reserved}]",
		"image cache":   "imageCaches: [{id: imc-1}]",
		"duration":      "oomAfter: soon",
		"not a mapping": "- a",
	}
	for name, in := range bad {
		if _, err := ParseConfig([]byte(in)); err == nil {
			t.Errorf("%s: %q accepted", name, in)
		}
	}
}

func TestAvailable(t *testing.T) {
	c, _ := ParseConfig([]byte(`
vswitches: {vsw-a: zone-a}
stock:
- {spec: 2-4Gi, zone: zone-a, market: spot, available: false}
- {spec: "*", zone: vsw-b, market: "*", available: false}
- {spec: ecs.c6.large, zone: "*", market: on-demand, available: false}
`))
	two4 := eci.Spec{MilliCPU: 2000, MemoryMiB: 4096}
	c6 := eci.Spec{InstanceType: "ecs.c6.large"}
	tests := []struct {
		spec eci.Spec
		vsw  string
		m    Market
		want bool
	}{
		{two4, "vsw-a", MarketSpot, false},
		{two4, "vsw-a", MarketOnDemand, true},
		{two4, "vsw-b", MarketOnDemand, false},
		{two4, "", MarketSpot, true},
		{c6, "vsw-a", MarketOnDemand, false},
		{c6, "vsw-a", MarketSpot, true},
	}
	for _, tt := range tests {
		if got := c.Available(tt.spec, tt.vsw, tt.m); got != tt.want {
			t.Errorf("Available(%s, %q, %s) = %v", tt.spec, tt.vsw, tt.m, got)
		}
	}
}

func TestBilledSpec(t *testing.T) {
	for in, want := range map[string]string{"2-4Gi": "2.0-4.0Gi", "0.25-0.5Gi": "0.25-0.5Gi", "ecs.c6.large": "ecs.c6.large"} {
		s, _ := eci.ParseSpec(in)
		if got := billedSpec(s); got != want {
			t.Errorf("billedSpec(%s) = %s", in, got)
		}
		if back, err := eci.ParseSpec(billedSpec(s)); err != nil || back != s {
			t.Errorf("%s does not parse back: %v", billedSpec(s), err)
		}
	}
}

func TestWriteConfig(t *testing.T) {
	h := newHarness(t, "")
	ctx := context.Background()
	for _, cfg := range []string{"timeScale: 60\n", "timeScale: 600\n"} {
		if err := WriteConfig(ctx, h.kube, "sim", []byte(cfg)); err != nil {
			t.Fatal(err)
		}
	}
	h.refresh()
	c, err := h.sim.config("other")
	if err != nil || c.TimeScale != 600 {
		t.Errorf("config = %+v, %v", c, err)
	}
	if err := WriteConfig(ctx, h.kube, "sim", []byte("timeScale: 0.1\n")); err == nil {
		t.Error("invalid config stored")
	}
}
