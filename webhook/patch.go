package webhook

import (
	"fmt"
	json "github.com/goccy/go-json"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"gomodules.xyz/jsonpatch/v2"
)

// createPatch returns the RFC 6902 JSON patch that turns the original request JSON into the
// shaped object, or nil when they are equal. original must be valid JSON: it comes from a
// request that DecodeReview (which validates the whole body) and the typed decode accepted.
//
// The operations are computed by gomodules.xyz/jsonpatch. Before calling it, subtrees whose
// bytes are identical on both sides are pruned: the apiserver sends Go-marshalled JSON, so
// everything the engine did not touch (most of a pod, with Argo's ARGO_TEMPLATE copies in every
// container) compares equal as bytes and is never decoded into generic maps. Objects and
// equal-length arrays are walked member by member; every other difference is diffed by the
// library at that path, except arrays that only grew at the end, which get one add per new
// element. Keys are visited in the shaped document's order, removals last.
func createPatch(original []byte, shaped any) ([]byte, error) {
	out, err := json.Marshal(shaped)
	if err != nil {
		return nil, fmt.Errorf("encoding the shaped object: %w", err)
	}
	ops, err := diffRaw(nil, "", false, string(original), string(out))
	if err != nil {
		return nil, fmt.Errorf("computing the JSON patch: %w", err)
	}
	if len(ops) == 0 {
		return nil, nil
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("encoding the JSON patch: %w", err)
	}
	return patch, nil
}

// diffRaw appends to ops the operations that turn a into b, both valid JSON values at pointer
// path (a member of an object when member is true). It walks the documents with gjson, which
// slices values out of the text without decoding them; only differing leaves reach the library.
//
// Object members that are null in b are treated as absent, as Kubernetes does: Go encodes unset
// fields such as a Workflow's status.startedAt as null, and the apiserver has already pruned
// those from the request object, so patching them back in would fail the CRD's validation.
func diffRaw(ops []jsonpatch.Operation, path string, member bool, a, b string) ([]jsonpatch.Operation, error) {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == b {
		return ops, nil
	}
	av, bv := gjson.Parse(a), gjson.Parse(b)
	switch {
	case av.IsObject() && bv.IsObject():
		am := make(map[string]string)
		av.ForEach(func(k, v gjson.Result) bool {
			am[k.String()] = v.Raw
			return true
		})
		var err error
		seen := make(map[string]bool, len(am))
		bv.ForEach(func(k, v gjson.Result) bool {
			key := k.String()
			seen[key] = true
			p := path + "/" + escapePointer(key)
			if old, ok := am[key]; ok {
				ops, err = diffRaw(ops, p, true, old, v.Raw)
				return err == nil
			}
			if v.Type == gjson.Null {
				return true
			}
			var value any
			if value, err = withoutNulls(v.Raw); err != nil {
				return false
			}
			ops = append(ops, jsonpatch.Operation{Operation: "add", Path: p, Value: value})
			return true
		})
		if err != nil {
			return nil, err
		}
		removed := make([]string, 0)
		for k := range am {
			if !seen[k] {
				removed = append(removed, k)
			}
		}
		slices.Sort(removed)
		for _, k := range removed {
			ops = append(ops, jsonpatch.Operation{Operation: "remove", Path: path + "/" + escapePointer(k)})
		}
		return ops, nil
	case av.IsArray() && bv.IsArray():
		as, bs := av.Array(), bv.Array()
		if len(as) == len(bs) {
			for i := range as {
				var err error
				if ops, err = diffRaw(ops, path+"/"+strconv.Itoa(i), false, as[i].Raw, bs[i].Raw); err != nil {
					return nil, err
				}
			}
			return ops, nil
		}
		if len(as) < len(bs) && samePrefix(as, bs) {
			// Only appended (the engine adds an env var or a toleration): add the new tail.
			for i := len(as); i < len(bs); i++ {
				value, err := withoutNulls(bs[i].Raw)
				if err != nil {
					return nil, err
				}
				ops = append(ops, jsonpatch.Operation{Operation: "add", Path: path + "/" + strconv.Itoa(i), Value: value})
			}
			return ops, nil
		}
		// Lengths differ otherwise: let the library work out the insertions and removals.
		sub, err := jsonpatch.CreatePatch([]byte(a), []byte(b))
		if err != nil {
			return nil, err
		}
		for _, op := range sub {
			op.Path = path + op.Path
			op.Value = pruneNulls(op.Value)
			ops = append(ops, op)
		}
		return ops, nil
	case member && bv.Type == gjson.Null:
		return append(ops, jsonpatch.Operation{Operation: "remove", Path: path}), nil
	default:
		// Scalars or a change of type: replace the value (the whole document when path is "").
		value, err := withoutNulls(b)
		if err != nil {
			return nil, err
		}
		return append(ops, jsonpatch.Operation{Operation: "replace", Path: path, Value: value}), nil
	}
}

// samePrefix reports whether the elements of a are, byte for byte, the first elements of b.
func samePrefix(a, b []gjson.Result) bool {
	for i := range a {
		if strings.TrimSpace(a[i].Raw) != strings.TrimSpace(b[i].Raw) {
			return false
		}
	}
	return true
}

// withoutNulls returns the JSON value raw without null object members, as a json.RawMessage
// when it has none (the common case, with no decoding).
func withoutNulls(raw string) (any, error) {
	if !strings.Contains(raw, "null") {
		return json.RawMessage(raw), nil
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return nil, err
	}
	return pruneNulls(v), nil
}

// pruneNulls drops null members from the objects in a decoded JSON value.
func pruneNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil {
				delete(t, k)
			} else {
				t[k] = pruneNulls(e)
			}
		}
	case []any:
		for i, e := range t {
			t[i] = pruneNulls(e)
		}
	}
	return v
}

// escapePointer escapes a key for a JSON pointer (RFC 6901).
func escapePointer(k string) string {
	if !strings.ContainsAny(k, "~/") {
		return k
	}
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}
