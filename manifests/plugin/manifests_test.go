// Package pluginmanifests checks the executor-plugin manifests with Argo's own code: the ConfigMap is
// exactly what `argo executor-plugin build` makes from plugin.yaml, and the RBAC is least-privilege.
package pluginmanifests

import (
	"bytes"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/argoproj/argo-workflows/v4/pkg/plugins/spec"
	argoplugins "github.com/argoproj/argo-workflows/v4/workflow/util/plugins"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/plugin"
)

var update = flag.Bool("update", false, "rewrite argo-eci-executor-plugin-configmap.yaml from plugin.yaml")

const configMapFile = "argo-eci-executor-plugin-configmap.yaml"

// build does what `argo executor-plugin build .` does (cmd/argo/commands/executorplugin in Argo v4.0.7).
func build(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile("plugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := &spec.Plugin{}
	if err := yaml.UnmarshalStrict(raw, p); err != nil {
		t.Fatalf("plugin.yaml: %v", err)
	}
	cm, err := argoplugins.ToConfigMap(p)
	if err != nil {
		t.Fatalf("plugin.yaml: %v", err)
	}
	out, err := yaml.Marshal(cm)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte("# This is an auto-generated file. DO NOT EDIT\n"), out...)
}

func TestConfigMapIsBuiltFromPluginYAML(t *testing.T) {
	want := build(t)
	if *update {
		if err := os.WriteFile(configMapFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(configMapFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./manifests/plugin -update", configMapFile)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(got, &cm); err != nil {
		t.Fatal(err)
	}
	p, err := argoplugins.FromConfigMap(&cm)
	if err != nil {
		t.Fatalf("Argo cannot read the ConfigMap back: %v", err)
	}
	c := p.Spec.Sidecar.Container
	if cm.Name != "argo-eci-executor-plugin" || !p.Spec.Sidecar.AutomountServiceAccountToken ||
		len(c.Args) == 0 || c.Args[0] != "plugin" || c.Ports[0].ContainerPort != 4355 {
		t.Fatalf("unexpected plugin: %+v", p)
	}
	if sc := c.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Fatalf("sidecar must run as non-root with a read-only root: %+v", sc)
	}
}

// docs splits a multi-document YAML file.
func docs(t *testing.T, name string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, d := range strings.Split(string(raw), "\n---\n") {
		if strings.Contains(d, "kind:") {
			out = append(out, []byte(d))
		}
	}
	return out
}

func TestRBACIsLeastPrivilege(t *testing.T) {
	rules := map[string][]rbacv1.PolicyRule{}
	for _, d := range docs(t, "rbac.yaml") {
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		if err := yaml.Unmarshal(d, &meta); err != nil {
			t.Fatal(err)
		}
		if meta.Kind == "Role" || meta.Kind == "ClusterRole" {
			rules[meta.Kind+"/"+meta.Metadata.Name] = meta.Rules
		}
	}
	want := map[string][]rbacv1.PolicyRule{
		"Role/argo-eci-executor-plugin": {
			{APIGroups: []string{"data.fluid.io"}, Resources: []string{"datasets", "jindoruntimes"}, Verbs: []string{"get", "create"}},
			{APIGroups: []string{"data.fluid.io"}, Resources: []string{"dataloads"}, Verbs: []string{"get", "list", "create", "patch"}},
		},
		"ClusterRole/argo-eci-executor-plugin-imagecaches": {{APIGroups: []string{"eci.alibabacloud.com"}, Resources: []string{"imagecaches"}, Verbs: []string{"get", "list", "create", "delete"}}},
		"Role/argo-eci-agent": {
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtasksets"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtasksets/status"}, Verbs: []string{"patch"}},
		},
	}
	if len(rules) != len(want) {
		t.Fatalf("roles = %v", rules)
	}
	for name, w := range want {
		got := rules[name]
		if len(got) != len(w) {
			t.Fatalf("%s rules = %+v", name, got)
		}
		for i := range w {
			if !slices.Equal(got[i].APIGroups, w[i].APIGroups) || !slices.Equal(got[i].Resources, w[i].Resources) || !slices.Equal(got[i].Verbs, w[i].Verbs) {
				t.Fatalf("%s rule %d = %+v, want %+v", name, i, got[i], w[i])
			}
		}
	}
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	var k struct {
		Resources []string `json:"resources"`
	}
	raw, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{configMapFile, "serviceaccount.yaml", "rbac.yaml"} {
		if !slices.Contains(k.Resources, f) {
			t.Fatalf("kustomization.yaml does not list %s", f)
		}
	}
	for _, d := range docs(t, "serviceaccount.yaml") {
		if bytes.Contains(d, []byte("kind: Secret")) && !bytes.Contains(d, []byte("type: kubernetes.io/service-account-token")) {
			t.Fatal("token Secret has the wrong type")
		}
	}
}

// TestSidecarNameMatchesWebhook: the webhook recognises agent pods that carry argo-eci's sidecar by
// its container name, and moves only those onto the argo-eci-agent ServiceAccount created here.
func TestSidecarNameMatchesWebhook(t *testing.T) {
	raw, err := os.ReadFile("plugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := &spec.Plugin{}
	if err := yaml.UnmarshalStrict(raw, p); err != nil {
		t.Fatalf("plugin.yaml: %v", err)
	}
	if got := p.Spec.Sidecar.Container.Name; got != plugin.SidecarName {
		t.Errorf("plugin.yaml sidecar container %q, want plugin.SidecarName %q", got, plugin.SidecarName)
	}
	sa, err := os.ReadFile("serviceaccount.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sa, []byte("name: "+plugin.AgentServiceAccount+"\n")) {
		t.Errorf("serviceaccount.yaml does not create ServiceAccount %s", plugin.AgentServiceAccount)
	}
}
