package ecisim

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/argo-eci/argo-eci/eci"
)

func imageCacheObject(name, phase, id string, images ...any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "eci.alibabacloud.com/v1", "kind": "ImageCache",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"images": images},
		"status":   map[string]any{"phase": phase, "imageCacheId": id},
	}}
}

func TestImageCacheObjectsMatch(t *testing.T) {
	h := newHarness(t, "")
	h.sim.Dynamic = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{ImageCacheResource: "ImageCacheList"},
		imageCacheObject("creating", "Creating", "imc-creating", "alpine:3.20", "argoexec"),
		imageCacheObject("alpine", "Ready", "imc-ready", "alpine:3.20", "argoexec"),
		imageCacheObject("other", "Ready", "imc-other", "busybox"),
	)
	h.create("auto", "vk", nil, "")
	h.create("off", "vk", map[string]string{eci.AnnotationAutoIMC: "false"}, "")
	h.create("pinned", "vk", map[string]string{eci.AnnotationIMCID: "imc-other"}, "")
	for _, n := range []string{"auto", "off", "pinned"} {
		h.step(n)
	}
	for n, want := range map[string]string{"auto": "imc-ready", "off": "", "pinned": "imc-other"} {
		if got := h.pod(n).Annotations[eci.AnnotationMatchedIMC]; got != want {
			t.Errorf("%s: matched image cache %q, want %q", n, got, want)
		}
	}
}
