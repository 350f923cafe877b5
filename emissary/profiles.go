package emissary

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/eci"
)

// Profiles is the parsed profiles.yaml document (ConfigMap argo-eci-profiles, key profiles.yaml).
type Profiles struct {
	// Default names the profile for workflows that name none and match no selector; "" leaves them alone.
	Default string
	// Profiles by name.
	Profiles map[string]*Profile
}

// Placement values.
const (
	PlacementLabel        = "label"        // label alibabacloud.com/eci: "true"
	PlacementScheduler    = "scheduler"    // schedulerName: eci-scheduler
	PlacementNodeSelector = "nodeSelector" // nodeSelector type=virtual-kubelet + toleration
)

// Values of the enumerated profile fields.
const (
	ExecutorResourcesIgnore = "ignore" // wait and artifact-plugin sidecars get __ECI_RESOURCE_IGNORE__=TRUE
	ExecutorResourcesCount  = "count"  // they count towards the spec like any container

	IncompatibleSkip = "skip" // leave such pods on normal nodes (info finding)
	IncompatibleWarn = "warn" // shape anyway, with a warning
	IncompatibleDeny = "deny" // refuse the pod

	AgentPodECI  = "eci"  // shape the agent pod like workflow pods
	AgentPodStay = "stay" // leave the agent pod on normal nodes

	ImageCacheAuto = "auto" // eci-auto-imc: "true"
	ImageCacheOff  = "off"  // eci-auto-imc: "false"
)

// Profile is one named way of running pods on ECI. Field meanings follow DESIGN.md.
type Profile struct {
	Name string
	// Placement is a subset of label, scheduler, nodeSelector.
	Placement []string
	// Specs is an explicit eci-use-specs list; nil means "auto" (computed from the pod).
	Specs []eci.Spec
	// FallbackSpecs is how many larger specs follow the computed one (0..4).
	FallbackSpecs int
	// InstanceFamilies become eci-instance-family.
	InstanceFamilies []string
	Spot             *Spot
	Zones            *Zones
	// FailStrategy is fail-back, fail-over or fail-fast; "" leaves ECI's default.
	FailStrategy string
	// Retry is added to templates that have no retryStrategy (render only).
	Retry *Retry
	// ImageCache is auto, off or an image cache ID (imc-...); "" leaves ECI's default.
	ImageCache       string
	EphemeralStorage string
	RAMRole          string
	// Tags become eci-custom-tags after the workflow and template names (3 tags in all).
	Tags              map[string]string
	ExecutorResources string
	Incompatible      string
	AgentPod          string
	// Selector matches workflows by namespace when they name no profile.
	Selector *Selector
}

// Spot configures ECI preemptible instances.
type Spot struct {
	Strategy      string // SpotAsPriceGo | SpotWithPriceLimit
	PriceLimit    string // hourly cap, ≤3 decimals; only with SpotWithPriceLimit
	DurationHours *int   // protection period, 0 or 1 hour; nil leaves ECI's default (1)
	Fallback      bool   // fall back to pay-as-you-go when spot stock runs out
}

// Zones spreads pods over vSwitches (zones).
type Zones struct {
	VSwitches []string
	Strategy  string // VSwitchOrdered | VSwitchRandom
}

// Retry is the retryStrategy render adds to templates without one.
type Retry struct {
	Limit  int
	Policy string // Always | OnFailure | OnError | OnTransientError
}

// Selector picks a profile automatically.
type Selector struct {
	Namespaces []string
}

// DefaultProfilesYAML is the built-in profile set used by render and lint without --profiles: one
// profile, "standard", that places pods with the ECI label and eci-scheduler, computes the spec
// with two fallbacks, ignores the executor sidecars, fails fast, retries 3 times and lets ECI match
// image caches.
const DefaultProfilesYAML = `default: standard
profiles:
  standard:
    placement: [label, scheduler]
    specs: auto
    fallbackSpecs: 2
    failStrategy: fail-fast
    retry: {limit: 3, policy: Always}
    imageCache: auto
    executorResources: ignore
    incompatible: skip
    agentPod: eci
`

