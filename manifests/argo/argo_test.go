// Package argomanifests checks the workflow-controller settings the way kustomize renders them and
// Argo's controller reads them: the image is set in one place, with kustomize alone.
package argomanifests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	argoconfig "github.com/argoproj/argo-workflows/v4/config"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/internal/kustomizetest"
)

// placeholder is the image the manifests name: it cannot be pulled, so a forgotten setting shows.
const placeholder = kustomizetest.Placeholder

// controllerConfig reads the rendered workflow-controller ConfigMap with Argo's own config
// controller, as the workflow-controller and argo-server do.
func controllerConfig(t *testing.T, objs map[string][]byte) *argoconfig.Config {
	t.Helper()
	raw, ok := objs["ConfigMap/workflow-controller-configmap"]
	if !ok {
		t.Fatal("no ConfigMap workflow-controller-configmap in the output")
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(raw, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Namespace = "argo"
	c, err := argoconfig.NewController("argo", cm.Name, fake.NewClientset(&cm)).Get(context.Background())
	if err != nil {
		t.Fatalf("Argo cannot read the rendered ConfigMap: %v\n%s", err, raw)
	}
	return c
}

// withArgo renders Argo's own cluster install (from the Argo module this repository builds against)
// with settings/ as a component and the kustomization fields in extra; $BASE in extra is this
// directory.
func withArgo(t *testing.T, extra string) map[string][]byte {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/argoproj/argo-workflows/v4").Output()
	if err != nil {
		t.Fatalf("locate the Argo module: %v", err)
	}
	dir := t.TempDir()
	// kustomize takes only relative paths to other kustomizations.
	argo, err := filepath.Rel(dir, filepath.Join(strings.TrimSpace(string(out)), "manifests", "cluster-install-no-crds"))
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		t.Fatal(err)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: argo\n" +
		"resources: [" + argo + "]\ncomponents: [" + filepath.Join(rel, "settings") + "]\n" +
		strings.ReplaceAll(extra, "$BASE", rel)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return kustomizetest.Build(t, dir)
}

// pluginSidecar is argo-server's artifact-plugin container.
func pluginSidecar(t *testing.T, objs map[string][]byte) corev1.Container {
	t.Helper()
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(objs["Deployment/argo-server"], &d); err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "artifact-plugin-argo-eci-oss" {
			return c
		}
	}
	t.Fatalf("argo-server has no artifact-plugin-argo-eci-oss container: %+v", d.Spec.Template.Spec.Containers)
	return corev1.Container{}
}

// argoECIImages is what the controller knows of argo-eci's image: its images index and drivers.
func argoECIImages(c *argoconfig.Config) (index []string, drivers []string) {
	for k := range c.Images {
		index = append(index, k)
	}
	for _, d := range c.ArtifactDrivers {
		drivers = append(drivers, d.Image)
	}
	return index, drivers
}

// TestBaseNamesOnlyThePlaceholder: built alone, or with Argo's Deployments and no image set, the
// settings name no pullable argo-eci image.
func TestBaseNamesOnlyThePlaceholder(t *testing.T) {
	objs := kustomizetest.Build(t, ".")
	kustomizetest.CheckNoPullableImage(t, objs)
	index, drivers := argoECIImages(controllerConfig(t, objs))
	if !reflect.DeepEqual(index, []string{placeholder}) || !reflect.DeepEqual(drivers, []string{placeholder}) {
		t.Errorf("images index %v, artifact drivers %v: want only the placeholder %s", index, drivers, placeholder)
	}
	if got := pluginSidecar(t, withArgo(t, "")).Image; got != placeholder {
		t.Errorf("argo-server's artifact plugin image %q, want the placeholder %s", got, placeholder)
	}
}

// TestOverlaySetsTheImageEverywhere: an overlay that sets the image once with `images` and lists
// image/ under `transformers` gets that image in argo-server's sidecar, the controller's images
// index and its artifact driver, as Argo's config controller reads them; nothing else changes.
func TestOverlaySetsTheImageEverywhere(t *testing.T) {
	base := controllerConfig(t, kustomizetest.Build(t, "."))
	for _, tc := range []struct{ name, setting, want string }{
		{"tag", "{name: argo-eci.invalid/argo-eci, newName: registry.example.com/ops/argo-eci, newTag: v1.2.3}",
			"registry.example.com/ops/argo-eci:v1.2.3"},
		{"digest", "{name: argo-eci.invalid/argo-eci, newName: registry.example.com/ops/argo-eci, digest: sha256:" + strings.Repeat("cd", 32) + "}",
			"registry.example.com/ops/argo-eci@sha256:" + strings.Repeat("cd", 32)},
		{"registry port", "{name: argo-eci.invalid/argo-eci, newName: registry.example.com:5000/argo-eci, newTag: v1}",
			"registry.example.com:5000/argo-eci:v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := withArgo(t, "images:\n- "+tc.setting+"\ntransformers: [$BASE/image]\n")
			var controller appsv1.Deployment
			if err := yaml.UnmarshalStrict(objs["Deployment/workflow-controller"], &controller); err != nil {
				t.Fatal(err)
			}
			if env := controller.Spec.Template.Spec.Containers[0].Env; !slices.Contains(env, corev1.EnvVar{Name: "ARGO_EXECUTOR_PLUGINS", Value: "true"}) {
				t.Errorf("the controller's env %+v: settings/ did not turn executor plugins on", env)
			}
			if got := pluginSidecar(t, objs).Image; got != tc.want {
				t.Errorf("argo-server's artifact plugin image %q, want %s", got, tc.want)
			}
			got := controllerConfig(t, objs)
			want := *base
			want.Images = map[string]argoconfig.Image{tc.want: base.Images[placeholder]}
			want.ArtifactDrivers = append([]argoconfig.ArtifactDriver(nil), base.ArtifactDrivers...)
			want.ArtifactDrivers[0].Image = tc.want
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("controller config\n%+v\nwant the base's with image %s\n%+v", got, tc.want, &want)
			}
			driver, err := got.GetArtifactDriver("argo-eci-oss")
			if err != nil || driver.Image != tc.want || len(got.Images[driver.Image].Entrypoint) == 0 {
				t.Errorf("driver argo-eci-oss %+v (%v): its image has no entrypoint in the images index %v", driver, err, got.Images)
			}
			for key, raw := range objs {
				if bytes.Contains(raw, []byte("argo-eci.invalid")) || strings.HasPrefix(key, "ImageSource/") {
					t.Errorf("%s still names the placeholder or is kustomize-only:\n%s", key, raw)
				}
			}
		})
	}
}
