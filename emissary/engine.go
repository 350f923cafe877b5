package emissary

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/sizing"
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
	controller  *ControllerConfig // nil: Argo's defaults
	sizing      *sizing.Store     // learned specs (sizing: learned); nil: none

	// perTemplateMetadata keeps every setting on its template instead of gathering shared ones
	// into spec.podMetadata (see gatherShared); tests compare both layouts.
	perTemplateMetadata bool
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

// skipped reports argo-eci.io/skip; any value other than true/false is bad input (*badinput.Error).
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
	deferPath string // the podSpecPatch that defers it
	// executorOnly: the pod runs only argoexec (resource and data templates): it gets the smallest
	// spec that holds the executor, not ECI's 2-4Gi default.
	executorOnly bool
	// learned is the spec learned for this template (profile sizing: learned); nil: none.
	learned *sizing.Learned
	// noSpot: never add spot (Argo's agent pod, which every plugin step of the workflow waits on).
	noSpot bool
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

// annotations are the ECI annotations one decision adds, in the order it made them.
type annotations []struct{ key, value string }

func (a *annotations) add(k, v string) {
	if v != "" {
		*a = append(*a, struct{ key, value string }{k, v})
	}
}

// decide computes the ECI annotations for one pod under profile p and writes them to t.dst. It only
// adds keys that are absent from t.existing; a group (spot, zones, image cache) the user set partly
// is left whole. Each decision is its own function; decide runs them in order and records what it
// wrote (see recordDecision). It returns its findings.
func (e *Engine) decide(p *Profile, s settings, t target) ([]Finding, error) {
	var out annotations
	spec, reason, findings, err := decideSpec(p, s, t)
	if err != nil {
		return nil, err
	}
	out = append(out, spec...)
	out.add(AnnotationSpecReason, reason)
	if len(p.InstanceFamilies) > 0 {
		out.add(eci.AnnotationInstanceFamily, strings.Join(p.InstanceFamilies, ","))
	}
	spot, err := decideSpot(p, s, t.existing, t.path)
	if err != nil {
		return nil, err
	}
	if !t.noSpot {
		out = append(out, spot...)
		out.add(eci.AnnotationSpotReleaseStrategy, decideSpotRelease(p, spot, t.existing))
	}
	out = append(out, decideZones(p, t.existing)...)
	fail, err := decideFailStrategy(p, s)
	if err != nil {
		return nil, err
	}
	out.add(eci.AnnotationFailStrategy, fail)
	out = append(out, decideImageCache(p, t.existing)...)
	out.add(eci.AnnotationExtraEphemeral, p.EphemeralStorage)
	out.add(eci.AnnotationRAMRoleName, p.RAMRole)
	out.add(eci.AnnotationCustomTags, decideTags(p, t.tags))
	out.add(AnnotationShapedBy, p.Name)
	var written []string
	for _, a := range out {
		if _, ok := t.existing[a.key]; !ok {
			t.dst[a.key] = a.value
			written = append(written, a.key)
		}
	}
	recordDecision(t.dst, p.Name, written)
	return findings, nil
}

// explicitSpecs returns the spec list the user or profile chose (argo-eci.io/specs, else the
// profile's specs) and where it came from; nil means "auto".
func explicitSpecs(p *Profile, s settings) (list []eci.Spec, from string, err error) {
	switch v, path, ok := s.get(AnnotationSpecs); {
	case ok && v == "auto": // computed from the containers even when the profile lists specs
		return nil, "", nil
	case ok:
		list, err := eci.ParseSpecList(v)
		if err != nil {
			return nil, "", fieldErrorf(path, "%v", err)
		}
		return list, path, nil
	case p.Specs != nil:
		return p.Specs, "profile " + p.Name + " specs", nil
	}
	return nil, "", nil
}

func hasGPUType(list []eci.Spec) bool {
	for _, sp := range list {
		if sp.IsGPUType() {
			return true
		}
	}
	return false
}

