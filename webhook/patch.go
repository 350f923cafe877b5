package webhook

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	jsonpatch5 "github.com/evanphx/json-patch/v5"
	json "github.com/goccy/go-json"
	"github.com/tidwall/gjson"
	"gomodules.xyz/jsonpatch/v2"
)

// changePatch returns the RFC 6902 JSON patch that carries into raw, the object exactly as the
// apiserver sent it, the changes argo-eci made: before is the typed object as decoded from raw and
// after is the shaped object, both encoded by the same encoder. It returns nil when argo-eci
// changed nothing.
//
// The operations come from the difference between before and after, never between raw and after:
// raw may hold what the Go types do not know (a v3.5 CronWorkflow's spec.schedule,
// synchronization.mutex and template synchronization.semaphore, pod fields newer than our
// k8s.io/api, fields of future Argo versions) and lacks what the typed encoding adds (inputs: {},
// metadata: {}), and neither may show up in the patch. Each change is placed at the matching
// path of raw:
//
//   - a member that argo-eci changed is replaced (or, inside objects, walked further);
//   - a member that argo-eci added is added, and when its parent object is missing from raw (the
//     typed encoding showed it as an empty object) the parent is added holding only the change;
//   - a member that argo-eci removed is removed when raw has it;
//   - arrays of equal length are walked element by element, arrays that grew at the end get one
//     add per new element, and any other change to an array replaces that array with one built
//     from raw's elements (matched by content, then by name) so unknown fields inside them stay.
//
// Object members that are null in after are treated as absent, as Kubernetes does (the apiserver
// prunes them before calling webhooks, so patching them in would fail the CRD's validation).
func changePatch(raw, before, after []byte) ([]byte, error) {
	m := merger{}
	if err := m.walk("", parse(raw), parse(before), parse(after)); err != nil {
		return nil, fmt.Errorf("computing the JSON patch: %w", err)
	}
	if len(m.ops) == 0 {
		return nil, nil
	}
	patch, err := json.Marshal(m.ops)
	if err != nil {
		return nil, fmt.Errorf("encoding the JSON patch: %w", err)
	}
	return patch, nil
}

// parse reads JSON with gjson without copying it: the bytes are not modified while the results
// are in use (the request body and encodings made for this one review).
func parse(b []byte) gjson.Result {
	return gjson.Parse(unsafe.String(unsafe.SliceData(b), len(b)))
}

// merger collects the operations of one changePatch.
type merger struct {
	ops []jsonpatch.Operation
}

func (m *merger) add(op, path string, value any) {
	m.ops = append(m.ops, jsonpatch.Operation{Operation: op, Path: path, Value: value})
}

// walk places the change from b (before) to a (after) at path in r (raw, which exists).
func (m *merger) walk(path string, r, b, a gjson.Result) error {
	if strings.TrimSpace(b.Raw) == strings.TrimSpace(a.Raw) {
		return nil
	}
	switch {
	case r.IsObject() && b.IsObject() && a.IsObject():
		return m.walkObject(path, r, b, a)
	case r.IsArray() && b.IsArray() && a.IsArray():
		return m.walkArray(path, r, b, a)
	default:
		if path != "" && a.Type == gjson.Null {
			m.add("remove", path, nil)
			return nil
		}
		value, err := withoutNulls(a.Raw)
		if err != nil {
			return err
		}
		m.add("replace", path, value)
		return nil
	}
}

