package cluster

import (
	"testing"

	argoplugins "github.com/argoproj/argo-workflows/v4/workflow/util/plugins"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// TestPluginObjectsSetTheClusterImage: the e2e tests install manifests/plugin the documented way,
// and Argo reads the image the local registry serves from the rendered plugin ConfigMap.
func TestPluginObjectsSetTheClusterImage(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := (&Cluster{Root: root}).PluginObjects("e2e-x")
	if err != nil {
		t.Fatal(err)
	}
	var image string
	for _, o := range objs {
		switch typed := o.(type) {
		case *corev1.ConfigMap:
			p, err := argoplugins.FromConfigMap(typed)
			if err != nil {
				t.Fatalf("Argo cannot read the rendered plugin ConfigMap: %v", err)
			}
			image = p.Spec.Sidecar.Container.Image
		case *rbacv1.ClusterRoleBinding:
			if typed.Subjects[0].Namespace != "e2e-x" {
				t.Errorf("%s binds %+v, want namespace e2e-x", typed.Name, typed.Subjects)
			}
		case *rbacv1.ClusterRole:
		default:
			if o.GetNamespace() != "e2e-x" {
				t.Errorf("%T %s in namespace %q, want e2e-x", o, o.GetName(), o.GetNamespace())
			}
		}
	}
	if image != ArgoECIImage {
		t.Errorf("plugin sidecar image %q, want %s", image, ArgoECIImage)
	}
}
