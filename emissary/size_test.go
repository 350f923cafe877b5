package emissary

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
)

// fanOut is a Workflow of one DAG and n container templates (resources in 12 combinations), like
// a generated sharded batch job.
func fanOut(t testing.TB, n int) runtime.Object {
	t.Helper()
	var tasks, templates []string
	for i := range n {
		tasks = append(tasks, fmt.Sprintf(`{"name":"t%d","template":"work-%d","arguments":{"parameters":[{"name":"shard","value":"%d"}]}}`, i, i, i))
		templates = append(templates, fmt.Sprintf(`{"name":"work-%d","inputs":{"parameters":[{"name":"shard"}]},
"container":{"image":"registry.example.com/team/worker:v1.%d","command":["python","-m","worker"],
"args":["--shard","{{inputs.parameters.shard}}","--input","oss://bucket/data/part-%05d"],
"resources":{"requests":{"cpu":"%dm","memory":"%dMi"}}}}`, i, i%7, i, 500+(i%4)*500, 1024+(i%3)*1024))
	}
	doc := fmt.Sprintf(`{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"generateName":"fan-","namespace":"batch"},
"spec":{"entrypoint":"main","templates":[{"name":"main","dag":{"tasks":[%s]}},%s]}}`, strings.Join(tasks, ","), strings.Join(templates, ","))
	obj, err := DecodeObject([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// growth is what shaping adds to obj's JSON encoding, per pod template.
func growth(t testing.TB, e *Engine, obj runtime.Object, pods int) int {
	t.Helper()
	before, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	shaped, _, err := e.ShapeWorkflow(obj)
	if err != nil {
		t.Fatal(err)
	}
	after, err := json.Marshal(shaped)
	if err != nil {
		t.Fatal(err)
	}
	return (len(after) - len(before)) / pods
}

func growthEngines(t testing.TB) (flat, shared *Engine) {
	p := mustProfiles(t, fullProfiles)
	flat, shared = NewEngine(p), NewEngine(p)
	flat.perTemplateMetadata = true
	return flat, shared
}

// TestGrowthPerTemplate: with shared settings in spec.podMetadata, shaping a fan-out adds far less
// per template than with every setting on its template.
func TestGrowthPerTemplate(t *testing.T) {
	const n = 200
	obj := fanOut(t, n)
	flatE, sharedE := growthEngines(t)
	flat, shared := growth(t, flatE, obj, n), growth(t, sharedE, obj, n)
	t.Logf("bytes added per template: %d with every setting on its template, %d shared", flat, shared)
	if shared*10 > flat*6 {
		t.Errorf("shared layout adds %d bytes per template, want at most 60%% of %d", shared, flat)
	}
}

// BenchmarkWorkflowGrowth reports the bytes shaping adds per template of a 1000-template fan-out,
// with every setting on its template and with shared settings in spec.podMetadata.
func BenchmarkWorkflowGrowth(b *testing.B) {
	const n = 1000
	obj := fanOut(b, n)
	flatE, sharedE := growthEngines(b)
	for _, c := range []struct {
		name string
		e    *Engine
	}{{"per-template", flatE}, {"shared", sharedE}} {
		b.Run(c.name, func(b *testing.B) {
			var g int
			for b.Loop() {
				g = growth(b, c.e, obj, n)
			}
			b.ReportMetric(float64(g), "bytes/template")
		})
	}
}
