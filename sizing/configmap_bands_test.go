package sizing

import (
	"os"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// bandedData is the ConfigMap data of a template busy at UTC 06–18 and quiet otherwise, learned
// with 4 bands in Asia/Shanghai (busy there at 14–02).
func bandedData(t *testing.T) (map[string]string, *Recommendation) {
	t.Helper()
	o := bandOptions(4)
	var err error
	if o.TimeZone, err = LoadZone("Asia/Shanghai"); err != nil {
		t.Fatal(err)
	}
	rec, err := Recommend(id, dailyRuns(3, 3, 0.4, 1000, 1000), spec(t, "8-16Gi"), o)
	if err != nil {
		t.Fatal(err)
	}
	data, err := EncodeConfigMapData([]Entry{EntryOf(rec)})
	if err != nil {
		t.Fatal(err)
	}
	return data, rec
}

func TestConfigMapBandsRoundTrip(t *testing.T) {
	data, rec := bandedData(t)
	entry := data["ci_wt_build_compile"]
	if !strings.Contains(entry, "timeZone: Asia/Shanghai") || !strings.Contains(entry, "bands:") {
		t.Fatalf("entry without its bands:\n%s", entry)
	}
	table, err := ParseConfigMapData(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := table.Lookup(id); !ok || got.Spec != rec.Spec || got.Band != nil {
		t.Errorf("Lookup = %s band %v, want the whole template's %s", got.Spec, got.Band, rec.Spec)
	}
	for _, at := range []time.Time{{}, t0.Add(2 * time.Hour), t0.Add(8 * time.Hour), t0.Add(23 * time.Hour)} {
		want := rec.At(at)
		got, ok := table.LookupAt(id, at)
		if !ok || got.Spec != want.Spec || got.Reason != want.Reason {
			t.Errorf("LookupAt(%s) = %s %q, want %s %q", at, got.Spec, got.Reason, want.Spec, want.Reason)
		}
		if (got.Band == nil) != (want == rec) {
			t.Errorf("LookupAt(%s): band %+v", at, got.Band)
		}
	}
	// 02:00 UTC is 10:00 in Shanghai: the quiet 06–12 band.
	if got, _ := table.LookupAt(id, t0.Add(2*time.Hour)); got.Band == nil || got.Band.From != 6 || got.Spec.MilliCPU > 1000 ||
		!strings.Contains(got.Reason, "started 06:00–12:00 Asia/Shanghai") {
		t.Errorf("10:00 Shanghai: %s %q band %+v", got.Spec, got.Reason, got.Band)
	}
	var s Store
	if err := s.Update(data); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LookupAt(id, t0.Add(2*time.Hour)); got.Spec.MilliCPU > 1000 {
		t.Errorf("Store.LookupAt: %s, want the quiet band's", got.Spec)
	}
}

// Entries written before bands existed (testdata/entry.yaml) still load, with no band.
func TestConfigMapEntryWithoutBands(t *testing.T) {
	old, err := os.ReadFile("testdata/entry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	table, err := ParseConfigMapData(map[string]string{"ci_wt_build_compile": string(old)})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := table.LookupAt(id, t0.Add(3*time.Hour))
	if !ok || got.Spec != spec(t, "2-4Gi") || got.Band != nil {
		t.Errorf("LookupAt = %s band %v, %v; want 2-4Gi, no band", got.Spec, got.Band, ok)
	}
}

// A band learned elsewhere (testdata/entry-bands.yaml) loads as written.
func TestConfigMapEntryBandsTestdata(t *testing.T) {
	raw, err := os.ReadFile("testdata/entry-bands.yaml")
	if err != nil {
		t.Fatal(err)
	}
	table, err := ParseConfigMapData(map[string]string{"ci_wt_build_compile": string(raw)})
	if err != nil {
		t.Fatal(err)
	}
	// 20:00 UTC is 04:00 in Shanghai: the night band 00–06.
	got, _ := table.LookupAt(id, time.Date(2026, 11, 20, 20, 0, 0, 0, time.UTC))
	if got.Spec != spec(t, "1-2Gi") {
		t.Errorf("04:00 Shanghai: %s, want 1-2Gi", got.Spec)
	}
	if got, _ := table.LookupAt(id, time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)); got.Spec != spec(t, "2-4Gi") || got.Band != nil {
		t.Errorf("12:00 Shanghai (no band): %s, want 2-4Gi", got.Spec)
	}
}

func TestParseConfigMapDataRejectsBands(t *testing.T) {
	good, _ := bandedData(t)
	entry := good["ci_wt_build_compile"]
	edit := func(f func(m map[string]any, bands []any)) map[string]string {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(entry), &m); err != nil {
			t.Fatal(err)
		}
		f(m, m["bands"].([]any))
		out, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"ci_wt_build_compile": string(out)}
	}
	band := func(bands []any, i int) map[string]any { return bands[i].(map[string]any) }
	key := "data[ci_wt_build_compile]"
	tests := []struct {
		name  string
		data  map[string]string
		field string
	}{
		{"unknown band field", edit(func(_ map[string]any, b []any) { band(b, 0)["hours"] = 6 }), key + ".bands[0].hours"},
		{"no time zone", edit(func(m map[string]any, _ []any) { delete(m, "timeZone") }), key + ".timeZone"},
		{"Local time zone", edit(func(m map[string]any, _ []any) { m["timeZone"] = "Local" }), key + ".timeZone"},
		{"unknown time zone", edit(func(m map[string]any, _ []any) { m["timeZone"] = "Mars/Olympus" }), key + ".timeZone"},
		{"time zone without bands", edit(func(m map[string]any, _ []any) { delete(m, "bands") }), key + ".timeZone"},
		{"band past midnight", edit(func(_ map[string]any, b []any) { band(b, 3)["to"] = 25 }), key + ".bands[3]"},
		{"empty band", edit(func(_ map[string]any, b []any) { band(b, 1)["to"] = band(b, 1)["from"] }), key + ".bands[1]"},
		{"overlapping bands", edit(func(_ map[string]any, b []any) { band(b, 1)["from"] = 5 }), key + ".bands[1]"},
		{"band spec below its memory max", edit(func(_ map[string]any, b []any) { band(b, 1)["spec"] = "0.25-0.5Gi" }), key + ".bands[1].spec"},
		{"band spec not in the catalog", edit(func(_ map[string]any, b []any) { band(b, 1)["spec"] = "3-5Gi" }), key + ".bands[1].spec"},
		{"band without runs", edit(func(_ map[string]any, b []any) { band(b, 2)["runs"] = 0 }), key + ".bands[2].runs"},
		{"band statistics out of order", edit(func(_ map[string]any, b []any) { band(b, 0)["cpu"].(map[string]any)["p50"] = 9.0 }), key + ".bands[0].cpu"},
		{"multi-line band reason", edit(func(_ map[string]any, b []any) { band(b, 0)["reason"] = "a\nb" }), key + ".bands[0].reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := ParseConfigMapData(tt.data)
			if err == nil {
				t.Fatalf("accepted: %+v", table)
			}
			if fields := fieldsOf(t, err); len(fields) == 0 || fields[0] != tt.field {
				t.Errorf("fields %v, want %s first (%v)", fields, tt.field, err)
			}
		})
	}
}
