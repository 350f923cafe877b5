package emissary

import (
	"errors"
	"strings"
	"testing"

	"github.com/argo-eci/argo-eci/badinput"
)

const fullProfiles = `
default: standard
profiles:
  standard:
    placement: [label, scheduler]
    specs: auto
    fallbackSpecs: 2
    instanceFamilies: [ecs.c6, ecs.g6]
    spot: {strategy: SpotWithPriceLimit, priceLimit: "0.25", durationHours: 1, fallback: true}
    zones: {vswitches: [vsw-a, vsw-b], strategy: VSwitchRandom}
    failStrategy: fail-fast
    retry: {limit: 3, policy: Always}
    imageCache: auto
    ephemeralStorage: 50Gi
    ramRole: argo-artifacts
    tags: {team: data}
    executorResources: ignore
    incompatible: skip
    agentPod: eci
  ci:
    placement: [nodeSelector]
    specs: [ecs.c6.large, ecs.c5.large, 2-4Gi]
    spot: {strategy: SpotAsPriceGo}
    selector: {namespaces: [ci]}
`

func TestParseProfilesFull(t *testing.T) {
	p, err := ParseProfiles([]byte(fullProfiles))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Profiles["standard"]
	if p.Default != "standard" || s == nil || s.Specs != nil || s.FallbackSpecs != 2 || s.Spot.PriceLimit != "0.25" ||
		*s.Spot.DurationHours != 1 || !s.Spot.Fallback || len(s.Zones.VSwitches) != 2 || s.Retry.Limit != 3 ||
		s.Tags["team"] != "data" || s.EphemeralStorage != "50Gi" || s.RAMRole != "argo-artifacts" {
		t.Errorf("standard = %+v", s)
	}
	ci := p.Profiles["ci"]
	if len(ci.Specs) != 3 || ci.Specs[0].InstanceType != "ecs.c6.large" || ci.Placement[0] != PlacementNodeSelector ||
		ci.Selector.Namespaces[0] != "ci" || ci.ExecutorResources != ExecutorResourcesIgnore || ci.Incompatible != IncompatibleSkip {
		t.Errorf("ci = %+v", ci)
	}
}

func TestParseProfilesErrors(t *testing.T) {
	tests := []struct {
		doc, path, msg string
	}{
		{"profiles: {a: {fallbackSpecs: 9}}", "profiles.a.fallbackSpecs", "Invalid value: 9: expected 0..4"},
		{"profiles: {a: {fallbackSpec: 1}}", "profiles.a.fallbackSpec", "unknown field"},
		{"defaults: a", "defaults", "unknown field"},
		{"default: b\nprofiles: {a: {}}", "default", `"b"`},
		{"profiles: {a: {placement: [label, cloud]}}", "profiles.a.placement[1]", "cloud"},
		{"profiles: {a: {placement: []}}", "profiles.a.placement", "at least one"},
		{"profiles: {a: {specs: [2-3Gi]}}", "profiles.a.specs", "2-3Gi"},
		{"profiles: {a: {specs: [1-2Gi, 2-4Gi, 4-8Gi, 8-16Gi, 16-32Gi, 32-64Gi]}}", "profiles.a.specs", "at most 5"},
		{"profiles: {a: {specs: manual}}", "profiles.a.specs", "auto or a list"},
		{"profiles: {a: {spot: {strategy: SpotWithPriceLimit}}}", "profiles.a.spot.priceLimit", "required"},
		{"profiles: {a: {spot: {strategy: SpotWithPriceLimit, priceLimit: \"0.2501\"}}}", "profiles.a.spot.priceLimit", "3 decimals"},
		{"profiles: {a: {spot: {strategy: Cheap}}}", "profiles.a.spot.strategy", "SpotAsPriceGo"},
		{"profiles: {a: {spot: {strategy: SpotAsPriceGo, durationHours: 2}}}", "profiles.a.spot.durationHours", "0..1"},
		{"profiles: {a: {spot: {strategy: SpotAsPriceGo, fallback: maybe}}}", "profiles.a.spot.fallback", "true or false"},
		{"profiles: {a: {zones: {vswitches: []}}}", "profiles.a.zones.vswitches", "at least one"},
		{"profiles: {a: {zones: {vswitches: [subnet-1]}}}", "profiles.a.zones.vswitches[0]", "vSwitch"},
		{"profiles: {a: {failStrategy: retry}}", "profiles.a.failStrategy", "fail-fast"},
		{"profiles: {a: {retry: {limit: 0}}}", "profiles.a.retry.limit", "1..100"},
		{"profiles: {a: {imageCache: mine}}", "profiles.a.imageCache", "imc-"},
		{"profiles: {a: {ephemeralStorage: lots}}", "profiles.a.ephemeralStorage", "50Gi"},
		{"profiles: {a: {tags: {a: 1, b: 2, c: 3, d: 4}}}", "profiles.a.tags", "at most 3"},
		{"profiles: {a: {tags: {'a:b': x}}}", "profiles.a.tags.a:b", "','"},
		{"profiles: {a: {executorResources: drop}}", "profiles.a.executorResources", "ignore"},
		{"profiles: {a: {incompatible: allow}}", "profiles.a.incompatible", "deny"},
		{"profiles: {a: {agentPod: away}}", "profiles.a.agentPod", "stay"},
		{"profiles: {Bad_Name: {}}", "profiles.Bad_Name", "lower-case"},
		{"profiles: {a: {selector: {namespaces: [x]}}, b: {selector: {namespaces: [x]}}}", "profiles.b.selector.namespaces", "already selected"},
		{"profiles: [a]", "profiles", "mapping"},
		{"profiles: {a: {instanceFamilies: [c6]}}", "profiles.a.instanceFamilies[0]", "ecs.c6"},
		{"profiles: {a: [", "profiles.yaml", "not valid YAML"},
		{"profiles:\n  a: {}\n  a: {fallbackSpecs: 1}\n", "profiles.a", "given twice (line 3)"},
		{"profiles: {a: {fallbackSpecs: 1, fallbackSpecs: 2}}", "profiles.a.fallbackSpecs", "given twice"},
		{"profiles: {a: {tags: {team: [data]}}}", "profiles.a.tags.team", "expected a string, got a list"},
		{"profiles: {a: {spot: {strategy: SpotWithPriceLimit, priceLimit: {max: 1}}}}", "profiles.a.spot.priceLimit", "expected a string, got a mapping"},
		{"profiles: {a: {fallbackSpecs: two}}", "profiles.a.fallbackSpecs", `expected a whole number, got "two"`},
		{"- a", "profiles.yaml", "mapping"},
	}
	for _, tt := range tests {
		_, err := ParseProfiles([]byte(tt.doc))
		var fe *badinput.Error
		if !errors.As(err, &fe) {
			t.Errorf("%q: error %v is not a *badinput.Error", tt.doc, err)
			continue
		}
		if fe.Field() != tt.path || !strings.Contains(fe.Message(), tt.msg) {
			t.Errorf("%q: got %q, want path %s and message containing %q", tt.doc, err, tt.path, tt.msg)
		}
	}
}

func TestParseProfilesEmpty(t *testing.T) {
	p, err := ParseProfiles(nil)
	if err != nil || p.Default != "" || len(p.Profiles) != 0 {
		t.Fatalf("empty: %+v, %v", p, err)
	}
	d := DefaultProfiles()
	if d.Default != "standard" || d.Profiles["standard"].Retry == nil {
		t.Fatalf("built-in: %+v", d)
	}
}
