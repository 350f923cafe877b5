package emissary

import (
	"reflect"
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
