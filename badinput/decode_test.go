package badinput_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/argo-eci/argo-eci/badinput"
)

// choice decodes only "a" or "b", like a type with its own decoding.
type choice string

func (c *choice) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil || (s != "a" && s != "b") {
		return errors.New(`expected "a" or "b"`)
	}
	*c = choice(s)
	return nil
}

// level decodes from text, like a type with UnmarshalText.
type level struct{ n int }

func (l *level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "low":
		l.n = 1
	case "high":
		l.n = 2
	default:
		return errors.New(`expected "low" or "high"`)
	}
	return nil
}

type Common struct {
	Labels map[string]string `json:"labels,omitempty"`
}

type item struct {
	Name  string  `json:"name"`
	Count int     `json:"count,omitempty"`
	Ratio float64 `json:"ratio,omitempty"`
}

type doc struct {
	Common  `json:",inline"`
	Enabled bool             `json:"enabled,omitempty"`
	Items   map[string]*item `json:"items,omitempty"`
	List    []item           `json:"list,omitempty"`
	Mode    choice           `json:"mode,omitempty"`
	Data    []byte           `json:"data,omitempty"`
	Any     any              `json:"any,omitempty"`
	Level   *level           `json:"level,omitempty"`
	Quoted  int              `json:"quoted,omitempty,string"`
}

func TestDecodeYAML(t *testing.T) {
	cases := []struct {
		name, in   string
		root       *field.Path
		fld, inMsg string // first problem; "" fld and inMsg: valid
	}{
		{"valid", "enabled: true\nitems: {x: {name: a, count: 3}}\nlist: [{name: b, ratio: 0.5}]\nlabels: {k: v}\nmode: a\nany: [1, {x: y}]\n", nil, "", ""},
		{"empty", "", nil, "", ""},
		{"null", "null\n", nil, "", ""},
		{"text decoding", "level: high\n", nil, "", ""},
		{"number quoted as a string", `{"quoted": "42"}`, nil, "", ""},
		{"text decoding refuses", "level: medium\n", nil, "level", `expected "low" or "high"`},
		{"json is yaml", `{"items": {"x": {"name": "a"}}}`, nil, "", ""},
		{"not yaml", "items: [unclosed\n", nil, "", "not valid YAML"},
		{"not a mapping", "- 1\n", nil, "", "expected a mapping, got a list"},
		{"wrong type in a map value", "items: {x: {name: a, count: many}}\n", nil, "items.x.count", `expected a whole number, got "many"`},
		{"fraction for a whole number", "list: [{name: a}, {name: b, count: 1.5}]\n", nil, "list[1].count", "expected a whole number, got 1.5"},
		{"wrong type below a root", "enabled: yes please\n", field.NewPath("argo-eci", "x"), "argo-eci.x.enabled", `expected true or false, got "yes please"`},
		{"wrong type in an embedded struct", "labels: [a]\n", nil, "labels", "expected a mapping, got a list"},
		{"bytes", "data: [1]\n", nil, "data", "expected a base64 string, got a list"},
		{"unknown field in a list", "list: [{name: a}, {name: b, colour: red}]\n", nil, "list[1].colour", "unknown field"},
		{"unknown field below a root", "items: {x: {nme: a}}\n", field.NewPath("data").Key("k"), "data[k].items.x.nme", "unknown field"},
		{"case matters", "Enabled: true\n", nil, "Enabled", "unknown field"},
		{"yaml key twice", "items:\n  x: {name: a}\n  x: {name: b}\n", nil, "items.x", "field given twice (line 3)"},
		{"json key twice", `{"list": [{"name": "a", "name": "b"}]}`, nil, "list[0].name", "field given twice"},
		{"own decoding refuses", "mode: c\n", nil, "mode", `expected "a" or "b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d doc
			errs := badinput.DecodeYAML([]byte(tc.in), &d, tc.root)
			if tc.inMsg == "" {
				if len(errs) > 0 {
					t.Fatalf("valid document: %v", errs)
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("accepted: %+v", d)
			}
			bad := &badinput.Error{Errs: errs}
			if bad.Field() != tc.fld || !strings.Contains(bad.Message(), tc.inMsg) {
				t.Fatalf("first problem at %q: %q; want %q saying %q", bad.Field(), bad.Message(), tc.fld, tc.inMsg)
			}
		})
	}
}

func TestDecodeJSONReportsEveryUnknownField(t *testing.T) {
	var d doc
	errs := badinput.DecodeJSON([]byte(`{"a": 1, "items": {"x": {"name": "n", "b": 2}}, "enabled": true, "enabled": false}`), &d, nil)
	var got []string
	for _, e := range errs {
		got = append(got, e.Field+" "+e.Detail)
	}
	want := []string{"a unknown field", "items.x.b unknown field", "enabled field given twice"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("problems %q, want %q", got, want)
	}
}

// FuzzDecodeYAML: whatever the document, decoding never panics, every problem says something, and
// a document decoded without problems decodes again, re-encoded, to the same value.
func FuzzDecodeYAML(f *testing.F) {
	for _, s := range []string{"enabled: true\n", "items: {x: {name: a, count: 3}}\n", "list: [{name: b}]\nmode: a\n", "a: 1\na: 2\n", "[1, 2]", `{"list": [{"name": 1}]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var d doc
		errs := badinput.DecodeYAML([]byte(in), &d, field.NewPath("root"))
		for _, e := range errs {
			if e.Detail == "" || !strings.HasPrefix(e.Field, "root") {
				t.Fatalf("problem %+v has no detail or is not below root", e)
			}
		}
		if len(errs) > 0 {
			return
		}
		out, err := json.Marshal(&d)
		if err != nil {
			return // a value of its own type that does not encode
		}
		var again doc
		if errs := badinput.DecodeJSON(out, &again, nil); len(errs) > 0 {
			t.Fatalf("re-encoded %s: %v", out, errs)
		}
	})
}
