package emissary

import (
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

// Profile is one named way of running pods on ECI. Each field is documented in the README's "Profiles" section.
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