// decideSpec chooses eci-use-specs: the user's own eci-use-specs is kept; an explicit list
// (argo-eci.io/specs or the profile's) is written as given; otherwise the cheapest catalog spec
// covering the pod's billed sum, then fallbackSpecs more. It returns the annotation, the one-line
// reason and findings (GPU without GPU types, a first spec smaller than the billed sum, ...).
func decideSpec(p *Profile, s settings, t target) (annotations, string, []Finding, error) {
	var out annotations
	var findings []Finding
	finding := func(code string, sev Severity, path, msg, hint string) {
		findings = append(findings, Finding{Code: code, Severity: sev, Template: t.template, Path: path, Message: msg, Hint: hint})
	}
	explicit, explicitFrom, err := explicitSpecs(p, s)
	if err != nil {
		return nil, "", nil, err
	}
	if user, ok := t.existing[eci.AnnotationUseSpecs]; ok {
		userPath := t.path + ".metadata.annotations[\"" + eci.AnnotationUseSpecs + "\"]"
		list, err := eci.ParseSpecList(user)
		if err != nil {
			return nil, "", nil, fieldErrorf(userPath, "%v", err)
		}
		// Both set side by side on the template (or pod) and disagreeing: the user must choose.
		// From different levels, precedence decides: the k8s.aliyun.com annotation wins.
		if own, ok := s[0].ann[AnnotationSpecs]; ok && explicit != nil && eci.FormatSpecList(explicit) != eci.FormatSpecList(list) {
			return nil, "", nil, fieldErrorf(explicitFrom, "%q conflicts with %s=%q beside it (remove one of them)", own, eci.AnnotationUseSpecs, user)
		}
		if t.need.gpu > 0 && !hasGPUType(list) {
			finding(CodeGPUNeedsType, SeverityError, t.path, "GPU pod whose eci-use-specs lists no ECS GPU instance type", "list a GPU type such as ecs.gn6i-c4g1.xlarge")
		}
		findings = append(findings, firstSpecTooSmall(list, t, userPath)...)
		return nil, "eci-use-specs set by the user: kept", findings, nil
	}
	if explicit == nil && useLearned(p, s, t) {
		out.add(eci.AnnotationUseSpecs, learnedSpecs(p, t.learned))
		reason := t.learned.Reason
		if reason == "" {
			reason = "learned from earlier runs → " + t.learned.Spec.String()
		}
		return out, reason, findings, nil
	}
	if t.deferSpec && explicit == nil {
		reason := "resources set by podSpecPatch with parameters: spec computed on the pod by the webhook"
		finding(CodeUserSpecs, SeverityInfo, t.deferPath, reason, "the pod webhook must be installed for these pods to get a spec")
		return nil, reason, findings, nil
	}
	if explicit != nil {
		out.add(eci.AnnotationUseSpecs, eci.FormatSpecList(explicit))
		if t.need.gpu > 0 && !hasGPUType(explicit) {
			finding(CodeGPUNeedsType, SeverityError, explicitFrom, "GPU pod whose specs list no ECS GPU instance type", "list a GPU type such as ecs.gn6i-c4g1.xlarge")
		}
		findings = append(findings, firstSpecTooSmall(explicit, t, explicitFrom)...)
		return out, "explicit specs from " + explicitFrom, findings, nil
	}
	switch {
	case t.executorOnly && t.need.gpu == 0 && !t.need.declared:
		chosen, _ := eci.Cheapest(t.need.milliCPU, t.need.memMiB)
		fb := eci.Fallbacks(chosen, p.FallbackSpecs)
		out.add(eci.AnnotationUseSpecs, eci.FormatSpecList(append([]eci.Spec{chosen}, fb...)))
		return out, "runs only argoexec (resource or data template) → " + chosen.String() + fallbackText(fb), findings, nil
	case t.need.gpu > 0:
		finding(CodeGPUNeedsType, SeverityError, t.path, "GPU pod without explicit ECS instance types: ECI cannot pick a GPU instance from vCPU/memory",
			fmt.Sprintf("set the %s annotation (or profile specs) to GPU types such as ecs.gn6i-c4g1.xlarge", AnnotationSpecs))
		return nil, fmt.Sprintf("GPU pod (%d nvidia.com/gpu): no spec written, needs explicit ECS types", t.need.gpu), findings, nil
	case !t.need.declared:
		chosen := eci.DefaultSpec
		fb := eci.Fallbacks(chosen, p.FallbackSpecs)
		out.add(eci.AnnotationUseSpecs, eci.FormatSpecList(append([]eci.Spec{chosen}, fb...)))
		finding(CodeNoResources, SeverityWarning, t.path, "no container declares CPU or memory: ECI bills the 2-4Gi default",
			"set resources.limits (or requests) on the containers so the spec fits the work")
		return out, "no resources declared → " + chosen.String() + " (ECI default)" + fallbackText(fb), findings, nil
	}
	chosen, ok := eci.Cheapest(t.need.milliCPU, t.need.memMiB)
	if !ok {
		reason := t.need.describe() + ": larger than any ECI spec"
		finding(CodeSpecTooLarge, SeverityError, t.path, reason, "lower the resources or use explicit ECS instance types")
		return nil, reason, findings, nil
	}
	fb := eci.Fallbacks(chosen, p.FallbackSpecs)
	out.add(eci.AnnotationUseSpecs, eci.FormatSpecList(append([]eci.Spec{chosen}, fb...)))
	return out, t.need.describe() + " → " + chosen.String() + fallbackText(fb), findings, nil
}

