package emissary

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"

	"github.com/argo-eci/argo-eci/eci"
)

// AnnotationDecision records what argo-eci wrote on a template or pod, so that a later pass (the
// pod webhook on a rendered workflow's pod, or render run again) never mistakes those values for
// the user's own: "<profile>;<key>,<key>,...;<digest>". The digest covers the profile and the
// values of the listed keys (eci-* for k8s.aliyun.com/eci-*, the rest under argo-eci.io/); while it matches, the listed keys are argo-eci's and are decided
// again from scratch (a template rendered under one profile and run under another gets the other
// profile's values, a changed resource gets a new spec). When someone has edited one of them, the
// digest no longer matches and every value is kept as the user's.
const AnnotationDecision = AnnotationPrefix + "decision"

// recordDecision writes AnnotationDecision for the keys just written to ann.
func recordDecision(ann map[string]string, profile string, written []string) {
	if len(written) == 0 {
		return
	}
	keys := append([]string(nil), written...)
	sort.Strings(keys)
	short := make([]string, len(keys))
	for i, k := range keys {
		short[i] = strings.TrimPrefix(strings.TrimPrefix(k, eci.AnnotationPrefix), AnnotationPrefix)
	}
	ann[AnnotationDecision] = profile + ";" + strings.Join(short, ",") + ";" + decisionDigest(ann, profile, keys)
}

// decisionKey expands a key of the record: eci-* names are ECI's, the rest argo-eci's.
func decisionKey(short string) string {
	if strings.HasPrefix(short, "eci-") {
		return eci.AnnotationPrefix + short
	}
	return AnnotationPrefix + short
}

func decisionDigest(ann map[string]string, profile string, keys []string) string {
	h := sha256.New()
	h.Write([]byte(profile))
	for _, k := range keys {
		h.Write([]byte{0})
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(ann[k]))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// DecisionKeys verifies the AnnotationDecision of ann. It returns the profile that decided and
// the keys argo-eci wrote when the record is intact (every key present, digest matching); ok is
// false when there is no record or it no longer matches the values.
func DecisionKeys(ann map[string]string) (profile string, keys []string, ok bool) {
	rec, found := ann[AnnotationDecision]
	if !found {
		return "", nil, false
	}
	parts := strings.Split(rec, ";")
	if len(parts) != 3 || parts[1] == "" {
		return "", nil, false
	}
	for _, short := range strings.Split(parts[1], ",") {
		k := decisionKey(short)
		if _, present := ann[k]; !present || k == AnnotationDecision {
			return "", nil, false
		}
		keys = append(keys, k)
	}
	if decisionDigest(ann, parts[0], keys) != parts[2] {
		return "", nil, false
	}
	return parts[0], keys, true
}

// forgetDecision removes from ann what an intact AnnotationDecision says argo-eci wrote, and the
// record itself, so that the values can be decided again. It reports whether a record was found
// and whether it was intact.
func forgetDecision(ann map[string]string) (found, intact bool) {
	if _, found = ann[AnnotationDecision]; !found {
		return false, false
	}
	_, keys, ok := DecisionKeys(ann)
	if !ok {
		return true, false
	}
	for _, k := range keys {
		delete(ann, k)
	}
	delete(ann, AnnotationDecision)
	return true, true
}
