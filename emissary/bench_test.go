package emissary

import (
	"encoding/json"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// typicalPod is a one-container step as the real controller created it (testdata/argo-pods), or
// the builder's equivalent when no capture is at hand.
func typicalPod(b *testing.B) ([]byte, *corev1.Pod) {
	data, err := os.ReadFile("testdata/argo-pods/container-resources.json")
	if os.IsNotExist(err) {
		data, err = os.ReadFile("testdata/pods/step-1cpu-2gi.json")
	}
	if err != nil {
		b.Fatal(err)
	}
	var pod corev1.Pod
	if err := json.Unmarshal(data, &pod); err != nil {
		b.Fatal(err)
	}
	return data, &pod
}

// BenchmarkShapePod shapes a typical Argo workflow pod with a full profile (spot, zones, tags).
func BenchmarkShapePod(b *testing.B) {
	_, pod := typicalPod(b)
	e := NewEngine(mustProfiles(b, fullProfiles))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.ShapePod(pod, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShapePodJSON adds what the webhook does around the engine: decode the pod JSON, shape,
// encode the result.
func BenchmarkShapePodJSON(b *testing.B) {
	data, _ := typicalPod(b)
	e := NewEngine(mustProfiles(b, fullProfiles))
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var pod corev1.Pod
		if err := json.Unmarshal(data, &pod); err != nil {
			b.Fatal(err)
		}
		res, err := e.ShapePod(&pod, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(res.Pod); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShapeWorkflow renders a 100-way Fluid fan-out (warm a dataset, then 100 readers).
func BenchmarkShapeWorkflow(b *testing.B) {
	obj := decodeFile(b, "fluid-fanout.yaml")
	e := NewEngine(DefaultProfiles())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.ShapeWorkflow(obj); err != nil {
			b.Fatal(err)
		}
	}
}
