package emissary

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/argo-eci/argo-eci/eci"
)

// TestDecisionRecordCompact: a record of keys argo-eci writes lists them as a bit set; one with
// another key spells the list out; records written with the list spelled out (earlier releases)
// are still read, and a bit set naming no known key, or written oddly, is not a record.
func TestDecisionRecordCompact(t *testing.T) {
	ann := map[string]string{AnnotationShapedBy: "standard", eci.AnnotationUseSpecs: "1-2Gi", eci.AnnotationCustomTags: "template:a"}
	written := []string{eci.AnnotationUseSpecs, AnnotationShapedBy, eci.AnnotationCustomTags}
	recordDecision(ann, "standard", written)
	rec := ann[AnnotationDecision]
	if !strings.HasPrefix(rec, "standard;#") || len(rec) > len("standard;#10005;")+16 {
		t.Errorf("record %q, want a compact bit set", rec)
	}
	profile, keys, ok := DecisionKeys(ann)
	want := []string{AnnotationShapedBy, eci.AnnotationCustomTags, eci.AnnotationUseSpecs}
	if !ok || profile != "standard" || !reflect.DeepEqual(keys, want) {
		t.Errorf("DecisionKeys = %q %v %v, want standard %v", profile, keys, ok, want)
	}
	// The same record spelled out, as earlier releases wrote it: same keys, same digest.
	spelled := map[string]string{}
	for k, v := range ann {
		spelled[k] = v
	}
	parts := strings.Split(rec, ";")
	spelled[AnnotationDecision] = "standard;shaped-by,eci-custom-tags,eci-use-specs;" + parts[2]
	if _, old, ok := DecisionKeys(spelled); !ok || !reflect.DeepEqual(old, want) {
		t.Errorf("a spelled-out record: %v %v", old, ok)
	}
	other := map[string]string{"k8s.aliyun.com/eci-other": "x", AnnotationShapedBy: "p"}
	recordDecision(other, "p", []string{"k8s.aliyun.com/eci-other", AnnotationShapedBy})
	if r := other[AnnotationDecision]; !strings.HasPrefix(r, "p;shaped-by,eci-other;") {
		t.Errorf("record with an unlisted key: %q, want the list spelled out", r)
	}
	if _, _, ok := DecisionKeys(other); !ok {
		t.Error("a spelled-out record with an unlisted key is not read")
	}
	for _, bad := range []string{"#0", "#", "#zz", "#010005", "#10000000", "#FFFF"} {
		ann[AnnotationDecision] = "standard;" + bad + ";" + parts[2]
		if _, _, ok := DecisionKeys(ann); ok {
			t.Errorf("key list %q accepted", bad)
		}
	}
}

// FuzzDecisionKeys reads argo-eci.io/decision values as a pod or template carries them: never a
// panic, and a record read as intact is written back (compact or spelled out) with the same keys.
func FuzzDecisionKeys(f *testing.F) {
	for _, rec := range []string{"standard;#10997;79dd45bfc7c85488", "standard;shaped-by,eci-use-specs;0123456789abcdef",
		"p;#0;x", "p;#;x", ";;", "p;eci-x,#1;d", "standard;#3fffff;0000000000000000",
		"p;shaped-by,shaped-by;0000000000000000", "p;eci-use-specs,shaped-by;0000000000000000"} {
		f.Add(rec, "1-2Gi")
	}
	f.Fuzz(func(t *testing.T, rec, value string) {
		ann := map[string]string{AnnotationDecision: rec}
		for _, k := range decisionKeys {
			ann[k] = value
		}
		ann["k8s.aliyun.com/eci-x"] = value
		profile, keys, ok := DecisionKeys(ann)
		if parts := strings.Split(rec, ";"); !ok && len(parts) == 3 && parts[1] != "" {
			// Give the record its right digest, so the fuzzer reaches intact records.
			listed, compact := expandKeys(parts[1])
			if !compact {
				listed = nil
				for _, short := range strings.Split(parts[1], ",") {
					listed = append(listed, decisionKey(short))
				}
			}
			ann[AnnotationDecision] = parts[0] + ";" + parts[1] + ";" + decisionDigest(ann, parts[0], listed)
			profile, keys, ok = DecisionKeys(ann)
		}
		if !ok {
			return
		}
		delete(ann, AnnotationDecision)
		recordDecision(ann, profile, keys)
		p2, keys2, ok := DecisionKeys(ann)
		// A spelled-out list may be in any order and repeat a key: it is written sorted, once.
		keys = slices.Compact(slices.Sorted(slices.Values(keys)))
		if !ok || p2 != profile || !reflect.DeepEqual(keys, keys2) {
			t.Fatalf("%q: read %q %v, rewritten %q read %q %v %v", rec, profile, keys, ann[AnnotationDecision], p2, keys2, ok)
		}
	})
}
