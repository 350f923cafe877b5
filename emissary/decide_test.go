package emissary

import (
	"errors"
	"reflect"
	"testing"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/eci"
)

func ann(kv ...string) annotations {
	var out annotations
	for i := 0; i+1 < len(kv); i += 2 {
		out.add(kv[i], kv[i+1])
	}
	return out
}

func TestDecideSpot(t *testing.T) {
	one := 1
	priceGo := &Spot{Strategy: "SpotAsPriceGo", Fallback: true, DurationHours: &one}
	for _, tc := range []struct {
		name     string
		spot     *Spot
		settings map[string]string
		existing map[string]string
		want     annotations
		badInput bool
	}{
		{"profile spot", priceGo, nil, nil, ann(eci.AnnotationSpotStrategy, "SpotAsPriceGo", eci.AnnotationSpotDuration, "1", eci.AnnotationSpotFallback, "true"), false},
		{"no spot", nil, nil, nil, nil, false},
		{"turned off", priceGo, map[string]string{AnnotationSpot: "false"}, nil, nil, false},
		{"turned on without profile spot", nil, map[string]string{AnnotationSpot: "true"}, nil, ann(eci.AnnotationSpotStrategy, "SpotAsPriceGo", eci.AnnotationSpotFallback, "true"), false},
		{"user set part of the group", priceGo, nil, map[string]string{eci.AnnotationSpotDuration: "0"}, nil, false},
		{"bad switch", priceGo, map[string]string{AnnotationSpot: "maybe"}, nil, nil, true},
		{"price limit missing", nil, nil, map[string]string{eci.AnnotationSpotStrategy: "SpotWithPriceLimit"}, nil, true},
	} {
		got, err := decideSpot(&Profile{Spot: tc.spot}, settings{{ann: tc.settings, path: "a"}}, tc.existing, "pod")
		var fe *badinput.Error
		if tc.badInput != errors.As(err, &fe) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, %v; want %v (bad input %v)", tc.name, got, err, tc.want, tc.badInput)
		}
	}
}

func TestDecideZones(t *testing.T) {
	z := &Zones{VSwitches: []string{"vsw-a", "vsw-b"}, Strategy: "VSwitchOrdered"}
	for _, tc := range []struct {
		name     string
		zones    *Zones
		existing map[string]string
		want     annotations
	}{
		{"profile zones", z, nil, ann(eci.AnnotationVSwitch, "vsw-a,vsw-b", eci.AnnotationScheduleStrategy, "VSwitchOrdered")},
		{"none", nil, nil, nil},
		{"user vswitch kept whole", z, map[string]string{eci.AnnotationVSwitch: "vsw-c"}, nil},
	} {
		if got := decideZones(&Profile{Zones: tc.zones}, tc.existing); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDecideFailStrategy(t *testing.T) {
	for _, tc := range []struct {
		profile, annotation, want string
		badInput                  bool
	}{
		{"fail-fast", "", "fail-fast", false},
		{"fail-fast", "fail-over", "fail-over", false},
		{"", "", "", false},
		{"fail-fast", "retry", "", true},
	} {
		s := settings{{ann: map[string]string{}, path: "a"}}
		if tc.annotation != "" {
			s[0].ann[AnnotationFailStrategy] = tc.annotation
		}
		got, err := decideFailStrategy(&Profile{FailStrategy: tc.profile}, s)
		if got != tc.want || (err != nil) != tc.badInput {
			t.Errorf("%+v: got %q, %v", tc, got, err)
		}
	}
}

func TestDecideImageCache(t *testing.T) {
	for _, tc := range []struct {
		profile  string
		existing map[string]string
		want     annotations
	}{
		{ImageCacheAuto, nil, ann(eci.AnnotationAutoIMC, "true")},
		{ImageCacheOff, nil, ann(eci.AnnotationAutoIMC, "false")},
		{"imc-123", nil, ann(eci.AnnotationIMCID, "imc-123")},
		{"", nil, nil},
		{ImageCacheAuto, map[string]string{eci.AnnotationImageSnapshotID: "imc-9"}, nil},
	} {
		if got := decideImageCache(&Profile{ImageCache: tc.profile}, tc.existing); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %v, want %v", tc.profile, got, tc.want)
		}
	}
}

func TestDecideTags(t *testing.T) {
	for _, tc := range []struct {
		names []string
		tags  map[string]string
		want  string
	}{
		{[]string{"workflow:a", "template:b"}, map[string]string{"team": "data", "cost": "x"}, "workflow:a,template:b,cost:x"},
		{nil, map[string]string{"team": "data"}, "team:data"},
		{nil, nil, ""},
	} {
		if got := decideTags(&Profile{Tags: tc.tags}, tc.names); got != tc.want {
			t.Errorf("%v %v: got %q, want %q", tc.names, tc.tags, got, tc.want)
		}
	}
}

func TestDecideSpec(t *testing.T) {
	declared := need{milliCPU: 1500, memMiB: 3072, declared: true, limits: true}
	for _, tc := range []struct {
		name     string
		profile  Profile
		settings map[string]string
		existing map[string]string
		need     need
		defer_   bool
		want     annotations
		code     string
	}{
		{"computed", Profile{FallbackSpecs: 1}, nil, nil, declared, false, ann(eci.AnnotationUseSpecs, "2-4Gi,2-8Gi"), ""},
		// vCPU-first rounding would pick 12-96Gi, which costs more than 16-64Gi.
		{"cheapest covering", Profile{}, nil, nil, need{milliCPU: 8250, memMiB: 49664, declared: true, limits: true}, false, ann(eci.AnnotationUseSpecs, "16-64Gi"), ""},
		{"no resources", Profile{}, nil, nil, need{}, false, ann(eci.AnnotationUseSpecs, "2-4Gi"), CodeNoResources},
		{"explicit annotation", Profile{}, map[string]string{AnnotationSpecs: "4-8Gi"}, nil, declared, false, ann(eci.AnnotationUseSpecs, "4-8Gi"), ""},
		{"explicit too small", Profile{}, map[string]string{AnnotationSpecs: "1-2Gi"}, nil, declared, false, ann(eci.AnnotationUseSpecs, "1-2Gi"), CodeSpecTooSmall},
		{"user eci-use-specs kept", Profile{}, nil, map[string]string{eci.AnnotationUseSpecs: "2-4Gi"}, declared, false, nil, ""},
		{"user eci-use-specs too small", Profile{}, nil, map[string]string{eci.AnnotationUseSpecs: "1-2Gi"}, declared, false, nil, CodeSpecTooSmall},
		{"gpu", Profile{}, nil, nil, need{milliCPU: 4000, memMiB: 8192, gpu: 1, declared: true}, false, nil, CodeGPUNeedsType},
		{"too large", Profile{}, nil, nil, need{milliCPU: 128000, memMiB: 1024, declared: true}, false, nil, CodeSpecTooLarge},
		{"deferred to the webhook", Profile{}, nil, nil, declared, true, nil, CodeUserSpecs},
	} {
		got, reason, findings, err := decideSpec(&tc.profile, settings{{ann: tc.settings, path: "a"}},
			target{existing: tc.existing, need: tc.need, deferSpec: tc.defer_, path: "p"})
		if err != nil || !reflect.DeepEqual(got, tc.want) || reason == "" {
			t.Errorf("%s: got %v (%q), %v; want %v", tc.name, got, reason, err, tc.want)
		}
		if (tc.code == "") != (len(findings) == 0) || (tc.code != "" && hasCode(findings, tc.code) == nil) {
			t.Errorf("%s: findings %+v, want %q", tc.name, findings, tc.code)
		}
	}
}
