package pluginmanifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/internal/kustomizetest"
)

// buildOverlay runs kustomize on an overlay that puts this directory into namespace ns, with the
// kustomization fields in extra (YAML, may be empty).
func buildOverlay(t *testing.T, ns, extra string) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	abs, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		t.Fatal(err)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: " + ns + "\nresources:\n- " + rel + "\n" +
		strings.ReplaceAll(extra, "$BASE", rel)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return kustomizetest.Build(t, dir)
}

// An overlay's namespace must reach the ClusterRoleBinding's subject; otherwise the plugin's
// ServiceAccount in the overlay's namespace gets no ImageCache permission at all.
func TestClusterRoleBindingFollowsOverlayNamespace(t *testing.T) {
	objs := buildOverlay(t, "team-a", "")
	raw, ok := objs["ClusterRoleBinding/argo-eci-executor-plugin-imagecaches"]
	if !ok {
		t.Fatalf("no ClusterRoleBinding in %v", objs)
	}
	var crb rbacv1.ClusterRoleBinding
	if err := yaml.Unmarshal(raw, &crb); err != nil {
		t.Fatal(err)
	}
	if len(crb.Subjects) != 1 || crb.Subjects[0].Namespace != "team-a" || crb.Subjects[0].Name != "argo-eci-executor-plugin" {
		t.Fatalf("ClusterRoleBinding subjects = %+v, want argo-eci-executor-plugin in team-a", crb.Subjects)
	}
	var rb rbacv1.RoleBinding
	if err := yaml.Unmarshal(objs["RoleBinding/argo-eci-agent"], &rb); err != nil {
		t.Fatal(err)
	}
	if len(rb.Subjects) != 1 || rb.Subjects[0].Name != "argo-eci-agent" {
		t.Fatalf("agent RoleBinding subjects = %+v: WorkflowTaskSet rights belong on a dedicated ServiceAccount, not default", rb.Subjects)
	}
	if _, ok := objs["ServiceAccount/argo-eci-agent"]; !ok {
		t.Fatal("ServiceAccount argo-eci-agent is missing")
	}
}

// ECI bills the sum of the containers' limits rounded up to a spec. Argo's agent container has
// limits 100m / 256M (workflow/controller/agent.go, ARGO_AGENT_CPU_LIMIT / ARGO_AGENT_MEMORY_LIMIT);
// with the sidecar the pod must stay within the smallest spec, 0.25 vCPU / 0.5 GiB.
func TestSidecarKeepsAgentPodInSmallestECISpec(t *testing.T) {
	c := sidecarSpec(t).Spec.Sidecar.Container
	cpu := resource.MustParse("100m")
	mem := resource.MustParse("256M")
	cpu.Add(*c.Resources.Limits.Cpu())
	mem.Add(*c.Resources.Limits.Memory())
	if cpu.Cmp(resource.MustParse("250m")) > 0 || mem.Cmp(resource.MustParse("512Mi")) > 0 {
		t.Fatalf("agent pod limits with the sidecar = %s CPU / %s memory, above ECI's 0.25 vCPU / 0.5 GiB", cpu.String(), mem.String())
	}
}
