package emissary

import (
	"crypto/sha256"
	"encoding/hex"
	"math/bits"
	"slices"
	"sort"
	"strconv"
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
//
// When every key is one argo-eci writes, the key list is written compactly as "#" and a hex bit set
// over decisionKeys, since the same list repeats on every template of a workflow:
// "standard;#1fff;<digest>". Records with the list spelled out are read as before.
const AnnotationDecision = AnnotationPrefix + "decision"

// decisionKeys are the keys a compact record's bits stand for, bit i for decisionKeys[i]. Keys are
// only ever appended, so a record keeps its meaning across releases.
var decisionKeys = []string{
	AnnotationShapedBy, AnnotationSpecReason, eci.AnnotationUseSpecs, eci.AnnotationInstanceFamily,
	eci.AnnotationSpotStrategy, eci.AnnotationSpotPriceLimit, eci.AnnotationSpotDuration, eci.AnnotationSpotFallback,
	eci.AnnotationSpotReleaseStrategy, eci.AnnotationVSwitch, eci.AnnotationScheduleStrategy, eci.AnnotationFailStrategy,
	eci.AnnotationExtraEphemeral, eci.AnnotationAutoIMC, eci.AnnotationIMCID, eci.AnnotationRAMRoleName,
	eci.AnnotationCustomTags, AnnotationPrefix + "recovery", AnnotationRecoveryMemory, eci.AnnotationMaxPendingMinute,
	eci.AnnotationImageCache, eci.AnnotationImageSnapshotID,
}

// compactKeys writes sorted keys as "#<hex bit set>", or "" when one is not in decisionKeys.
func compactKeys(keys []string) string {
	var set uint64
	for _, k := range keys {
		i := slices.Index(decisionKeys, k)
		if i < 0 {
			return ""
		}
		set |= 1 << i
	}
	return "#" + strconv.FormatUint(set, 16)
}

// expandKeys reads a compact key list, sorted; ok is false when it is not one.
func expandKeys(list string) (keys []string, ok bool) {
	hexSet, found := strings.CutPrefix(list, "#")
	if !found {
		return nil, false
	}
	set, err := strconv.ParseUint(hexSet, 16, 64)
	if err != nil || set == 0 || bits.Len64(set) > len(decisionKeys) || "#"+strconv.FormatUint(set, 16) != list {
		return nil, false
	}
	for i := range decisionKeys {
		if set&(1<<i) != 0 {
			keys = append(keys, decisionKeys[i])
		}
	}
	sort.Strings(keys)
	return keys, true
}

// recordDecision writes AnnotationDecision for the keys just written to ann.
func recordDecision(ann map[string]string, profile string, written []string) {
	if len(written) == 0 {
		return
	}
	keys := append([]string(nil), written...)
	sort.Strings(keys)
	keys = slices.Compact(keys) // a key is listed once, and its value digested once
	list := compactKeys(keys)
	if list == "" {
		short := make([]string, len(keys))
		for i, k := range keys {
			short[i] = strings.TrimPrefix(strings.TrimPrefix(k, eci.AnnotationPrefix), AnnotationPrefix)
		}
		list = strings.Join(short, ",")
	}
	ann[AnnotationDecision] = profile + ";" + list + ";" + decisionDigest(ann, profile, keys)
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
	keys, compact := expandKeys(parts[1])
	if !compact {
		for _, short := range strings.Split(parts[1], ",") {
			keys = append(keys, decisionKey(short))
		}
	}
	for _, k := range keys {
		if _, present := ann[k]; !present || k == AnnotationDecision {
			return "", nil, false
		}
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
