//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argo-eci/argo-eci/test/cluster"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// TestManifestsApply renders every kustomization under manifests/ with kubectl kustomize and applies
// the result to the local control plane with server-side apply, so the real apiserver validates
// every object (cert-manager's objects against cert-manager's own CRDs from its module).
// The install's cluster-scoped objects are renamed per test and its webhooks are narrowed to the
// test's namespace, so other tests' pods never meet a webhook without a server.
func TestManifestsApply(t *testing.T) {
	c := cluster.Get(t)
	ctx := context.Background()
	installCertManagerCRDs(t, c)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Kube.Discovery()))

	for _, dir := range []string{"install", "argo", "plugin"} {
		t.Run(dir, func(t *testing.T) {
			ns := c.Namespace(t)
			// The documented overlays: the image set once with `images` (plus image/ for the
			// ConfigMap data of argo and plugin); for install, namespace plus references.
			var src string
			if dir == "install" {
				src = installOverlay(t, c, ns)
			} else {
				src = imageOverlay(t, c, dir)
			}
			objs := kustomize(t, c, src)
			checkImageIsSet(t, objs)
			if dir == "install" {
				checkInstallReferences(t, objs, ns)
			}
			if len(objs) == 0 {
				t.Fatalf("manifests/%s rendered no objects", dir)
			}
			suffix := "-" + ns
			var cleanup []*unstructured.Unstructured
			for _, o := range objs {
				switch o.GetKind() {
				case "Namespace":
					continue // the test namespace stands in for it
				case "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration":
					o.SetName(o.GetName() + suffix)
					cleanup = append(cleanup, o)
				}
				if o.GetNamespace() != "" || isNamespaced(t, mapper, o) {
					o.SetNamespace(ns)
				}
				retarget(t, o, ns, suffix)
				apply(ctx, t, c.Dynamic, mapper, o)
			}
			t.Cleanup(func() {
				for _, o := range cleanup {
					m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
					if err == nil {
						_ = c.Dynamic.Resource(m.Resource).Delete(context.Background(), o.GetName(), metav1.DeleteOptions{})
					}
				}
			})
			for _, o := range objs {
				if o.GetKind() == "Namespace" {
					continue
				}
				m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
				if err != nil {
					t.Fatal(err)
				}
				ri := c.Dynamic.Resource(m.Resource)
				var getErr error
				if m.Scope.Name() == meta.RESTScopeNameNamespace {
					_, getErr = ri.Namespace(ns).Get(ctx, o.GetName(), metav1.GetOptions{})
				} else {
					_, getErr = ri.Get(ctx, o.GetName(), metav1.GetOptions{})
				}
				if getErr != nil {
					t.Errorf("%s %s not found after apply: %v", o.GetKind(), o.GetName(), getErr)
				}
			}
		})
	}
}

// retarget points namespace-bearing references at the test namespace and renamed objects.
func retarget(t *testing.T, o *unstructured.Unstructured, ns, suffix string) {
	t.Helper()
	switch o.GetKind() {
	case "ClusterRoleBinding", "RoleBinding":
		subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
		for _, s := range subjects {
			if m, ok := s.(map[string]any); ok && m["kind"] == "ServiceAccount" {
				m["namespace"] = ns
			}
		}
		_ = unstructured.SetNestedSlice(o.Object, subjects, "subjects")
		if o.GetKind() == "ClusterRoleBinding" {
			name, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
			_ = unstructured.SetNestedField(o.Object, name+suffix, "roleRef", "name")
		}
	case "MutatingWebhookConfiguration":
		ann := o.GetAnnotations()
		if v, ok := ann["cert-manager.io/inject-ca-from"]; ok {
			ann["cert-manager.io/inject-ca-from"] = ns + "/" + v[strings.Index(v, "/")+1:]
			o.SetAnnotations(ann)
		}
		hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
		for _, h := range hooks {
			m := h.(map[string]any)
			m["namespaceSelector"] = map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": ns}}
			if svc, ok := m["clientConfig"].(map[string]any)["service"].(map[string]any); ok {
				svc["namespace"] = ns
			}
		}
		_ = unstructured.SetNestedSlice(o.Object, hooks, "webhooks")
	case "Certificate":
		names, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "dnsNames")
		for i, n := range names {
			parts := strings.Split(n, ".")
			if len(parts) > 1 {
				parts[1] = ns
			}
			names[i] = strings.Join(parts, ".")
		}
		_ = unstructured.SetNestedStringSlice(o.Object, names, "spec", "dnsNames")
	}
}

func isNamespaced(t *testing.T, mapper meta.RESTMapper, o *unstructured.Unstructured) bool {
	t.Helper()
	m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
	if err != nil {
		t.Fatalf("%s %s: no such kind on the server: %v", o.GetKind(), o.GetName(), err)
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace
}

func apply(ctx context.Context, t *testing.T, dyn dynamic.Interface, mapper meta.RESTMapper, o *unstructured.Unstructured) {
	t.Helper()
	m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
	if err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
	data, err := o.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	ri := dynamic.ResourceInterface(dyn.Resource(m.Resource))
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
	}
	force := true
	if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "argo-eci-e2e", Force: &force}); err != nil {
		t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
	}
}

