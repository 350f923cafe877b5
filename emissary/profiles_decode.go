package emissary

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/plugin"
	"github.com/argo-eci/argo-eci/recovery"
)

// profilesDoc is profiles.yaml as written: decoded strictly, then validated.
type profilesDoc struct {
	Default  string                 `json:"default,omitempty"`
	Profiles map[string]*profileDoc `json:"profiles,omitempty"`
}

type profileDoc struct {
	Placement         []string          `json:"placement,omitempty"`
	Specs             *specsValue       `json:"specs,omitempty"`
	FallbackSpecs     *int              `json:"fallbackSpecs,omitempty"`
	InstanceFamilies  []string          `json:"instanceFamilies,omitempty"`
	Spot              *spotDoc          `json:"spot,omitempty"`
	Zones             *zonesDoc         `json:"zones,omitempty"`
	FailStrategy      string            `json:"failStrategy,omitempty"`
	Retry             *retryDoc         `json:"retry,omitempty"`
	ImageCache        string            `json:"imageCache,omitempty"`
	EphemeralStorage  string            `json:"ephemeralStorage,omitempty"`
	RAMRole           *string           `json:"ramRole,omitempty"`
	Tags              map[string]scalar `json:"tags,omitempty"`
	ExecutorResources string            `json:"executorResources,omitempty"`
	Incompatible      string            `json:"incompatible,omitempty"`
	AgentPod          string            `json:"agentPod,omitempty"`
	Agent             *agentDoc         `json:"agent,omitempty"`
	Sizing            string            `json:"sizing,omitempty"`
	Recovery          *recoveryDoc      `json:"recovery,omitempty"`
	Selector          *selectorDoc      `json:"selector,omitempty"`
}

type spotDoc struct {
	Strategy      string `json:"strategy"`
	PriceLimit    scalar `json:"priceLimit,omitempty"`
	DurationHours *int   `json:"durationHours,omitempty"`
	Fallback      bool   `json:"fallback,omitempty"`
}

type zonesDoc struct {
	VSwitches []string `json:"vswitches"`
	Strategy  string   `json:"strategy,omitempty"`
}

type retryDoc struct {
	Limit  int    `json:"limit"`
	Policy string `json:"policy,omitempty"`
}

type selectorDoc struct {
	Namespaces []string `json:"namespaces"`
}

// scalar is a string that YAML may have written as a number or boolean (priceLimit: 0.25).
type scalar string

func (s *scalar) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case string:
		*s = scalar(x)
	case float64:
		*s = scalar(strconv.FormatFloat(x, 'f', -1, 64))
	case bool:
		*s = scalar(strconv.FormatBool(x))
	default:
		return fmt.Errorf("expected a string, got %s", badinput.Describe(v))
	}
	return nil
}

// specsValue is "auto", a comma list, or a YAML list of specs; raw keeps what was written.
type specsValue struct {
	auto bool
	list []string
	raw  any
}

func (s *specsValue) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &s.raw); err != nil {
		return err
	}
	switch x := s.raw.(type) {
	case string:
		s.auto = x == "auto"
		s.list = []string{x}
	case []any:
		for _, e := range x {
			str, ok := e.(string)
			if !ok {
				s.list = nil
				return nil // reported by Validate
			}
			s.list = append(s.list, str)
		}
	}
	return nil
}

