package badinput

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// DecodeYAML decodes one YAML (or JSON) document into v, a pointer to a typed struct, strictly:
// a key given twice in a mapping is a problem, then the document decodes as DecodeJSON does. An
// empty document or null decodes nothing. Problems are paths below root (nil: the document).
func DecodeYAML(data []byte, v any, root *field.Path) field.ErrorList {
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(data, &doc); err != nil {
		return field.ErrorList{Invalid(pathText(root), "not valid YAML: "+err.Error())}
	}
	if errs := duplicateKeys(&doc, root); len(errs) > 0 {
		return errs
	}
	raw, err := yaml.YAMLToJSON(data)
	if err != nil {
		return field.ErrorList{Invalid(pathText(root), "not valid YAML: "+err.Error())}
	}
	return DecodeJSON(raw, v, root)
}

// DecodeJSON decodes a JSON document into v, a pointer to a typed struct, strictly: every unknown
// or duplicate field, or else the first value of the wrong type, is a problem naming the field below
// root and saying what was expected. null decodes nothing. Values of types with their own
// UnmarshalJSON are theirs to check (or to keep for Validate to report).
//
// Types are checked by walking the document beside v's Go type (encoding/json names neither the
// map key nor the list index of a value of the wrong type), so no error text is read.
func DecodeJSON(raw []byte, v any, root *field.Path) field.ErrorList {
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return field.ErrorList{Invalid(pathText(root), "not valid JSON: "+err.Error())}
	}
	if tree == nil {
		return nil
	}
	if p, detail, bad := mismatch(tree, reflect.TypeOf(v), root); bad {
		return field.ErrorList{Invalid(pathText(p), detail)}
	}
	unknown, err := sigsjson.UnmarshalStrict(raw, v, sigsjson.DisallowUnknownFields)
	if err != nil { // not expected after the walk; reported as the decoder says
		return field.ErrorList{Invalid(pathText(root), err.Error())}
	}
	dup, _ := sigsjson.UnmarshalStrict(raw, reflect.New(reflect.TypeOf(v).Elem()).Interface(), sigsjson.DisallowDuplicateFields)
	var errs field.ErrorList
	for _, group := range []struct {
		errs []error
		msg  string
	}{{unknown, "unknown field"}, {dup, "field given twice"}} {
		for _, e := range group.errs {
			var fe sigsjson.FieldError
			if errors.As(e, &fe) {
				errs = append(errs, &field.Error{Type: field.ErrorTypeForbidden, Field: below(root, fe.FieldPath()), BadValue: "", Detail: group.msg})
				continue
			}
			errs = append(errs, Invalid(pathText(root), e.Error()))
		}
	}
	return errs
}

// duplicateKeys reports every key given twice in a mapping of a YAML document.
func duplicateKeys(n *yamlv3.Node, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch n.Kind {
	case yamlv3.DocumentNode:
		for _, c := range n.Content {
			errs = append(errs, duplicateKeys(c, p)...)
		}
	case yamlv3.MappingNode:
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yamlv3.ScalarNode && k.Value != "<<" {
				if seen[k.Value] {
					errs = append(errs, &field.Error{Type: field.ErrorTypeForbidden, Field: p.Child(k.Value).String(), BadValue: "",
						Detail: fmt.Sprintf("field given twice (line %d)", k.Line)})
				}
				seen[k.Value] = true
			}
			errs = append(errs, duplicateKeys(n.Content[i+1], p.Child(k.Value))...)
		}
	case yamlv3.SequenceNode:
		for i, c := range n.Content {
			errs = append(errs, duplicateKeys(c, p.Index(i))...)
		}
	}
	return errs
}

var (
	unmarshalerType     = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// mismatch walks a decoded JSON value beside the Go type t and returns the path of the first value
// t cannot hold and what t expects there (for a type with its own UnmarshalJSON, its error).
func mismatch(v any, t reflect.Type, p *field.Path) (*field.Path, string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return nil, "", false
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		raw, _ := json.Marshal(v) // a decoded JSON value always encodes
		if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
			return p, err.Error(), true
		}
		return nil, "", false
	}
	if str, ok := v.(string); ok && reflect.PointerTo(t).Implements(textUnmarshalerType) {
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(str)); err != nil {
			return p, err.Error(), true
		}
		return nil, "", false
	}
	want := "expected " + expected(t) + ", got " + Describe(v)
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return p, want, true
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ft, known := fieldType(t, k); known { // unknown fields are reported by the strict decoder
				if fp, detail, bad := mismatch(m[k], ft, p.Child(k)); bad {
					return fp, detail, true
				}
			}
		}
		return nil, "", false
	case reflect.Slice:
		list, ok := v.([]any)
		if t.Elem().Kind() == reflect.Uint8 { // []byte: base64 text
			_, ok = v.(string)
			return p, want, !ok
		}
		if !ok {
			return p, want, true
		}
		for i, e := range list {
			if fp, detail, bad := mismatch(e, t.Elem(), p.Index(i)); bad {
				return fp, detail, true
			}
		}
		return nil, "", false
	}
	return p, want, !holds(t, v)
}

// holds reports whether a JSON scalar fits a Go type of a scalar kind.
func holds(t reflect.Type, v any) bool {
	switch t.Kind() {
	case reflect.Bool:
		_, ok := v.(bool)
		return ok
	case reflect.String:
		_, ok := v.(string)
		return ok
	case reflect.Float32, reflect.Float64:
		_, ok := v.(float64)
		return ok
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f, ok := v.(float64)
		return ok && f == math.Trunc(f) && math.Abs(f) < 1<<63
	}
	return true // interfaces and kinds JSON does not produce: the decoder decides
}

// expected says what a Go type means in a document.
func expected(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "a list"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a whole number"
}

// fieldType is the type of a map's values, or of the struct field (maybe of an embedded struct)
// with JSON name k; false for fields the walk leaves to the decoder.
func fieldType(t reflect.Type, k string) (reflect.Type, bool) {
	if t.Kind() == reflect.Map {
		return t.Elem(), t.Key().Kind() == reflect.String
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported() && !f.Anonymous:
			continue
		case name == "" && f.Anonymous:
			et := f.Type
			for et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if ft, ok := fieldType(et, k); ok {
					return ft, true
				}
			}
			continue
		case name == "":
			name = f.Name
		}
		if name == k {
			// ",string" fields hold a scalar quoted as a string: the decoder checks them.
			return f.Type, !slices.Contains(strings.Split(opts, ","), "string")
		}
	}
	return nil, false
}

// Describe shows a decoded JSON value in a message: "nothing", a quoted string, "a mapping",
// "a list", or the value.
func Describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing"
	case string:
		return strconv.Quote(x)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}

// pathText is a path as text; "" for the document itself.
func pathText(p *field.Path) string {
	if p == nil {
		return ""
	}
	return p.String()
}

// below joins a dotted decoder path ("load.paths[0]") to root.
func below(root *field.Path, dotted string) string {
	if root == nil {
		return dotted
	}
	if dotted == "" || strings.HasPrefix(dotted, "[") {
		return root.String() + dotted
	}
	return root.String() + "." + dotted
}