// installOverlay writes the README's overlay of manifests/install for namespace ns.
func installOverlay(t *testing.T, c *cluster.Cluster, ns string) string {
	t.Helper()
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, filepath.Join(c.Root, "manifests", "install"))
	if err != nil {
		t.Fatal(err)
	}
	k := "namespace: " + ns + "\nresources: [" + rel + "]\ntransformers: [" + filepath.Join(rel, "references") + "]\n" +
		"images: [{name: argo-eci.invalid/argo-eci, newName: argo-eci, newTag: dev}]\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// imageOverlay writes the README's overlay of manifests/DIR that sets the image once: kustomize's
// `images`, and DIR/image under `transformers` for the image inside ConfigMap data.
func imageOverlay(t *testing.T, c *cluster.Cluster, dir string) string {
	t.Helper()
	out := t.TempDir()
	rel, err := filepath.Rel(out, filepath.Join(c.Root, "manifests", dir))
	if err != nil {
		t.Fatal(err)
	}
	k := "resources: [" + rel + "]\nimages: [{name: argo-eci.invalid/argo-eci, newName: argo-eci, newTag: dev}]\n"
	if _, err := os.Stat(filepath.Join(c.Root, "manifests", dir, "image")); err == nil {
		k += "transformers: [" + filepath.Join(rel, "image") + "]\n"
	}
	if err := os.WriteFile(filepath.Join(out, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkImageIsSet asserts that kubectl kustomize itself put the overlay's image (argo-eci:dev)
// everywhere, including inside ConfigMap data, and left no placeholder.
func checkImageIsSet(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	var set int
	for _, o := range objs {
		data, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("argo-eci.invalid")) {
			t.Errorf("%s %s still names the placeholder image: %s", o.GetKind(), o.GetName(), data)
		}
		set += bytes.Count(data, []byte("argo-eci:dev"))
	}
	if set == 0 {
		t.Error("no rendered object names the image the overlay set")
	}
}

// checkInstallReferences asserts that kubectl kustomize itself pointed every namespace-bearing
// reference of the install at ns, before the test renames anything for isolation.
func checkInstallReferences(t *testing.T, objs []*unstructured.Unstructured, ns string) {
	t.Helper()
	for _, o := range objs {
		switch o.GetKind() {
		case "MutatingWebhookConfiguration":
			if v := o.GetAnnotations()["cert-manager.io/inject-ca-from"]; !strings.HasPrefix(v, ns+"/") {
				t.Errorf("inject-ca-from %q, want namespace %s", v, ns)
			}
			hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
			for _, h := range hooks {
				if got, _, _ := unstructured.NestedString(h.(map[string]any), "clientConfig", "service", "namespace"); got != ns {
					t.Errorf("webhook service namespace %q, want %s", got, ns)
				}
			}
		case "ClusterRoleBinding":
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			for _, s := range subjects {
				if m := s.(map[string]any); m["kind"] == "ServiceAccount" && m["namespace"] != ns {
					t.Errorf("%s subject namespace %v, want %s", o.GetName(), m["namespace"], ns)
				}
			}
		case "Certificate":
			names, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "dnsNames")
			for _, n := range names {
				if !strings.Contains(n, "."+ns+".svc") {
					t.Errorf("certificate DNS name %s is not in namespace %s", n, ns)
				}
			}
		}
	}
}

// kustomize renders DIR with the control plane's kubectl and decodes the objects.
func kustomize(t *testing.T, c *cluster.Cluster, dir string) []*unstructured.Unstructured {
	t.Helper()
	var out, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(c.Root, ".cache", "bin", "kubectl"), "kustomize", dir)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
	}
	return decodeObjects(t, &out)
}

func decodeObjects(t *testing.T, r io.Reader) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatal(err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// installCertManagerCRDs installs cert-manager's Certificate and Issuer CRDs from the cert-manager
// module (its chart templates them: the templated labels are dropped).
func installCertManagerCRDs(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/cert-manager/cert-manager@v1.16.2").Output()
	if err != nil {
		t.Fatalf("download cert-manager module for its CRDs: %v", err)
	}
	var info struct{ Dir string }
	if err := yaml.Unmarshal(out, &info); err != nil || info.Dir == "" {
		t.Fatalf("cert-manager module dir: %v", err)
	}
	crdGVR := apiextensionsGVR()
	for _, f := range []string{"crd-certificates.yaml", "crd-issuers.yaml"} {
		data, err := os.ReadFile(filepath.Join(info.Dir, "deploy", "crds", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range decodeObjects(t, bytes.NewReader(data)) {
			o.SetLabels(nil)
			o.SetAnnotations(nil)
			raw, _ := o.MarshalJSON()
			force := true
			if _, err := c.Dynamic.Resource(crdGVR).Patch(context.Background(), o.GetName(), types.ApplyPatchType, raw,
				metav1.PatchOptions{FieldManager: "argo-eci-e2e", Force: &force}); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("install %s: %v", o.GetName(), err)
			}
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, name := range []string{"certificates.cert-manager.io", "issuers.cert-manager.io"} {
		for {
			crd, err := c.Dynamic.Resource(crdGVR).Get(context.Background(), name, metav1.GetOptions{})
			if err == nil && crdEstablished(crd) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("CRD %s not established: %v", name, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func apiextensionsGVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
}

func crdEstablished(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
