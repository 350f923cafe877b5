// Package kustomizetest builds the project's kustomize directories in tests with the library
// behind `kubectl kustomize`, and checks what every rendered install must not name. It is only for
// tests; no product package imports it.
package kustomizetest

import (
	"bytes"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Placeholder is the image the manifests name until an overlay sets argo-eci's image with
// kustomize's `images`; it cannot be pulled.
const Placeholder = "argo-eci.invalid/argo-eci:set-with-kustomize-images"

// Build runs kustomize on dir and returns each resource's YAML keyed by "Kind/name".
func Build(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out := map[string][]byte{}
	for _, r := range rm.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		out[r.GetKind()+"/"+r.GetName()] = b
	}
	return out
}

// CheckNoPullableImage fails t for each resource of objs that names argo-eci's public image
// namespace or a :latest tag, or that is kustomize-only (an ImageSource) and leaked into the
// output.
func CheckNoPullableImage(t testing.TB, objs map[string][]byte) {
	t.Helper()
	for key, raw := range objs {
		if bytes.Contains(raw, []byte("argo-eci/argo-eci")) || bytes.Contains(raw, []byte(":latest")) {
			t.Errorf("%s names an image other than the placeholder:\n%s", key, raw)
		}
		if strings.HasPrefix(key, "ImageSource/") {
			t.Errorf("%s is kustomize-only and must not be in the output", key)
		}
	}
}
