package ecisim

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/eci"
)

// ConfigMapName is the ConfigMap (key ConfigKey) holding the simulator's Config.
const (
	ConfigMapName = "eci-simulator"
	ConfigKey     = "config.yaml"
)

// Market is how an instance is paid for.
type Market string

// Markets; MarketAny in a stock rule matches both.
const (
	MarketSpot     Market = "spot"
	MarketOnDemand Market = "on-demand"
	MarketAny      Market = "*"
)

// Config is what the simulated ECI region looks like. The zero value is usable after Default.
type Config struct {
	// TimeScale divides ECI's minute-scale times (default 60: an ECI minute lasts one second).
	TimeScale float64 `json:"timeScale,omitempty"`
	// VSwitches maps vSwitch IDs to zones; an unmapped vSwitch is its own zone.
	VSwitches map[string]string `json:"vswitches,omitempty"`
	// DefaultZone is where pods without eci-vswitch go (default cn-hangzhou-k).
	DefaultZone string `json:"defaultZone,omitempty"`
	// Stock: the first rule matching (spec, zone, market) decides; no match means in stock.
	Stock []StockRule `json:"stock,omitempty"`
	// Spot: the market price and reclaims.
	Spot SpotConfig `json:"spot,omitempty"`
	// ImageCaches are the Ready image caches pods may match (eci-auto-imc) or pin (eci-imc-id).
	ImageCaches []ImageCache `json:"imageCaches,omitempty"`
	// OOMAfter is how long a pod runs before an OOMKill (real time, default 500ms).
	OOMAfter Duration `json:"oomAfter,omitempty"`
}

// StockRule says whether (spec, zone, market) has stock. Spec, Zone ("*" = any; a zone name or a
// vSwitch ID) and Market ("*" = both).
type StockRule struct {
	Spec      string `json:"spec"`
	Zone      string `json:"zone"`
	Market    Market `json:"market"`
	Available bool   `json:"available"`
}

// SpotConfig shapes the spot market.
type SpotConfig struct {
	// PriceRatio is the market price as a fraction of the list price (default 0.2; Alibaba
	// publishes 0.1..0.7). A SpotWithPriceLimit pod whose limit is below it gets no spot.
	PriceRatio float64 `json:"priceRatio,omitempty"`
	// ReclaimFraction of spot instances is reclaimed after their protection period (0..1).
	ReclaimFraction float64 `json:"reclaimFraction,omitempty"`
}

// ImageCache is a Ready image cache.
type ImageCache struct {
	ID     string   `json:"id"`
	Images []string `json:"images"`
}

// Duration is a time.Duration written as a Go duration string.
type Duration struct{ time.Duration }

// UnmarshalJSON reads "500ms".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := yaml.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("expected a duration such as \"500ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// ParseConfig decodes YAML strictly, fills defaults and validates.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("eci-simulator config: %w", err)
	}
	c.Default()
	if errs := c.Validate(field.NewPath("config")); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return &c, nil
}

// Default fills unset fields.
func (c *Config) Default() {
	if c.TimeScale == 0 {
		c.TimeScale = 60
	}
	if c.DefaultZone == "" {
		c.DefaultZone = "cn-hangzhou-k"
	}
	if c.Spot.PriceRatio == 0 {
		c.Spot.PriceRatio = 0.2
	}
	if c.OOMAfter.Duration == 0 {
		c.OOMAfter.Duration = 500 * time.Millisecond
	}
}

// Validate reports every bad field.
func (c *Config) Validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.TimeScale < 1 || c.TimeScale > 100000 {
		errs = append(errs, field.Invalid(path.Child("timeScale"), c.TimeScale, "must be 1..100000"))
	}
	if c.Spot.PriceRatio < eci.SpotPriceRatioMin || c.Spot.PriceRatio > eci.SpotPriceRatioMax {
		errs = append(errs, field.Invalid(path.Child("spot", "priceRatio"), c.Spot.PriceRatio,
			fmt.Sprintf("must be %g..%g of the list price", eci.SpotPriceRatioMin, eci.SpotPriceRatioMax)))
	}
	if c.Spot.ReclaimFraction < 0 || c.Spot.ReclaimFraction > 1 {
		errs = append(errs, field.Invalid(path.Child("spot", "reclaimFraction"), c.Spot.ReclaimFraction, "must be 0..1"))
	}
	for i, r := range c.Stock {
		p := path.Child("stock").Index(i)
		if r.Spec != "*" {
			if _, err := eci.ParseSpec(r.Spec); err != nil {
				errs = append(errs, field.Invalid(p.Child("spec"), r.Spec, err.Error()))
			}
		}
		if r.Zone == "" {
			errs = append(errs, field.Required(p.Child("zone"), `a zone, a vSwitch ID or "*"`))
		}
		if r.Market != MarketSpot && r.Market != MarketOnDemand && r.Market != MarketAny {
			errs = append(errs, field.NotSupported(p.Child("market"), r.Market, []Market{MarketSpot, MarketOnDemand, MarketAny}))
		}
	}
	for i, ic := range c.ImageCaches {
		if ic.ID == "" || len(ic.Images) == 0 {
			errs = append(errs, field.Required(path.Child("imageCaches").Index(i), "id and images"))
		}
	}
	return errs
}

// zone is the zone of vSwitch vsw ("" = the default zone).
func (c *Config) zone(vsw string) string {
	if vsw == "" {
		return c.DefaultZone
	}
	if z, ok := c.VSwitches[vsw]; ok {
		return z
	}
	return vsw
}

// Available reports whether spec has stock in vSwitch vsw's zone for market m.
func (c *Config) Available(spec eci.Spec, vsw string, m Market) bool {
	zone := c.zone(vsw)
	for _, r := range c.Stock {
		if r.Market != MarketAny && r.Market != m {
			continue
		}
		if r.Zone != "*" && r.Zone != zone && r.Zone != vsw {
			continue
		}
		if r.Spec != "*" {
			if s, err := eci.ParseSpec(r.Spec); err != nil || s != spec {
				continue
			}
		}
		return r.Available
	}
	return true
}

// scaled turns ECI minutes into real time.
func (c *Config) scaled(minutes float64) time.Duration {
	return time.Duration(minutes * float64(time.Minute) / c.TimeScale)
}
