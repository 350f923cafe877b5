package sizing

import (
	"os"
	"testing"
)

// FuzzParseConfigMapData: whatever a ConfigMap holds, parsing either fails or yields entries that
// validate, whose spec covers their recorded peaks and that Lookup finds under their own identity.
func FuzzParseConfigMapData(f *testing.F) {
	seed, err := os.ReadFile("testdata/entry.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("ci_wt_build_compile", string(seed))
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
		}
	})
}