var (
	profileNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	familyRE      = regexp.MustCompile(`^ecs\.[a-z0-9][a-z0-9-]*$`)
	priceRE       = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,3})?$`)
	tagRE         = regexp.MustCompile(`^[^,:\s]{1,128}$`)
	imcRE         = regexp.MustCompile(`^imc-[A-Za-z0-9*]+$`)
	vswitchRE     = regexp.MustCompile(`^vsw-[A-Za-z0-9*]+$`)
)

// ParseProfiles parses the profiles.yaml document: strict decoding into typed structs (unknown
// fields are errors), then Validate. Errors are *badinput.Error naming the field path (e.g.
// `profiles.standard.fallbackSpecs`), every problem of the document listed.
func ParseProfiles(data []byte) (*Profiles, error) {
	var doc profilesDoc
	errs := badinput.DecodeYAML(data, &doc, nil)
	if len(errs) == 0 {
		errs = doc.Validate(nil)
	}
	if len(errs) > 0 {
		for _, e := range errs {
			if e.Field == "" {
				e.Field = "profiles.yaml" // a problem with the document as a whole
			}
		}
		return nil, &badinput.Error{Errs: errs}
	}
	return doc.profiles(), nil
}

// Validate checks the whole document; paths start at fldPath (nil: the document root).
func (d *profilesDoc) Validate(fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := make([]string, 0, len(d.Profiles))
	for n := range d.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	owner := map[string]string{}
	for _, name := range names {
		pp := child(fldPath, "profiles").Child(name)
		if !profileNameRE.MatchString(name) || len(name) > 63 {
			errs = append(errs, field.Invalid(pp, name, "profile name must be lower-case letters, digits and '-' (at most 63)"))
			continue
		}
		p := d.Profiles[name]
		if p == nil {
			continue
		}
		errs = append(errs, p.Validate(pp)...)
		if p.Selector == nil {
			continue
		}
		for _, ns := range p.Selector.Namespaces {
			if prev, dup := owner[ns]; dup {
				errs = append(errs, field.Invalid(pp.Child("selector", "namespaces"), ns, fmt.Sprintf("namespace %q is already selected by profile %q", ns, prev)))
			}
			owner[ns] = name
		}
	}
	if d.Default != "" && d.Profiles[d.Default] == nil && profileNameRE.MatchString(d.Default) {
		errs = append(errs, field.Invalid(child(fldPath, "default"), d.Default, fmt.Sprintf("names profile %q, which is not defined (have %s)", d.Default, strings.Join(names, ", "))))
	} else if d.Default != "" && d.Profiles[d.Default] == nil {
		errs = append(errs, field.Invalid(child(fldPath, "default"), d.Default, "not a profile name"))
	}
	return errs
}

func child(p *field.Path, name string) *field.Path {
	if p == nil {
		return field.NewPath(name)
	}
	return p.Child(name)
}

func enum(path *field.Path, v string, allowed ...string) field.ErrorList {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(path, v, allowed)}
}

// Validate checks one profile.
func (p *profileDoc) Validate(fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validatePlacement(fp.Child("placement"), p.Placement)...)
	errs = append(errs, p.Specs.validate(fp.Child("specs"))...)
	if p.FallbackSpecs != nil && (*p.FallbackSpecs < 0 || *p.FallbackSpecs > eci.MaxSpecs-1) {
		errs = append(errs, field.Invalid(fp.Child("fallbackSpecs"), *p.FallbackSpecs, fmt.Sprintf("expected 0..%d", eci.MaxSpecs-1)))
	}
	for i, f := range p.InstanceFamilies {
		if !familyRE.MatchString(f) {
			errs = append(errs, field.Invalid(fp.Child("instanceFamilies").Index(i), f, "expected an ECS instance family such as ecs.c6"))
		}
	}
	if p.Spot != nil {
		errs = append(errs, p.Spot.Validate(fp.Child("spot"))...)
	}
	if p.Zones != nil {
		errs = append(errs, p.Zones.Validate(fp.Child("zones"))...)
	}
	if p.FailStrategy != "" {
		errs = append(errs, enum(fp.Child("failStrategy"), p.FailStrategy, "fail-back", "fail-over", "fail-fast")...)
	}
	if p.Retry != nil {
		errs = append(errs, p.Retry.Validate(fp.Child("retry"))...)
	}
	if c := p.ImageCache; c != "" && c != ImageCacheAuto && c != ImageCacheOff && !imcRE.MatchString(c) {
		errs = append(errs, field.Invalid(fp.Child("imageCache"), c, "expected auto, off or an image cache ID (imc-...)"))
	}
	if s := p.EphemeralStorage; s != "" {
		if q, err := resource.ParseQuantity(s); err != nil || q.Sign() <= 0 || !strings.HasSuffix(s, "Gi") {
			errs = append(errs, field.Invalid(fp.Child("ephemeralStorage"), s, "expected a size in Gi such as 50Gi"))
		}
	}
	if r := p.RAMRole; r != nil && (*r == "" || strings.ContainsAny(*r, " ,")) {
		errs = append(errs, field.Invalid(fp.Child("ramRole"), *r, "expected a RAM role name"))
	}
	errs = append(errs, validateTags(fp.Child("tags"), p.Tags)...)
	if p.ExecutorResources != "" {
		errs = append(errs, enum(fp.Child("executorResources"), p.ExecutorResources, ExecutorResourcesIgnore, ExecutorResourcesCount)...)
	}
	if p.Incompatible != "" {
		errs = append(errs, enum(fp.Child("incompatible"), p.Incompatible, IncompatibleSkip, IncompatibleWarn, IncompatibleDeny)...)
	}
	if p.AgentPod != "" {
		errs = append(errs, enum(fp.Child("agentPod"), p.AgentPod, AgentPodECI, AgentPodStay)...)
	}
	if p.Agent != nil {
		errs = append(errs, p.Agent.Validate(fp.Child("agent"))...)
	}
	if p.Sizing != "" {
		errs = append(errs, enum(fp.Child("sizing"), p.Sizing, SizingDeclared, SizingLearned)...)
	}
	if p.Recovery != nil {
		errs = append(errs, p.Recovery.options().Validate(fp.Child("recovery"))...)
	}
	if p.Selector != nil && len(p.Selector.Namespaces) == 0 {
		errs = append(errs, field.Required(fp.Child("selector", "namespaces"), "expected at least one namespace"))
	}
	return errs
}

func validatePlacement(fp *field.Path, list []string) field.ErrorList {
	if list == nil {
		return nil
	}
	if len(list) == 0 {
		return field.ErrorList{field.Required(fp, "expected at least one of label, scheduler, nodeSelector")}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, s := range list {
		errs = append(errs, enum(fp.Index(i), s, PlacementLabel, PlacementScheduler, PlacementNodeSelector)...)
		if seen[s] {
			errs = append(errs, field.Duplicate(fp.Index(i), s))
		}
		seen[s] = true
	}
	return errs
}

func (s *specsValue) validate(fp *field.Path) field.ErrorList {
	if s == nil || s.auto {
		return nil
	}
	if s.list == nil {
		return field.ErrorList{field.Invalid(fp, s.raw, fmt.Sprintf("expected auto or a list of 1..%d specs", eci.MaxSpecs))}
	}
	if _, err := eci.ParseSpecList(strings.Join(s.list, ",")); err != nil {
		detail := err.Error()
		if _, isString := s.raw.(string); isString {
			detail = "expected auto or a list of specs: " + detail
		}
		return field.ErrorList{field.Invalid(fp, s.raw, detail)}
	}
	return nil
}

func validateTags(fp *field.Path, tags map[string]scalar) field.ErrorList {
	if len(tags) > eci.MaxCustomTags {
		return field.ErrorList{field.TooMany(fp, len(tags), eci.MaxCustomTags)}
	}
	var errs field.ErrorList
	for k, v := range tags {
		if !tagRE.MatchString(k) || !tagRE.MatchString(string(v)) {
			errs = append(errs, field.Invalid(fp.Child(k), string(v), "tag keys and values are 1..128 characters without ',', ':' or spaces"))
		}
	}
	return errs
}

// Validate checks the spot settings.
func (s *spotDoc) Validate(fp *field.Path) field.ErrorList {
	errs := enum(fp.Child("strategy"), s.Strategy, "SpotAsPriceGo", "SpotWithPriceLimit")
	price := string(s.PriceLimit)
	switch {
	case price != "" && !priceRE.MatchString(price):
		errs = append(errs, field.Invalid(fp.Child("priceLimit"), price, "expected an hourly price with at most 3 decimals such as 0.25"))
	case price != "":
		if f, _ := strconv.ParseFloat(price, 64); f <= 0 {
			errs = append(errs, field.Invalid(fp.Child("priceLimit"), price, "expected a price above 0"))
		}
	}
	switch {
	case s.Strategy == "SpotWithPriceLimit" && price == "":
		errs = append(errs, field.Required(fp.Child("priceLimit"), "required with strategy SpotWithPriceLimit"))
	case s.Strategy == "SpotAsPriceGo" && price != "":
		errs = append(errs, field.Invalid(fp.Child("priceLimit"), price, "only used with strategy SpotWithPriceLimit (strategy is SpotAsPriceGo)"))
	}
	if d := s.DurationHours; d != nil && (*d < 0 || *d > 1) { // a 1-hour protection period or none
		errs = append(errs, field.Invalid(fp.Child("durationHours"), *d, "expected 0..1"))
	}
	return errs
}

// Validate checks the zone settings.
func (z *zonesDoc) Validate(fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(z.VSwitches) == 0 {
		errs = append(errs, field.Required(fp.Child("vswitches"), "expected at least one vSwitch ID (vsw-...)"))
	}
	for i, s := range z.VSwitches {
		if !vswitchRE.MatchString(s) {
			errs = append(errs, field.Invalid(fp.Child("vswitches").Index(i), s, "expected a vSwitch ID such as vsw-2ze23nqzig8inprou"))
		}
	}
	if z.Strategy != "" {
		errs = append(errs, enum(fp.Child("strategy"), z.Strategy, "VSwitchOrdered", "VSwitchRandom")...)
	}
	return errs
}

// Validate checks the retry settings.
func (r *retryDoc) Validate(fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.Limit < 1 || r.Limit > 100 {
		errs = append(errs, field.Invalid(fp.Child("limit"), r.Limit, "expected 1..100"))
	}
	if r.Policy != "" {
		errs = append(errs, enum(fp.Child("policy"), r.Policy, "Always", "OnFailure", "OnError", "OnTransientError")...)
	}
	return errs
}

// profiles converts a validated document, filling in the defaults.
func (d *profilesDoc) profiles() *Profiles {
	out := &Profiles{Default: d.Default, Profiles: map[string]*Profile{}}
	for name, pd := range d.Profiles {
		out.Profiles[name] = pd.profile(name)
	}
	return out
}

func (pd *profileDoc) profile(name string) *Profile {
	p := &Profile{Name: name, Placement: []string{PlacementLabel, PlacementScheduler}, FallbackSpecs: 2,
		ExecutorResources: ExecutorResourcesIgnore, Incompatible: IncompatibleSkip, AgentPod: AgentPodECI,
		AgentPatchRate: plugin.DefaultAgentPatchRate, Sizing: SizingDeclared, Recovery: recovery.DefaultOptions()}
	if pd == nil {
		return p
	}
	if pd.Placement != nil {
		p.Placement = pd.Placement
	}
	if pd.Specs != nil && !pd.Specs.auto {
		p.Specs, _ = eci.ParseSpecList(strings.Join(pd.Specs.list, ","))
	}
	if pd.FallbackSpecs != nil {
		p.FallbackSpecs = *pd.FallbackSpecs
	}
	p.InstanceFamilies, p.FailStrategy, p.ImageCache, p.EphemeralStorage = pd.InstanceFamilies, pd.FailStrategy, pd.ImageCache, pd.EphemeralStorage
	if pd.RAMRole != nil {
		p.RAMRole = *pd.RAMRole
	}
	if s := pd.Spot; s != nil {
		p.Spot = &Spot{Strategy: s.Strategy, PriceLimit: string(s.PriceLimit), DurationHours: s.DurationHours, Fallback: s.Fallback}
	}
	if z := pd.Zones; z != nil {
		p.Zones = &Zones{VSwitches: z.VSwitches, Strategy: z.Strategy}
		if p.Zones.Strategy == "" {
			p.Zones.Strategy = "VSwitchRandom"
		}
	}
	if r := pd.Retry; r != nil {
		p.Retry = &Retry{Limit: r.Limit, Policy: r.Policy}
		if p.Retry.Policy == "" {
			p.Retry.Policy = "Always"
		}
	}
	if pd.Tags != nil {
		p.Tags = make(map[string]string, len(pd.Tags))
		for k, v := range pd.Tags {
			p.Tags[k] = string(v)
		}
	}
	if pd.ExecutorResources != "" {
		p.ExecutorResources = pd.ExecutorResources
	}
	if pd.Incompatible != "" {
		p.Incompatible = pd.Incompatible
	}
	if pd.AgentPod != "" {
		p.AgentPod = pd.AgentPod
	}
	if pd.Selector != nil {
		p.Selector = &Selector{Namespaces: pd.Selector.Namespaces}
	}
	if pd.Agent != nil && pd.Agent.PatchRate != nil {
		p.AgentPatchRate, _ = pd.Agent.patchRate()
	}
	if pd.Sizing != "" {
		p.Sizing = pd.Sizing
	}
	if pd.Recovery != nil {
		p.Recovery = pd.Recovery.options()
	}
	return p
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
