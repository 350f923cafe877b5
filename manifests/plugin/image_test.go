package pluginmanifests

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/argoproj/argo-workflows/v4/pkg/plugins/spec"
	argoplugins "github.com/argoproj/argo-workflows/v4/workflow/util/plugins"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/internal/kustomizetest"
)

// placeholder is the image the manifests name: it cannot be pulled, so a forgotten setting shows.
const placeholder = kustomizetest.Placeholder

// pluginOf decodes the rendered plugin ConfigMap the way Argo's controller does.
func pluginOf(t *testing.T, objs map[string][]byte) *spec.Plugin {
	t.Helper()
	raw, ok := objs["ConfigMap/argo-eci-executor-plugin"]
	if !ok {
		t.Fatalf("no ConfigMap argo-eci-executor-plugin in %v", keys(objs))
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(raw, &cm); err != nil {
		t.Fatal(err)
	}
	p, err := argoplugins.FromConfigMap(&cm)
	if err != nil {
		t.Fatalf("Argo cannot read the rendered plugin ConfigMap: %v\n%s", err, raw)
	}
	return p
}

func keys(objs map[string][]byte) []string {
	var out []string
	for k := range objs {
		out = append(out, k)
	}
	return out
}

// TestBaseNamesOnlyThePlaceholder: built alone, the base names no pullable image of its own.
func TestBaseNamesOnlyThePlaceholder(t *testing.T) {
	objs := kustomizetest.Build(t, ".")
	kustomizetest.CheckNoPullableImage(t, objs)
	if got := pluginOf(t, objs).Spec.Sidecar.Container.Image; got != placeholder {
		t.Errorf("sidecar image %q, want the placeholder %s", got, placeholder)
	}
}

// TestOverlaySetsTheImageEverywhere: an overlay that sets the image once with `images` and lists
// image/ under `transformers` gets that image in the sidecar Argo reads from the ConfigMap, and
// the plugin is otherwise exactly the one `argo executor-plugin build` makes from plugin.yaml.
func TestOverlaySetsTheImageEverywhere(t *testing.T) {
	for _, tc := range []struct{ name, setting, want string }{
		{"tag", "{name: argo-eci.invalid/argo-eci, newName: registry.example.com/ops/argo-eci, newTag: v1.2.3}",
			"registry.example.com/ops/argo-eci:v1.2.3"},
		{"digest", "{name: argo-eci.invalid/argo-eci, newName: registry.example.com/ops/argo-eci, digest: sha256:" + strings.Repeat("ab", 32) + "}",
			"registry.example.com/ops/argo-eci@sha256:" + strings.Repeat("ab", 32)},
		{"registry port", "{name: argo-eci.invalid/argo-eci, newName: registry.example.com:5000/argo-eci, newTag: v1}",
			"registry.example.com:5000/argo-eci:v1"},
		{"tag only", "{name: argo-eci.invalid/argo-eci, newTag: v2}", "argo-eci.invalid/argo-eci:v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := buildOverlay(t, "ci", "images:\n- "+tc.setting+"\ntransformers: [$BASE/image]\n")
			got := pluginOf(t, objs)
			want := sidecarSpec(t)
			want.Spec.Sidecar.Container.Image = tc.want
			if !reflect.DeepEqual(got.Spec, want.Spec) {
				t.Errorf("rendered plugin spec\n%+v\nwant plugin.yaml's with image %s\n%+v", got.Spec, tc.want, want.Spec)
			}
			for key, raw := range objs {
				if tc.name != "tag only" && bytes.Contains(raw, []byte("argo-eci.invalid")) {
					t.Errorf("%s still names the placeholder:\n%s", key, raw)
				}
				if strings.HasPrefix(key, "ImageSource/") {
					t.Errorf("%s is kustomize-only and must not be in the output", key)
				}
			}
		})
	}
}

// TestImageTransformerFindsTheImageLine: image/ replaces one line of sidecar.container by its
// position; in the ConfigMap Argo's builder made from plugin.yaml, that line is the image's.
func TestImageTransformerFindsTheImageLine(t *testing.T) {
	raw, err := os.ReadFile("image/replacements.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rt struct {
		Replacements []types.Replacement `json:"replacements"`
	}
	if err := yaml.Unmarshal(raw, &rt); err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(build(t), &cm); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range rt.Replacements {
		for _, target := range r.Targets {
			if target.Select.Kind != "ConfigMap" {
				continue
			}
			found = true
			lines := strings.Split(cm.Data["sidecar.container"], target.Options.Delimiter)
			if i := target.Options.Index; i < 0 || i >= len(lines) || lines[i] != "image: "+placeholder {
				t.Errorf("image/replacements.yaml writes element %d of sidecar.container split by %q, which is not the image line in\n%s",
					i, target.Options.Delimiter, cm.Data["sidecar.container"])
			}
		}
	}
	if !found {
		t.Fatal("image/replacements.yaml has no ConfigMap target")
	}
}