// firstSpecTooSmall reports an explicit spec list whose first vCPU/memory spec cannot hold the
// pod's billed sum: ECI would refuse the spec or the containers would not get what they declare.
// ECS instance types are not in the catalog and are not checked.
func firstSpecTooSmall(list []eci.Spec, t target, path string) []Finding {
	if len(list) == 0 || list[0].IsInstanceType() || !t.need.declared || t.deferSpec {
		return nil
	}
	if list[0].Covers(t.need.milliCPU, t.need.memMiB) {
		return nil
	}
	return []Finding{{Code: CodeSpecTooSmall, Severity: SeverityError, Template: t.template, Path: path,
		Message: fmt.Sprintf("first spec %s cannot hold the pod's %s", list[0], t.need.describe()),
		Hint:    "list a larger spec first, lower the resources, or use argo-eci.io/specs: auto"}}
}

// decideSpot applies the profile's spot settings, switched by argo-eci.io/spot, unless the user
// set any spot annotation. SpotWithPriceLimit without a price limit is bad input.
func decideSpot(p *Profile, s settings, existing map[string]string, path string) (annotations, error) {
	spot := p.Spot
	if v, vpath, ok := s.get(AnnotationSpot); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fieldErrorf(vpath, "expected \"true\" or \"false\", got %q", v)
		}
		switch {
		case !b:
			spot = nil
		case spot == nil:
			spot = &Spot{Strategy: "SpotAsPriceGo", Fallback: true}
		}
	}
	if existing[eci.AnnotationSpotStrategy] == "SpotWithPriceLimit" {
		if _, ok := existing[eci.AnnotationSpotPriceLimit]; !ok {
			return nil, fieldErrorf(path+".metadata.annotations[\""+eci.AnnotationSpotStrategy+"\"]", "SpotWithPriceLimit needs %s", eci.AnnotationSpotPriceLimit)
		}
	}
	if spot == nil || anyPresent(existing, spotKeys) {
		return nil, nil
	}
	var out annotations
	out.add(eci.AnnotationSpotStrategy, spot.Strategy)
	out.add(eci.AnnotationSpotPriceLimit, spot.PriceLimit)
	if spot.DurationHours != nil {
		out.add(eci.AnnotationSpotDuration, strconv.Itoa(*spot.DurationHours))
	}
	if spot.Fallback {
		out.add(eci.AnnotationSpotFallback, "true")
	}
	return out, nil
}

// decideSpotRelease returns api-evict for a spot pod (profile recovery.apiEvict), so that a reclaim
// reaches Argo as an eviction the retry can recognise; the pod webhook's recovery step writes the
// same, and render writes it here so that the two agree.
func decideSpotRelease(p *Profile, spot annotations, existing map[string]string) string {
	if !p.Recovery.APIEvict || existing[eci.AnnotationSpotReleaseStrategy] != "" {
		return ""
	}
	if len(spot) == 0 && existing[eci.AnnotationSpotStrategy] == "" {
		return ""
	}
	return eci.SpotReleaseAPIEvict
}

// decideZones spreads pods over the profile's vSwitches unless the user set either zone key.
func decideZones(p *Profile, existing map[string]string) annotations {
	z := p.Zones
	if z == nil || anyPresent(existing, zoneKeys) {
		return nil
	}
	var out annotations
	out.add(eci.AnnotationVSwitch, strings.Join(z.VSwitches, ","))
	out.add(eci.AnnotationScheduleStrategy, z.Strategy)
	return out
}

// decideFailStrategy returns argo-eci.io/fail-strategy, else the profile's.
func decideFailStrategy(p *Profile, s settings) (string, error) {
	v, path, ok := s.get(AnnotationFailStrategy)
	if !ok {
		return p.FailStrategy, nil
	}
	if v != "fail-back" && v != "fail-over" && v != "fail-fast" {
		return "", fieldErrorf(path, "expected fail-back, fail-over or fail-fast, got %q", v)
	}
	return v, nil
}

// decideImageCache applies the profile's imageCache unless the user set any image-cache key.
func decideImageCache(p *Profile, existing map[string]string) annotations {
	if anyPresent(existing, imcKeys) {
		return nil
	}
	var out annotations
	switch p.ImageCache {
	case "":
	case ImageCacheAuto:
		out.add(eci.AnnotationAutoIMC, "true")
	case ImageCacheOff:
		out.add(eci.AnnotationAutoIMC, "false")
	default:
		out.add(eci.AnnotationIMCID, p.ImageCache)
	}
	return out
}

// decideTags returns eci-custom-tags: the name tags first, then the profile's sorted by key, 3 at
// most; "" when there are none.
func decideTags(p *Profile, names []string) string {
	tags := append([]string(nil), names...)
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
	return strings.Join(tags, ",")
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
