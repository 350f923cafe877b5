package sizing

import (
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/badinput"
)

func learnedData(t *testing.T) (map[string]string, *Recommendation) {
	t.Helper()
	rec, err := Recommend(id, runs(37, []float64{0.4, 0.8, 1.2}, []float64{1024, 2900}), spec(t, "4-8Gi"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	data, err := EncodeConfigMapData([]Entry{EntryOf(rec)})
	if err != nil {
		t.Fatal(err)
	}
	return data, rec
}

func TestConfigMapRoundTrip(t *testing.T) {
	data, rec := learnedData(t)
	if _, ok := data["ci_wt_build_compile"]; !ok || len(data) != 1 {
		t.Fatalf("keys %v", data)
	}
	table, err := ParseConfigMapData(data)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := table.Lookup(id)
	if !ok || got.Spec != rec.Spec || got.Reason != rec.Reason || got.Entry.Runs != 37 || got.Entry.Declared != "4-8Gi" {
		t.Fatalf("Lookup = %+v, %v; want spec %s reason %q", got, ok, rec.Spec, rec.Reason)
	}
	if !strings.HasPrefix(got.Reason, "learned from 37 runs: p95 ") {
		t.Errorf("reason %q", got.Reason)
	}
	other := id
	other.Template = "link"
	if _, ok := table.Lookup(other); ok {
		t.Error("found a template that was never learned")
	}
	if _, ok := (*Table)(nil).Lookup(id); ok {
		t.Error("nil table found something")
	}
}

// fieldsOf returns the field paths of the problems of a *badinput.Error.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var bad *badinput.Error
	if !errors.As(err, &bad) {
		t.Fatalf("error %v is not a *badinput.Error", err)
	}
	var out []string
	for _, fe := range bad.Errs {
		out = append(out, fe.Field)
	}
	return out
}

func TestParseConfigMapDataRejects(t *testing.T) {
	good, _ := learnedData(t)
	entry := good["ci_wt_build_compile"]
	edit := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(entry), &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	key := "data[ci_wt_build_compile]"
	tests := []struct {
		name  string
		data  map[string]string
		field string
	}{
		{"malformed YAML", map[string]string{"ci_wt_build_compile": "spec: [2-4Gi"}, key},
		{"unknown field", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) { m["specs"] = "2-4Gi" })}, key + ".specs"},
		{"wrong type", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) { m["runs"] = "many" })}, key + ".runs"},
		{"not a quantity", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) { m["memory"].(map[string]any)["p95"] = "lots" })}, key + ".memory.p95"},
		{"not a time", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) { m["window"].(map[string]any)["from"] = "yesterday" })}, key + ".window.from"},
		{"field given twice", map[string]string{"ci_wt_build_compile": entry + "spec: 4-8Gi\n"}, key + ".spec"},
		{"spec not in the catalog", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) { m["spec"] = "3-5Gi" })}, key + ".spec"},
		{"spec below the memory max", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) { m["spec"] = "2-2Gi" })}, key + ".spec"},
		{"spec below the CPU max", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) { m["spec"] = "0.5-4Gi" })}, key + ".spec"},
		{"ECS type", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) { m["spec"] = "ecs.c6.large" })}, key + ".spec"},
		{"no runs", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) { m["runs"] = 0 })}, key + ".runs"},
		{"unknown kind", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) { m["kind"] = "Job" })}, key + ".kind"},
		{"statistics out of order", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) { m["cpu"].(map[string]any)["p50"] = 9.0 })}, key + ".cpu"},
		{"memory out of order", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) { m["memory"].(map[string]any)["p95"] = "10Gi" })}, key + ".memory"},
		{"multi-line reason", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) { m["reason"] = "a\nb" })}, key + ".reason"},
		{"window backwards", map[string]string{"ci_wt_build_compile": edit(func(m map[string]any) {
			w := m["window"].(map[string]any)
			w["from"], w["to"] = w["to"], "2020-01-01T00:00:00Z"
		})}, key + ".window"},
		{"key of another template", map[string]string{"ci_wt_build_link": entry}, "data[ci_wt_build_link]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := ParseConfigMapData(tt.data)
			if err == nil {
				t.Fatalf("accepted: %+v", table)
			}
			if fields := fieldsOf(t, err); len(fields) == 0 || fields[0] != tt.field {
				t.Errorf("fields %v, want %s first (%v)", fields, tt.field, err)
			}
		})
	}
}

func TestStoreKeepsPreviousWhenBroken(t *testing.T) {
	var s Store
	if _, ok := s.Lookup(id); ok || s.Table() != nil {
		t.Fatal("empty store found something")
	}
	good, rec := learnedData(t)
	if err := s.Update(good); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(map[string]string{"ci_wt_build_compile": "spec: 2-4Gi\nbogus: 1\n"}); err == nil {
		t.Fatal("broken ConfigMap accepted")
	}
	if got, ok := s.Lookup(id); !ok || got.Spec != rec.Spec {
		t.Fatalf("after a broken update: %+v %v, want the previous %s", got, ok, rec.Spec)
	}
	if err := s.Update(nil); err != nil || s.Table().Len() != 0 {
		t.Fatalf("deleted ConfigMap: err %v, %d entries", err, s.Table().Len())
	}
}

func TestIdentityKey(t *testing.T) {
	tests := []struct {
		id   Identity
		want string
	}{
		{id, "ci_wt_build_compile"},
		{Identity{"argo", OwnerWorkflow, "nightly.v2", "Step-A"}, "argo_wf_nightly.v2_Step-A"},
		{Identity{"argo", OwnerCronWorkflow, "c", "t"}, "argo_cron_c_t"},
		{Identity{"argo", OwnerClusterWorkflowTemplate, "c", "t"}, "argo_cwt_c_t"},
		{Identity{"argo", OwnerWorkflow, "has_underscore", "t"}, ""},
		{Identity{"argo", OwnerWorkflow, "x", "a/b"}, ""},
		{Identity{"argo", "Job", "x", "t"}, ""},
		{Identity{"", OwnerWorkflow, "x", "t"}, ""},
	}
	for _, tt := range tests {
		got, ok := tt.id.Key()
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: key %q %v, want %q", tt.id, got, ok, tt.want)
		}
		if (tt.id.Validate() == nil) != ok {
			t.Errorf("%s: Validate disagrees with Key", tt.id)
		}
	}
	long := Identity{"ci", OwnerWorkflowTemplate, strings.Repeat("o", 200), strings.Repeat("t", 100)}
	key, ok := long.Key()
	if !ok || len(key) > 253 || !strings.HasPrefix(key, "ci_wt_") {
		t.Errorf("long identity: %q %v", key, ok)
	}
	other := long
	other.Template += "x"
	if k2, _ := other.Key(); k2 == key {
		t.Error("two long identities share a key")
	}
}
