package ecisim

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/argo-eci/argo-eci/eci"
)

// Placement is the instance ECI creates for a pod.
type Placement struct {
	Spec       eci.Spec
	VSwitch    string // "" when the pod named none
	Zone       string
	Market     Market
	ImageCache string // matched or pinned image cache ID, "" for none
}

// StockOut says what was tried when nothing had stock.
type StockOut struct {
	Specs     []eci.Spec
	Zones     []string
	Markets   []Market
	PriceNote string // set when a spot price limit was below the market price
}

// Message is ECI's NoStock message with what was tried, for events and the pod's status.
func (s StockOut) Message() string {
	markets := make([]string, len(s.Markets))
	for i, m := range s.Markets {
		markets[i] = string(m)
	}
	msg := fmt.Sprintf("Create ECI failed because the specified instance is out of stock (%s): specs %s in zones %s (%s)",
		eci.ReasonNoStock, eci.FormatSpecList(s.Specs), strings.Join(s.Zones, ","), strings.Join(markets, ", then "))
	if s.PriceNote != "" {
		msg += "; " + s.PriceNote
	}
	return msg
}

// Place picks the first spec, in the pod's order, that has stock in one of its vSwitches (in
// order, or shuffled by shuffle for VSwitchRandom): spot first for spot pods, then, with
// eci-spot-fallback, pay-as-you-go. ok is false on a stock-out, described by StockOut.
func Place(req Request, cfg *Config, shuffle func([]string)) (Placement, StockOut, bool) {
	vsws := append([]string(nil), req.VSwitches...)
	if len(vsws) == 0 {
		vsws = []string{""}
	}
	if req.Random {
		shuffle(vsws)
	}
	markets := []Market{MarketOnDemand}
	if req.Spot {
		markets = []Market{MarketSpot}
		if req.SpotFallback {
			markets = append(markets, MarketOnDemand)
		}
	}
	out := StockOut{Specs: req.Specs, Markets: markets}
	for _, v := range vsws {
		out.Zones = append(out.Zones, zoneName(cfg, v))
	}
	for _, m := range markets {
		for _, s := range req.Specs {
			if m == MarketSpot && !cfg.spotPriceOK(req, s) {
				out.PriceNote = fmt.Sprintf("spot price limit %g CNY/h is below the market price", req.SpotPriceLimit)
				continue
			}
			for _, v := range vsws {
				if cfg.Available(s, v, m) {
					return Placement{Spec: s, VSwitch: v, Zone: cfg.zone(v), Market: m, ImageCache: cfg.imageCache(req)}, out, true
				}
			}
		}
	}
	return Placement{}, out, false
}

func zoneName(cfg *Config, vsw string) string {
	if vsw == "" || cfg.zone(vsw) == vsw {
		return cfg.zone(vsw)
	}
	return cfg.zone(vsw) + "/" + vsw
}

// spotPriceOK reports whether a SpotWithPriceLimit bid covers s's market price.
func (c *Config) spotPriceOK(req Request, s eci.Spec) bool {
	if req.SpotPriceLimit == 0 {
		return true
	}
	list, ok := eci.EstimatedHourlyPrice(s)
	return !ok || req.SpotPriceLimit >= list*c.Spot.PriceRatio
}

// imageCache is the pinned cache when it exists, else with automatic matching the first cache
// holding every image of the pod.
func (c *Config) imageCache(req Request) string {
	if req.IMCID != "" {
		for _, ic := range c.ImageCaches {
			if ic.ID == req.IMCID {
				return ic.ID
			}
		}
		return ""
	}
	if !req.AutoIMC {
		return ""
	}
	for _, ic := range c.ImageCaches {
		have := map[string]bool{}
		for _, img := range ic.Images {
			have[img] = true
		}
		all := true
		for _, img := range req.Images {
			all = all && have[img]
		}
		if all {
			return ic.ID
		}
	}
	return ""
}

// oomLimit is the memory the pod's main container may use: its limit, or the spec's memory.
func oomLimit(req Request, spec eci.Spec) int64 {
	_, mem, ok := eci.SpecSize(spec)
	limit := mem << 20
	if !ok {
		limit = 0
	}
	if req.MainLimit > 0 && (limit == 0 || req.MainLimit < limit) {
		limit = req.MainLimit
	}
	return limit
}

// billedSpec is the spec as ECI writes it into eci-instance-spec: "2.0-4.0Gi" or the ECS type.
func billedSpec(s eci.Spec) string {
	if s.IsInstanceType() {
		return s.InstanceType
	}
	return decimal(float64(s.MilliCPU)/1000) + "-" + decimal(float64(s.MemoryMiB)/1024) + "Gi"
}

// decimal writes 2 as "2.0" and 0.25 as "0.25".
func decimal(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