func (m *merger) walkObject(path string, r, b, a gjson.Result) error {
	rm, bm := members(r), members(b)
	var err error
	seen := make(map[string]bool, len(bm))
	a.ForEach(func(k, av gjson.Result) bool {
		key := k.String()
		seen[key] = true
		p := path + "/" + escapePointer(key)
		bv, inBefore := bm[key]
		rv, inRaw := rm[key]
		switch {
		case inBefore && strings.TrimSpace(bv.Raw) == strings.TrimSpace(av.Raw):
			// unchanged by argo-eci, whatever raw holds
		case inRaw:
			if !inBefore {
				bv = gjson.Result{Type: gjson.Null, Raw: "null"}
			}
			err = m.walk(p, rv, bv, av)
		case av.Type == gjson.Null:
			// removed by argo-eci, and raw never had it
		default:
			var value []byte
			if value, err = minimal(bv, av); err == nil && value != nil {
				m.add("add", p, json.RawMessage(value))
			}
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	var removed []string
	for k, bv := range bm {
		if _, inRaw := rm[k]; !seen[k] && inRaw && bv.Type != gjson.Null {
			removed = append(removed, k)
		}
	}
	slices.Sort(removed)
	for _, k := range removed {
		m.add("remove", path+"/"+escapePointer(k), nil)
	}
	return nil
}

func (m *merger) walkArray(path string, r, b, a gjson.Result) error {
	rs, bs, as := r.Array(), b.Array(), a.Array()
	if len(rs) != len(bs) {
		// raw and its typed decoding disagree on the elements; argo-eci's array wins.
		value, err := withoutNulls(a.Raw)
		if err != nil {
			return err
		}
		m.add("replace", path, value)
		return nil
	}
	if len(as) >= len(bs) && samePrefix(bs, as) {
		for i := len(bs); i < len(as); i++ {
			value, err := withoutNulls(as[i].Raw)
			if err != nil {
				return err
			}
			m.add("add", path+"/"+strconv.Itoa(i), value)
		}
		return nil
	}
	if len(as) == len(bs) {
		for i := range as {
			if err := m.walk(path+"/"+strconv.Itoa(i), rs[i], bs[i], as[i]); err != nil {
				return err
			}
		}
		return nil
	}
	value, err := rebuildArray(rs, bs, as)
	if err != nil {
		return err
	}
	m.add("replace", path, json.RawMessage(value))
	return nil
}

// rebuildArray builds the array argo-eci wants (as) out of raw's elements: an element of as that
// equals an element of bs, or has the same name, is taken from rs with argo-eci's change applied,
// any other element is argo-eci's own.
func rebuildArray(rs, bs, as []gjson.Result) ([]byte, error) {
	used := make([]bool, len(bs))
	match := func(a gjson.Result) int {
		for i, b := range bs {
			if !used[i] && strings.TrimSpace(b.Raw) == strings.TrimSpace(a.Raw) {
				return i
			}
		}
		if name := a.Get("name"); a.IsObject() && name.Type == gjson.String {
			for i, b := range bs {
				if !used[i] && b.IsObject() && b.Get("name").Raw == name.Raw {
					return i
				}
			}
		}
		return -1
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for j, a := range as {
		if j > 0 {
			buf.WriteByte(',')
		}
		i := match(a)
		if i < 0 {
			v, err := withoutNulls(a.Raw)
			if err != nil {
				return nil, err
			}
			out, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			buf.Write(out)
			continue
		}
		used[i] = true
		elem, err := applyChange(rs[i], bs[i], a)
		if err != nil {
			return nil, err
		}
		buf.Write(elem)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

// applyChange returns r with the change from b to a applied, as JSON.
func applyChange(r, b, a gjson.Result) ([]byte, error) {
	sub := merger{}
	if err := sub.walk("", r, b, a); err != nil {
		return nil, err
	}
	switch {
	case len(sub.ops) == 0:
		return []byte(r.Raw), nil
	case sub.ops[0].Path == "":
		return json.Marshal(sub.ops[0].Value) // the element itself was replaced
	}
	patch, err := json.Marshal(sub.ops)
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch5.DecodePatch(patch)
	if err != nil {
		return nil, err
	}
	return p.Apply([]byte(r.Raw))
}

// minimal is the value to add where raw has nothing: a's members that differ from b's, walked
// into nested objects, so typed-encoding defaults (empty objects, zero values) stay out. It is
// nil when nothing is left to add.
func minimal(b, a gjson.Result) ([]byte, error) {
	var buf bytes.Buffer
	ok, err := appendMinimal(&buf, b, a)
	if err != nil || !ok {
		return nil, err
	}
	return buf.Bytes(), nil
}

// appendMinimal writes minimal(b, a) to buf and reports whether it wrote anything.
func appendMinimal(buf *bytes.Buffer, b, a gjson.Result) (bool, error) {
	if a.Type == gjson.Null {
		return false, nil
	}
	if !b.IsObject() || !a.IsObject() {
		if !strings.Contains(a.Raw, "null") {
			buf.WriteString(a.Raw)
			return true, nil
		}
		v, err := withoutNulls(a.Raw)
		if err != nil {
			return false, err
		}
		out, err := json.Marshal(v)
		buf.Write(out)
		return err == nil, err
	}
	start := buf.Len()
	buf.WriteByte('{')
	wrote := false
	var err error
	a.ForEach(func(k, av gjson.Result) bool {
		bv := member(b, k.String())
		if bv.Exists() && strings.TrimSpace(bv.Raw) == strings.TrimSpace(av.Raw) {
			return true
		}
		mark := buf.Len()
		if wrote {
			buf.WriteByte(',')
		}
		buf.WriteString(k.Raw)
		buf.WriteByte(':')
		var ok bool
		if ok, err = appendMinimal(buf, bv, av); err != nil {
			return false
		}
		if !ok {
			buf.Truncate(mark)
			return true
		}
		wrote = true
		return true
	})
	if err != nil {
		return false, err
	}
	if !wrote {
		buf.Truncate(start)
		return false, nil
	}
	buf.WriteByte('}')
	return true, nil
}

// member returns the member of obj with exactly the key k (case-sensitive), scanning it; for
// the small objects minimal walks, cheaper than an index.
func member(obj gjson.Result, k string) gjson.Result {
	var out gjson.Result
	obj.ForEach(func(key, v gjson.Result) bool {
		if key.String() == k {
			out = v
			return false
		}
		return true
	})
	return out
}

// members indexes an object's members by their exact (case-sensitive) key, as the apiserver
// matches them.
func members(obj gjson.Result) map[string]gjson.Result {
	out := make(map[string]gjson.Result)
	obj.ForEach(func(k, v gjson.Result) bool {
		out[k.String()] = v
		return true
	})
	return out
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
