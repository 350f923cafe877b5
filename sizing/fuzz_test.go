package sizing

import (
	"os"
	"testing"
	"time"
)

// FuzzParseConfigMapData: whatever a ConfigMap holds, parsing either fails or yields entries that
// validate, whose spec (and every band's) covers their recorded peaks and that Lookup finds under
// their own identity, LookupAt with each band's spec in the band's hours.
func FuzzParseConfigMapData(f *testing.F) {
	for _, name := range []string{"testdata/entry.yaml", "testdata/entry-bands.yaml"} {
		seed, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add("ci_wt_build_compile", string(seed))
	}
	f.Add("ci_wt_build_compile", "spec: 2-4Gi")
	f.Add("k", "")
	f.Fuzz(func(t *testing.T, key, value string) {
		table, err := ParseConfigMapData(map[string]string{key: value})
		if err != nil {
			return
		}
		for _, l := range table.byKey {
			e := l.Entry
			if errs := e.Validate(nil); len(errs) > 0 {
				t.Fatalf("accepted an invalid entry: %v", errs)
			}
			if got, ok := table.Lookup(e.Identity()); !ok || got.Spec != l.Spec {
				t.Fatalf("entry not found under its identity %s", e.Identity())
			}
			if l.Spec.MemoryMiB*mib < e.Memory.Max.Value() {
				t.Fatalf("spec %s below memory max %s", l.Spec, e.Memory.Max.String())
			}
			checkBands(t, table, e)
		}
	})
}

func checkBands(t *testing.T, table *Table, e Entry) {
	zone, err := LoadZone(e.TimeZone)
	if len(e.Bands) == 0 {
		return
	}
	if err != nil {
		t.Fatalf("bands in time zone %q: %v", e.TimeZone, err)
	}
	for _, b := range e.Bands {
		at := time.Date(2026, 11, 1, b.From, 30, 0, 0, zone)
		if at.Hour() != b.From {
			continue // a daylight-saving gap
		}
		got, ok := table.LookupAt(e.Identity(), at)
		if !ok || got.Band == nil || got.Band.Spec != b.Spec || got.Spec.String() != b.Spec {
			t.Fatalf("LookupAt(%s) = %s band %+v, want band %d–%d %s", at, got.Spec, got.Band, b.From, b.To, b.Spec)
		}
		if got.Spec.MemoryMiB*mib < b.Memory.Max.Value() {
			t.Fatalf("band spec %s below its memory max %s", got.Spec, b.Memory.Max.String())
		}
	}
}
