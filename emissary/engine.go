package emissary

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/argo-eci/argo-eci/eci"
)

// Annotations argo-eci reads (on Workflows, templates and pods) and writes (on pods and templates).
const (
	AnnotationPrefix       = "argo-eci.io/"
	AnnotationProfile      = AnnotationPrefix + "profile"       // profile name
	AnnotationSkip         = AnnotationPrefix + "skip"          // "true": leave alone
	AnnotationSpecs        = AnnotationPrefix + "specs"         // explicit eci-use-specs list, or "auto"
	AnnotationSpot         = AnnotationPrefix + "spot"          // "false" turns spot off, "true" on
	AnnotationFailStrategy = AnnotationPrefix + "fail-strategy" // fail-back | fail-over | fail-fast
	AnnotationDatasets     = AnnotationPrefix + "datasets"      // comma list of Fluid dataset PVC names
	AnnotationShapedBy     = AnnotationPrefix + "shaped-by"     // written: the profile applied
	AnnotationSpecReason   = AnnotationPrefix + "spec-reason"   // written: how the spec was chosen
)

// Engine applies profiles. It is immutable and safe for concurrent use; build a new one when the
// profiles change.
type Engine struct {
	profiles    *Profiles
	byNamespace map[string]*Profile
}

// NewEngine builds an Engine over p (nil means no profiles: everything is left alone).
func NewEngine(p *Profiles) *Engine {
	if p == nil {
		p = &Profiles{Profiles: map[string]*Profile{}}
	}
	e := &Engine{profiles: p, byNamespace: map[string]*Profile{}}
	for _, name := range p.Names() {
		if s := p.Profiles[name].Selector; s != nil {
			for _, ns := range s.Namespaces {
				if _, dup := e.byNamespace[ns]; !dup {
					e.byNamespace[ns] = p.Profiles[name]
				}
			}
		}
	}
	return e
}

// Profiles returns the profiles the engine applies.
func (e *Engine) Profiles() *Profiles { return e.profiles }

// layer is one source of argo-eci.io/* settings; layers are consulted strongest first.
type layer struct {
	ann  map[string]string
	path string // e.g. `metadata.annotations` or `spec.templates[2].metadata.annotations`
}

type settings []layer

// get returns the strongest value of key and the field path it came from.
func (s settings) get(key string) (value, path string, ok bool) {
	for _, l := range s {
		if v, ok := l.ann[key]; ok {
			return v, fmt.Sprintf("%s[%q]", l.path, key), true
		}
	}
	return "", "", false
}

// skipped reports argo-eci.io/skip; any value other than true/false is a FieldError.
func (s settings) skipped() (bool, error) {
	v, path, ok := s.get(AnnotationSkip)
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fieldErrorf(path, "expected \"true\" or \"false\", got %q", v)
	}
	return b, nil
}

// selectProfile picks the profile: argo-eci.io/profile, else a namespace selector, else the default.
// nil without error means "leave alone".
func (e *Engine) selectProfile(namespace string, s settings) (*Profile, error) {
	if name, path, ok := s.get(AnnotationProfile); ok {
		p := e.profiles.Profiles[name]
		if p == nil {
			return nil, fieldErrorf(path, "unknown profile %q (have %s)", name, strings.Join(e.profiles.Names(), ", "))
		}
		return p, nil
	}
	if p := e.byNamespace[namespace]; p != nil {
		return p, nil
	}
	if e.profiles.Default != "" {
		return e.profiles.Profiles[e.profiles.Default], nil
	}
	return nil, nil
}

// target describes the pod-to-be for decide.
type target struct {
	existing map[string]string // annotations already present
	// dst receives the annotations decide adds. It may be existing itself: decide consults each key
	// (and each group of keys) before it writes any of them.
	dst      map[string]string
	need     need
	tags     []string // "k:v" derived from names, strongest first
	template string   // template name for findings
	path     string   // field path of the pod or template, for findings
	// deferSpec: resources are not known yet (set by a podSpecPatch); write no spec.
	deferSpec bool
}

var spotKeys = []string{eci.AnnotationSpotStrategy, eci.AnnotationSpotPriceLimit, eci.AnnotationSpotDuration, eci.AnnotationSpotFallback}
var zoneKeys = []string{eci.AnnotationVSwitch, eci.AnnotationScheduleStrategy}
var imcKeys = []string{eci.AnnotationAutoIMC, eci.AnnotationImageCache, eci.AnnotationIMCID, eci.AnnotationImageSnapshotID}