// DefaultProfiles returns the parsed DefaultProfilesYAML.
func DefaultProfiles() *Profiles {
	p, err := ParseProfiles([]byte(DefaultProfilesYAML))
	if err != nil {
		panic("emissary: built-in profiles: " + err.Error())
	}
	return p
}

var (
	profileNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	familyRE      = regexp.MustCompile(`^ecs\.[a-z0-9][a-z0-9-]*$`)
	priceRE       = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,3})?$`)
	tagRE         = regexp.MustCompile(`^[^,:\s]{1,128}$`)
	imcRE         = regexp.MustCompile(`^imc-[A-Za-z0-9*]+$`)
	vswitchRE     = regexp.MustCompile(`^vsw-[A-Za-z0-9*]+$`)
)

// ParseProfiles parses the profiles.yaml document. Errors are *FieldError naming the field path
// (e.g. `profiles.standard.fallbackSpecs: expected 0..4, got 9`); unknown fields are errors.
func ParseProfiles(data []byte) (*Profiles, error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &FieldError{Path: "profiles.yaml", Msg: "malformed YAML: " + err.Error()}
	}
	out := &Profiles{Profiles: map[string]*Profile{}}
	if doc == nil {
		return out, nil
	}
	top, err := asMap("", doc)
	if err != nil {
		return nil, err
	}
	if err := knownKeys("", top, "default", "profiles"); err != nil {
		return nil, err
	}
	if v, ok := top["default"]; ok && v != nil {
		if out.Default, err = asString("default", v); err != nil {
			return nil, err
		}
	}
	if v, ok := top["profiles"]; ok && v != nil {
		m, err := asMap("profiles", v)
		if err != nil {
			return nil, err
		}
		for name, pv := range m {
			path := keyPath("profiles", name)
			if !profileNameRE.MatchString(name) || len(name) > 63 {
				return nil, fieldErrorf(path, "profile name must be lower-case letters, digits and '-' (at most 63)")
			}
			p, err := parseProfile(path, name, pv)
			if err != nil {
				return nil, err
			}
			out.Profiles[name] = p
		}
	}
	if out.Default != "" && out.Profiles[out.Default] == nil {
		return nil, fieldErrorf("default", "names profile %q, which is not defined (have %s)", out.Default, strings.Join(out.Names(), ", "))
	}
	owner := map[string]string{}
	for _, name := range out.Names() {
		p := out.Profiles[name]
		if p.Selector == nil {
			continue
		}
		for _, ns := range p.Selector.Namespaces {
			if prev, dup := owner[ns]; dup {
				return nil, fieldErrorf("profiles."+name+".selector.namespaces", "namespace %q is already selected by profile %q", ns, prev)
			}
			owner[ns] = name
		}
	}
	return out, nil
}

// Names returns the profile names, sorted.
func (p *Profiles) Names() []string {
	names := make([]string, 0, len(p.Profiles))
	for n := range p.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func parseProfile(path, name string, v any) (*Profile, error) {
	p := &Profile{
		Name:              name,
		Placement:         []string{PlacementLabel, PlacementScheduler},
		FallbackSpecs:     2,
		ExecutorResources: ExecutorResourcesIgnore,
		Incompatible:      IncompatibleSkip,
		AgentPod:          AgentPodECI,
	}
	if v == nil {
		return p, nil
	}
	m, err := asMap(path, v)
	if err != nil {
		return nil, err
	}
	if err := knownKeys(path, m, "placement", "specs", "fallbackSpecs", "instanceFamilies", "spot", "zones",
		"failStrategy", "retry", "imageCache", "ephemeralStorage", "ramRole", "tags", "executorResources",
		"incompatible", "agentPod", "selector"); err != nil {
		return nil, err
	}
	for _, key := range sortedKeys(m) {
		fv, fp := m[key], path+"."+key
		switch key {
		case "placement":
			list, err := asStrings(fp, fv)
			if err != nil {
				return nil, err
			}
			if len(list) == 0 {
				return nil, fieldErrorf(fp, "expected at least one of label, scheduler, nodeSelector")
			}
			seen := map[string]bool{}
			for i, s := range list {
				if s != PlacementLabel && s != PlacementScheduler && s != PlacementNodeSelector {
					return nil, fieldErrorf(fmt.Sprintf("%s[%d]", fp, i), "expected label, scheduler or nodeSelector, got %q", s)
				}
				if seen[s] {
					return nil, fieldErrorf(fmt.Sprintf("%s[%d]", fp, i), "%q listed twice", s)
				}
				seen[s] = true
			}
			p.Placement = list
		case "specs":
			if s, ok := fv.(string); ok {
				if s == "auto" {
					continue
				}
				if p.Specs, err = eci.ParseSpecList(s); err != nil {
					return nil, fieldErrorf(fp, "expected auto or a list of specs: %v", err)
				}
				continue
			}
			list, err := asStrings(fp, fv)
			if err != nil {
				return nil, fieldErrorf(fp, "expected auto or a list of 1..%d specs", eci.MaxSpecs)
			}
			if p.Specs, err = eci.ParseSpecList(strings.Join(list, ",")); err != nil {
				return nil, fieldErrorf(fp, "%v", err)
			}
		case "fallbackSpecs":
			if p.FallbackSpecs, err = asInt(fp, fv, 0, eci.MaxSpecs-1); err != nil {
				return nil, err
			}
		case "instanceFamilies":
			if p.InstanceFamilies, err = asStrings(fp, fv); err != nil {
				return nil, err
			}
			for i, f := range p.InstanceFamilies {
				if !familyRE.MatchString(f) {
					return nil, fieldErrorf(fmt.Sprintf("%s[%d]", fp, i), "expected an ECS instance family such as ecs.c6, got %q", f)
				}
			}
		case "spot":
			if p.Spot, err = parseSpot(fp, fv); err != nil {
				return nil, err
			}
		case "zones":
			if p.Zones, err = parseZones(fp, fv); err != nil {
				return nil, err
			}
		case "failStrategy":
			if p.FailStrategy, err = asEnum(fp, fv, "fail-back", "fail-over", "fail-fast"); err != nil {
				return nil, err
			}
		case "retry":
			if p.Retry, err = parseRetry(fp, fv); err != nil {
				return nil, err
			}
		case "imageCache":
			s, err := asString(fp, fv)
			if err != nil {
				return nil, err
			}
			if s != ImageCacheAuto && s != ImageCacheOff && !imcRE.MatchString(s) {
				return nil, fieldErrorf(fp, "expected auto, off or an image cache ID (imc-...), got %q", s)
			}
			p.ImageCache = s
		case "ephemeralStorage":
			s, err := asString(fp, fv)
			if err != nil {
				return nil, err
			}
			q, err := resource.ParseQuantity(s)
			if err != nil || q.Sign() <= 0 || !strings.HasSuffix(s, "Gi") {
				return nil, fieldErrorf(fp, "expected a size in Gi such as 50Gi, got %q", s)
			}
			p.EphemeralStorage = s
		case "ramRole":
			if p.RAMRole, err = asString(fp, fv); err != nil {
				return nil, err
			}
			if p.RAMRole == "" || strings.ContainsAny(p.RAMRole, " ,") {
				return nil, fieldErrorf(fp, "expected a RAM role name, got %q", p.RAMRole)
			}
		case "tags":
			tm, err := asMap(fp, fv)
			if err != nil {
				return nil, err
			}
			if len(tm) > eci.MaxCustomTags {
				return nil, fieldErrorf(fp, "expected at most %d tags, got %d", eci.MaxCustomTags, len(tm))
			}
			p.Tags = map[string]string{}
			for k, tv := range tm {
				s, err := asScalarString(keyPath(fp, k), tv)
				if err != nil {
					return nil, err
				}
				if !tagRE.MatchString(k) || !tagRE.MatchString(s) {
					return nil, fieldErrorf(keyPath(fp, k), "tag keys and values are 1..128 characters without ',', ':' or spaces")
				}
				p.Tags[k] = s
			}
		case "executorResources":
			if p.ExecutorResources, err = asEnum(fp, fv, ExecutorResourcesIgnore, ExecutorResourcesCount); err != nil {
				return nil, err
			}
		case "incompatible":
			if p.Incompatible, err = asEnum(fp, fv, IncompatibleSkip, IncompatibleWarn, IncompatibleDeny); err != nil {
				return nil, err
			}
		case "agentPod":
			if p.AgentPod, err = asEnum(fp, fv, AgentPodECI, AgentPodStay); err != nil {
				return nil, err
			}
		case "selector":
			sm, err := asMap(fp, fv)
			if err != nil {
				return nil, err
			}
			if err := knownKeys(fp, sm, "namespaces"); err != nil {
				return nil, err
			}
			ns, err := asStrings(fp+".namespaces", sm["namespaces"])
			if err != nil {
				return nil, err
			}
			if len(ns) == 0 {
				return nil, fieldErrorf(fp+".namespaces", "expected at least one namespace")
			}
			p.Selector = &Selector{Namespaces: ns}
		}
	}
	return p, nil
}

func parseSpot(path string, v any) (*Spot, error) {
	m, err := asMap(path, v)
	if err != nil {
		return nil, err
	}
	if err := knownKeys(path, m, "strategy", "priceLimit", "durationHours", "fallback"); err != nil {
		return nil, err
	}
	s := &Spot{}
	if s.Strategy, err = asEnum(path+".strategy", m["strategy"], "SpotAsPriceGo", "SpotWithPriceLimit"); err != nil {
		return nil, err
	}
	if pv, ok := m["priceLimit"]; ok {
		if s.PriceLimit, err = asScalarString(path+".priceLimit", pv); err != nil {
			return nil, err
		}
		if err := checkPrice(s.PriceLimit); err != nil {
			return nil, fieldErrorf(path+".priceLimit", "%v", err)
		}
	}
	switch {
	case s.Strategy == "SpotWithPriceLimit" && s.PriceLimit == "":
		return nil, fieldErrorf(path+".priceLimit", "required with strategy SpotWithPriceLimit")
	case s.Strategy == "SpotAsPriceGo" && s.PriceLimit != "":
		return nil, fieldErrorf(path+".priceLimit", "only used with strategy SpotWithPriceLimit (strategy is SpotAsPriceGo)")
	}
	if dv, ok := m["durationHours"]; ok {
		d, err := asInt(path+".durationHours", dv, 0, 1) // ECI offers a 1-hour protection period or none
		if err != nil {
			return nil, err
		}
		s.DurationHours = &d
	}
	if fv, ok := m["fallback"]; ok {
		b, ok := fv.(bool)
		if !ok {
			return nil, fieldErrorf(path+".fallback", "expected true or false, got %v", describe(fv))
		}
		s.Fallback = b
	}
	return s, nil
}

// checkPrice validates an hourly spot price cap: positive, at most 3 decimals.
func checkPrice(s string) error {
	if !priceRE.MatchString(s) {
		return fmt.Errorf("expected an hourly price with at most 3 decimals such as 0.25, got %q", s)
	}
	if f, _ := strconv.ParseFloat(s, 64); f <= 0 {
		return fmt.Errorf("expected a price above 0, got %q", s)
	}
	return nil
}

func parseZones(path string, v any) (*Zones, error) {
	m, err := asMap(path, v)
	if err != nil {
		return nil, err
	}
	if err := knownKeys(path, m, "vswitches", "strategy"); err != nil {
		return nil, err
	}
	z := &Zones{Strategy: "VSwitchRandom"}
	if z.VSwitches, err = asStrings(path+".vswitches", m["vswitches"]); err != nil {
		return nil, err
	}
	if len(z.VSwitches) == 0 {
		return nil, fieldErrorf(path+".vswitches", "expected at least one vSwitch ID (vsw-...)")
	}
	for i, s := range z.VSwitches {
		if !vswitchRE.MatchString(s) {
			return nil, fieldErrorf(fmt.Sprintf("%s.vswitches[%d]", path, i), "expected a vSwitch ID such as vsw-2ze23nqzig8inprou, got %q", s)
		}
	}
	if sv, ok := m["strategy"]; ok {
		if z.Strategy, err = asEnum(path+".strategy", sv, "VSwitchOrdered", "VSwitchRandom"); err != nil {
			return nil, err
		}
	}
	return z, nil
}

func parseRetry(path string, v any) (*Retry, error) {
	m, err := asMap(path, v)
	if err != nil {
		return nil, err
	}
	if err := knownKeys(path, m, "limit", "policy"); err != nil {
		return nil, err
	}
	r := &Retry{Policy: "Always"}
	if r.Limit, err = asInt(path+".limit", m["limit"], 1, 100); err != nil {
		return nil, err
	}
	if pv, ok := m["policy"]; ok {
		if r.Policy, err = asEnum(path+".policy", pv, "Always", "OnFailure", "OnError", "OnTransientError"); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// --- generic accessors over the decoded YAML (map[string]any, []any, string, float64, bool) ---

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing"
	case string:
		return strconv.Quote(x)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprintf("%v", x)
	}
}

func asMap(path string, v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		if path == "" {
			path = "profiles.yaml"
		}
		return nil, fieldErrorf(path, "expected a mapping, got %s", describe(v))
	}
	return m, nil
}

func knownKeys(path string, m map[string]any, keys ...string) error {
	for _, k := range sortedKeys(m) {
		known := false
		for _, want := range keys {
			if k == want {
				known = true
				break
			}
		}
		if !known {
			p := keyPath(path, k)
			return fieldErrorf(p, "unknown field (expected one of %s)", strings.Join(keys, ", "))
		}
	}
	return nil
}

// keyPath appends a mapping key to a field path, quoting keys that are empty or hold separators.
func keyPath(path, key string) string {
	if key == "" || strings.ContainsAny(key, ".[]\" \t\n") {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func asString(path string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fieldErrorf(path, "expected a string, got %s", describe(v))
	}
	return s, nil
}

// asScalarString accepts strings and numbers (YAML `priceLimit: 0.25` is a number).
func asScalarString(path string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fieldErrorf(path, "expected a string, got %s", describe(v))
}

func asStrings(path string, v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fieldErrorf(path, "expected a list of strings, got %s", describe(v))
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fieldErrorf(fmt.Sprintf("%s[%d]", path, i), "expected a string, got %s", describe(e))
		}
		out[i] = s
	}
	return out, nil
}

func asInt(path string, v any, lo, hi int) (int, error) {
	f, ok := v.(float64)
	if !ok || f != float64(int64(f)) || f < float64(lo) || f > float64(hi) {
		return 0, fieldErrorf(path, "expected %d..%d, got %s", lo, hi, describe(v))
	}
	return int(f), nil
}

func asEnum(path string, v any, allowed ...string) (string, error) {
	s, ok := v.(string)
	if ok {
		for _, a := range allowed {
			if s == a {
				return s, nil
			}
		}
	}
	return "", fieldErrorf(path, "expected one of %s, got %s", strings.Join(allowed, ", "), describe(v))
}
