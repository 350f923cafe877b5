package webhook

import (
	"encoding/json"
	"reflect"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// FuzzChangePatch: when before is raw itself, the patch turns raw into after (null object
// members counting as absent, as in Kubernetes), whatever the two documents are. Seeds live in
// testdata/fuzz/FuzzChangePatch.
func FuzzChangePatch(f *testing.F) {
	f.Add([]byte(`{"a":{"b":1,"c":[1,2]}}`), []byte(`{"a":{"b":2,"c":[1,2,3]},"d":"x"}`))
	f.Add([]byte(`{"a":[{"name":"x"},{"name":"y"},{"name":"z"}]}`), []byte(`{"a":[{"name":"z","v":1},{"name":"x"}]}`))
	f.Add([]byte(`{"k/~":1}`), []byte(`{"k/~":2,"n":null}`))
	f.Fuzz(func(t *testing.T, raw, after []byte) {
		var rv, av any
		if json.Unmarshal(raw, &rv) != nil || json.Unmarshal(after, &av) != nil {
			return
		}
		if _, ok := rv.(map[string]any); !ok {
			return // objects only, as admission requests carry
		}
		if _, ok := av.(map[string]any); !ok {
			return
		}
		patch, err := changePatch(raw, raw, after)
		if err != nil {
			t.Fatalf("changePatch: %v", err)
		}
		got := raw
		if patch != nil {
			p, err := jsonpatch.DecodePatch(patch)
			if err != nil {
				t.Fatalf("undecodable patch %s: %v", patch, err)
			}
			if got, err = p.Apply(raw); err != nil {
				t.Fatalf("patch %s does not apply: %v", patch, err)
			}
		}
		var gv any
		if err := json.Unmarshal(got, &gv); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(pruneNulls(gv), pruneNulls(av)) {
			t.Fatalf("raw %s + patch %s = %s, want %s", raw, patch, got, after)
		}
	})
}