func anyPresent(m map[string]string, keys []string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// decide computes the ECI annotations for one pod under profile p and writes them to t.dst. It only
// adds keys that are absent from t.existing; a group (spot, zones, image cache) the user set partly
// is left whole. It returns its findings.
func (e *Engine) decide(p *Profile, s settings, t target) ([]Finding, error) {
	var findings []Finding
	set := func(k, v string) {
		if _, ok := t.existing[k]; !ok && v != "" {
			t.dst[k] = v
		}
	}
	finding := func(code string, sev Severity, path, msg, hint string) {
		findings = append(findings, Finding{Code: code, Severity: sev, Template: t.template, Path: path, Message: msg, Hint: hint})
	}

	// Spec.
	var explicit []eci.Spec
	explicitFrom := ""
	switch v, path, ok := s.get(AnnotationSpecs); {
	case ok && v == "auto": // computed from the containers even when the profile lists specs
	case ok:
		list, err := eci.ParseSpecList(v)
		if err != nil {
			return nil, fieldErrorf(path, "%v", err)
		}
		explicit, explicitFrom = list, path
	case p.Specs != nil:
		explicit, explicitFrom = p.Specs, "profile "+p.Name
	}
	hasGPUType := func(list []eci.Spec) bool {
		for _, sp := range list {
			if sp.IsGPUType() {
				return true
			}
		}
		return false
	}
	reason := ""
	if user, ok := t.existing[eci.AnnotationUseSpecs]; ok {
		list, err := eci.ParseSpecList(user)
		if err != nil {
			return nil, fieldErrorf(t.path+".metadata.annotations[\""+eci.AnnotationUseSpecs+"\"]", "%v", err)
		}
		// Both set side by side on the template (or pod) and disagreeing: the user must choose.
		// From different levels, precedence decides: the k8s.aliyun.com annotation wins.
		if own, ok := s[0].ann[AnnotationSpecs]; ok && explicit != nil && eci.FormatSpecList(explicit) != eci.FormatSpecList(list) {
			return nil, fieldErrorf(explicitFrom, "%q conflicts with %s=%q beside it (remove one of them)", own, eci.AnnotationUseSpecs, user)
		}
		reason = "eci-use-specs set by the user: kept"
		if t.need.gpu > 0 && !hasGPUType(list) {
			finding(CodeGPUNeedsType, SeverityError, t.path, "GPU pod whose eci-use-specs lists no ECS GPU instance type", "list a GPU type such as ecs.gn6i-c4g1.xlarge")
		}
	} else if t.deferSpec && explicit == nil {
		reason = "resources set by podSpecPatch: spec computed on the pod by the webhook"
		finding(CodeUserSpecs, SeverityInfo, t.path+".podSpecPatch", reason, "")
	} else if explicit != nil {
		set(eci.AnnotationUseSpecs, eci.FormatSpecList(explicit))
		reason = "explicit specs from " + explicitFrom
		if t.need.gpu > 0 && !hasGPUType(explicit) {
			finding(CodeGPUNeedsType, SeverityError, explicitFrom, "GPU pod whose specs list no ECS GPU instance type", "list a GPU type such as ecs.gn6i-c4g1.xlarge")
		}
	} else {
		switch {
		case t.need.gpu > 0:
			reason = fmt.Sprintf("GPU pod (%d nvidia.com/gpu): no spec written, needs explicit ECS types", t.need.gpu)
			finding(CodeGPUNeedsType, SeverityError, t.path, "GPU pod without explicit ECS instance types: ECI cannot pick a GPU instance from vCPU/memory",
				fmt.Sprintf("set the %s annotation (or profile specs) to GPU types such as ecs.gn6i-c4g1.xlarge", AnnotationSpecs))
		case !t.need.declared:
			chosen := eci.DefaultSpec
			fb := eci.Fallbacks(chosen, p.FallbackSpecs)
			set(eci.AnnotationUseSpecs, eci.FormatSpecList(append([]eci.Spec{chosen}, fb...)))
			reason = "no resources declared → " + chosen.String() + " (ECI default)" + fallbackText(fb)
			finding(CodeNoResources, SeverityWarning, t.path, "no container declares CPU or memory: ECI bills the 2-4Gi default",
				"set resources.limits (or requests) on the containers so the spec fits the work")
		default:
			chosen, ok := eci.RoundUp(t.need.milliCPU, t.need.memMiB)
			if !ok {
				reason = t.need.describe() + ": larger than any ECI spec"
				finding(CodeSpecTooLarge, SeverityError, t.path, reason, "lower the resources or use explicit ECS instance types")
				break
			}
			fb := eci.Fallbacks(chosen, p.FallbackSpecs)
			set(eci.AnnotationUseSpecs, eci.FormatSpecList(append([]eci.Spec{chosen}, fb...)))
			reason = t.need.describe() + " → " + chosen.String() + fallbackText(fb)
		}
	}
	set(AnnotationSpecReason, reason)

	if len(p.InstanceFamilies) > 0 {
		set(eci.AnnotationInstanceFamily, strings.Join(p.InstanceFamilies, ","))
	}

	// Spot.
	spot := p.Spot
	if v, path, ok := s.get(AnnotationSpot); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fieldErrorf(path, "expected \"true\" or \"false\", got %q", v)
		}
		switch {
		case !b:
			spot = nil
		case spot == nil:
			spot = &Spot{Strategy: "SpotAsPriceGo", Fallback: true}
		}
	}
	if user := t.existing[eci.AnnotationSpotStrategy]; user == "SpotWithPriceLimit" {
		if _, ok := t.existing[eci.AnnotationSpotPriceLimit]; !ok {
			return nil, fieldErrorf(t.path+".metadata.annotations[\""+eci.AnnotationSpotStrategy+"\"]", "SpotWithPriceLimit needs %s", eci.AnnotationSpotPriceLimit)
		}
	}
	if spot != nil && !anyPresent(t.existing, spotKeys) {
		set(eci.AnnotationSpotStrategy, spot.Strategy)
		set(eci.AnnotationSpotPriceLimit, spot.PriceLimit)
		if spot.DurationHours != nil {
			set(eci.AnnotationSpotDuration, strconv.Itoa(*spot.DurationHours))
		}
		if spot.Fallback {
			set(eci.AnnotationSpotFallback, "true")
		}
	}

	// Zones.
	if z := p.Zones; z != nil && !anyPresent(t.existing, zoneKeys) {
		set(eci.AnnotationVSwitch, strings.Join(z.VSwitches, ","))
		set(eci.AnnotationScheduleStrategy, z.Strategy)
	}

	// Failure strategy.
	fail := p.FailStrategy
	if v, path, ok := s.get(AnnotationFailStrategy); ok {
		if v != "fail-back" && v != "fail-over" && v != "fail-fast" {
			return nil, fieldErrorf(path, "expected fail-back, fail-over or fail-fast, got %q", v)
		}
		fail = v
	}
	set(eci.AnnotationFailStrategy, fail)

	// Image cache.
	if !anyPresent(t.existing, imcKeys) {
		switch p.ImageCache {
		case "":
		case ImageCacheAuto:
			set(eci.AnnotationAutoIMC, "true")
		case ImageCacheOff:
			set(eci.AnnotationAutoIMC, "false")
		default:
			set(eci.AnnotationIMCID, p.ImageCache)
		}
	}
	set(eci.AnnotationExtraEphemeral, p.EphemeralStorage)
	set(eci.AnnotationRAMRoleName, p.RAMRole)

	// Tags: names first, then the profile's, 3 at most.
	tags := append([]string(nil), t.tags...)
	keys := make([]string, 0, len(p.Tags))
	for k := range p.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tags = append(tags, k+":"+p.Tags[k])
	}
	if len(tags) > eci.MaxCustomTags {
		tags = tags[:eci.MaxCustomTags]
	}
	if len(tags) > 0 {
		set(eci.AnnotationCustomTags, strings.Join(tags, ","))
	}
	set(AnnotationShapedBy, p.Name)
	return findings, nil
}

func fallbackText(fb []eci.Spec) string {
	if len(fb) == 0 {
		return ""
	}
	return "; fallbacks " + eci.FormatSpecList(fb)
}

var tagSeparators = strings.NewReplacer(",", "-", ":", "-", " ", "-")

// tagValue trims a name to what an ECI tag value may hold.
func tagValue(s string) string {
	s = tagSeparators.Replace(s)
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}
