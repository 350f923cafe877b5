// Package installmanifests checks the webhook install the way kustomize renders it for an
// overlay: every in-cluster reference follows the overlay's namespace, the image is set in one
// place, and the webhook configuration keeps its blast radius small.
package installmanifests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/cel"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/internal/kustomizetest"
)

// rendered is the output of one kustomize build, indexed by kind/name.
type rendered map[string]*unstructured.Unstructured

// build runs kustomize (the library behind `kubectl kustomize`) on dir.
func build(t *testing.T, dir string) rendered {
	t.Helper()
	out := rendered{}
	for key, data := range kustomizetest.Build(t, dir) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &u.Object); err != nil {
			t.Fatal(err)
		}
		out[key] = u
	}
	return out
}

// as decodes the rendered object kind/name into a typed object.
func as[T any](t *testing.T, r rendered, key string) *T {
	t.Helper()
	u, ok := r[key]
	if !ok {
		t.Fatalf("%s is not in the rendered install", key)
	}
	data, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	v := new(T)
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return v
}

// overlay writes a kustomization in a temporary directory that installs argo-eci into
// namespace the documented way, and renders it.
func overlay(t *testing.T, namespace, extra string) rendered {
	t.Helper()
	install, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// kustomize takes only relative paths to other kustomizations.
	rel, err := filepath.Rel(dir, install)
	if err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: %s
resources: [%s]
transformers: [%s]
%s`, namespace, rel, filepath.Join(rel, "references"), extra)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return build(t, dir)
}

const setImage = `images:
- {name: argo-eci.invalid/argo-eci, newName: registry.example.com/ops/argo-eci, newTag: v1.2.3}
`

// TestEveryReferenceFollowsTheNamespace renders the base and overlays into other namespaces and
// checks each reference the apiserver, cert-manager and RBAC resolve by namespace.
func TestEveryReferenceFollowsTheNamespace(t *testing.T) {
	cases := map[string]rendered{"argo-eci": build(t, ".")}
	for _, ns := range []string{"ops", "argo", "platform-webhooks"} {
		cases[ns] = overlay(t, ns, setImage)
	}
	for ns, r := range cases {
		t.Run(ns, func(t *testing.T) { checkReferences(t, ns, r) })
	}
}

func checkReferences(t *testing.T, ns string, r rendered) {
	if _, ok := r["Namespace/"+ns]; !ok {
		t.Errorf("no Namespace %s", ns)
	}
	for key, u := range r {
		if clusterScoped(u.GetKind()) {
			continue
		}
		if u.GetNamespace() != ns {
			t.Errorf("%s is in namespace %q, want %q", key, u.GetNamespace(), ns)
		}
	}
	svc := as[corev1.Service](t, r, "Service/argo-eci-webhook")
	mwc := as[admissionregistrationv1.MutatingWebhookConfiguration](t, r, "MutatingWebhookConfiguration/0-argo-eci")
	for _, w := range mwc.Webhooks {
		s := w.ClientConfig.Service
		if s == nil || s.Namespace != ns || s.Name != svc.Name {
			t.Errorf("webhook %s calls service %+v, want %s/%s", w.Name, s, ns, svc.Name)
		}
		if !excludes(w.NamespaceSelector, "kube-system") || !excludes(w.NamespaceSelector, ns) {
			t.Errorf("webhook %s does not exclude kube-system and its own namespace %s: %+v", w.Name, ns, w.NamespaceSelector)
		}
	}
	inject := mwc.Annotations["cert-manager.io/inject-ca-from"]
	certNS, certName, _ := strings.Cut(inject, "/")
	if certNS != ns {
		t.Errorf("cert-manager.io/inject-ca-from = %q, want namespace %s", inject, ns)
	}
	serving := r["Certificate/"+certName]
	if serving == nil {
		t.Fatalf("inject-ca-from names Certificate %q, which is not in the install", certName)
	}
	dns, _, _ := unstructured.NestedStringSlice(serving.Object, "spec", "dnsNames")
	want := []string{svc.Name + "." + ns + ".svc", svc.Name + "." + ns + ".svc.cluster.local"}
	if !slices.Equal(dns, want) {
		t.Errorf("certificate DNS names %v, want %v", dns, want)
	}
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for key, u := range r {
			if u.GetKind() != kind {
				continue
			}
			b := as[rbacv1.RoleBinding](t, r, key) // same shape for both kinds
			for _, s := range b.Subjects {
				if s.Kind != "ServiceAccount" {
					continue
				}
				if _, ok := r["ServiceAccount/"+s.Name]; !ok {
					t.Errorf("%s binds ServiceAccount %s, which is not in the install", key, s.Name)
				}
				if kind == "ClusterRoleBinding" && s.Namespace != ns {
					t.Errorf("%s binds ServiceAccount %s/%s, want namespace %s", key, s.Namespace, s.Name, ns)
				}
			}
		}
	}
	dep := as[appsv1.Deployment](t, r, "Deployment/argo-eci-webhook")
	secret, _, _ := unstructured.NestedString(serving.Object, "spec", "secretName")
	if v := dep.Spec.Template.Spec.Volumes; len(v) == 0 || v[0].Secret == nil || v[0].Secret.SecretName != secret {
		t.Errorf("the webhook mounts %+v, want the serving certificate's Secret %s", v, secret)
	}
	if _, ok := r["ServiceAccount/"+dep.Spec.Template.Spec.ServiceAccountName]; !ok {
		t.Errorf("the webhook runs as ServiceAccount %s, which is not in the install", dep.Spec.Template.Spec.ServiceAccountName)
	}
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the webhook's pods do not carry", k, v)
		}
	}
}

func clusterScoped(kind string) bool {
	switch kind {
	case "Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration", "PriorityClass":
		return true
	}
	return false
}

// excludes reports whether sel leaves out the namespace named name (by its
// kubernetes.io/metadata.name label).
func excludes(sel *metav1.LabelSelector, name string) bool {
	if sel == nil {
		return false
	}
	for _, e := range sel.MatchExpressions {
		if e.Key == "kubernetes.io/metadata.name" && e.Operator == "NotIn" && slices.Contains(e.Values, name) {
			return true
		}
	}
	return false
}

// TestCertificateIsIssuedByACAChain: the serving certificate is signed by a CA Issuer whose CA
// is a Certificate of its own, so a renewal of the serving certificate never changes the CA
// bundle the apiserver trusts.
func TestCertificateIsIssuedByACAChain(t *testing.T) {
	r := overlay(t, "ops", setImage)
	issuerOf := func(cert *unstructured.Unstructured) *unstructured.Unstructured {
		kind, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "kind")
		name, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name")
		if kind != "Issuer" || r["Issuer/"+name] == nil {
			t.Fatalf("%s is issued by %s %s, which is not an Issuer in the install", cert.GetName(), kind, name)
		}
		return r["Issuer/"+name]
	}
	serving := r["Certificate/argo-eci-webhook"]
	caIssuer := issuerOf(serving)
	caSecret, ok, _ := unstructured.NestedString(caIssuer.Object, "spec", "ca", "secretName")
	if !ok {
		t.Fatalf("the serving certificate's Issuer %s is not a CA Issuer", caIssuer.GetName())
	}
	var caCert *unstructured.Unstructured
	for _, u := range r {
		if s, _, _ := unstructured.NestedString(u.Object, "spec", "secretName"); u.GetKind() == "Certificate" && s == caSecret {
			caCert = u
		}
	}
	if caCert == nil {
		t.Fatalf("no Certificate writes the CA Secret %s", caSecret)
	}
	if isCA, _, _ := unstructured.NestedBool(caCert.Object, "spec", "isCA"); !isCA {
		t.Errorf("Certificate %s is not a CA", caCert.GetName())
	}
	if _, ok, _ := unstructured.NestedMap(issuerOf(caCert).Object, "spec", "selfSigned"); !ok {
		t.Errorf("the CA is not issued by a self-signed Issuer")
	}
}

// TestImageIsSetInOnePlace: the install names a placeholder image that cannot be pulled; an
// overlay's `images` replaces it everywhere, and no rendered overlay names :latest or the
// placeholder.
func TestImageIsSetInOnePlace(t *testing.T) {
	images := func(r rendered) []string {
		var out []string
		for _, u := range r {
			if u.GetKind() != "Deployment" {
				continue
			}
			d := as[appsv1.Deployment](t, r, u.GetKind()+"/"+u.GetName())
			for _, c := range append(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers...) {
				out = append(out, c.Image)
			}
		}
		return out
	}
	for _, img := range images(build(t, ".")) {
		if !strings.HasPrefix(img, "argo-eci.invalid/") {
			t.Errorf("base image %s: want the placeholder argo-eci.invalid/argo-eci", img)
		}
	}
	for _, img := range images(overlay(t, "ops", setImage)) {
		if strings.HasSuffix(img, ":latest") || !strings.Contains(img, ":") || strings.Contains(img, "argo-eci.invalid") {
			t.Errorf("rendered overlay image %s: want the image set by the overlay, never :latest or the placeholder", img)
		}
	}
}

// TestWebhookConfigurationBlastRadius: what reaches the webhook and in which order.
func TestWebhookConfigurationBlastRadius(t *testing.T) {
	r := overlay(t, "ops", setImage)
	mwc := as[admissionregistrationv1.MutatingWebhookConfiguration](t, r, "MutatingWebhookConfiguration/0-argo-eci")
	byName := map[string]admissionregistrationv1.MutatingWebhook{}
	for _, w := range mwc.Webhooks {
		byName[w.Name] = w
		if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Fail {
			t.Errorf("%s: failurePolicy %v, want Fail (no pod unshaped)", w.Name, w.FailurePolicy)
		}
		if !optedOut(w.NamespaceSelector) {
			t.Errorf("%s: namespaces labelled argo-eci.io/webhook=disabled are not left out", w.Name)
		}
	}
	// The apiserver calls mutating webhooks sorted by configuration name: argo-eci goes first,
	// so ACK's ECI admission, Fluid's injector and meshes all see its label and annotations.
	for _, other := range []string{"ack-virtual-node-affinity-admission-controller", "aliyun-eci-webhook",
		"fluid-pod-admission-webhook", "istio-sidecar-injector", "1-anything", "argo-eci"} {
		if !(mwc.Name < other) {
			t.Errorf("configuration %s does not sort before %s", mwc.Name, other)
		}
	}
	pods := byName["pods.argo-eci.io"]
	if pods.ReinvocationPolicy == nil || *pods.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
		t.Errorf("pods webhook: reinvocationPolicy %v, want IfNeeded so sidecars added after it are billed", pods.ReinvocationPolicy)
	}
	wf := byName["workflows.argo-eci.io"]
	if len(wf.MatchConditions) == 0 {
		t.Fatal("workflows webhook has no matchConditions: it sees every CronWorkflow status write")
	}
	for _, tc := range []struct {
		name      string
		op        string
		old, obj  map[string]any
		wantMatch bool
	}{
		{"create", "CREATE", nil, map[string]any{"spec": map[string]any{"schedules": []any{"0 1 * * *"}}}, true},
		{"cron controller writes status", "UPDATE",
			map[string]any{"spec": map[string]any{"schedules": []any{"0 1 * * *"}}, "status": map[string]any{"active": []any{}}},
			map[string]any{"spec": map[string]any{"schedules": []any{"0 1 * * *"}}, "status": map[string]any{"active": []any{"x"}}}, false},
		{"user changes the spec", "UPDATE",
			map[string]any{"spec": map[string]any{"schedules": []any{"0 1 * * *"}}},
			map[string]any{"spec": map[string]any{"schedules": []any{"0 2 * * *"}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, mc := range wf.MatchConditions {
				if got := evalCondition(t, mc.Expression, tc.op, tc.obj, tc.old); got != tc.wantMatch {
					t.Errorf("%s = %v, want %v", mc.Name, got, tc.wantMatch)
				}
			}
		})
	}
}

func optedOut(sel *metav1.LabelSelector) bool {
	if sel == nil {
		return false
	}
	for _, e := range sel.MatchExpressions {
		if e.Key == "argo-eci.io/webhook" && e.Operator == "NotIn" && slices.Contains(e.Values, "disabled") {
			return true
		}
	}
	return false
}

// evalCondition evaluates a matchCondition with the variables the apiserver provides.
func evalCondition(t *testing.T, expr, op string, obj, old map[string]any) bool {
	t.Helper()
	env, err := cel.NewEnv(cel.Variable("request", cel.DynType), cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType), cel.Variable("authorizer", cel.DynType))
	if err != nil {
		t.Fatal(err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatalf("matchCondition %q: %v", expr, iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		t.Fatal(err)
	}
	var oldv any = old
	if old == nil {
		oldv = nil
	}
	out, _, err := prg.Eval(map[string]any{"request": map[string]any{"operation": op}, "object": obj, "oldObject": oldv, "authorizer": nil})
	if err != nil {
		t.Fatalf("matchCondition %q: %v", expr, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		t.Fatalf("matchCondition %q is not a bool: %v", expr, out)
	}
	return b
}

// TestProductionSettings: probes with explicit timeouts, a memory limit for the Go runtime
// below the container's, a priority class that exists, and spread over nodes and zones.
func TestProductionSettings(t *testing.T) {
	r := overlay(t, "ops", setImage)
	dep := as[appsv1.Deployment](t, r, "Deployment/argo-eci-webhook")
	spec := dep.Spec.Template.Spec
	if _, ok := r["PriorityClass/"+spec.PriorityClassName]; spec.PriorityClassName == "" || !ok {
		t.Errorf("priorityClassName %q: want one defined by the install", spec.PriorityClassName)
	}
	var zones bool
	for _, c := range spec.TopologySpreadConstraints {
		zones = zones || c.TopologyKey == corev1.LabelTopologyZone
	}
	if !zones {
		t.Error("the webhook is not spread over zones")
	}
	c := spec.Containers[0]
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.TimeoutSeconds == 0 {
			t.Errorf("%s probe without an explicit timeout", name)
		}
	}
	var memLimit string
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			memLimit = e.Value
		}
	}
	limit := c.Resources.Limits[corev1.ResourceMemory]
	goLimit, err := resource.ParseQuantity(strings.TrimSuffix(memLimit, "B"))
	if err != nil || memLimit == "" {
		t.Fatalf("GOMEMLIMIT %q: want a size below the memory limit", memLimit)
	}
	if goLimit.Cmp(limit) >= 0 || goLimit.Value() > limit.Value()*9/10 {
		t.Errorf("GOMEMLIMIT %s: want at most 90%% of the memory limit %s", memLimit, limit.String())
	}
	var drain, shutdown time.Duration
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--drain-delay="); ok {
			drain, _ = time.ParseDuration(v)
		}
		if v, ok := strings.CutPrefix(a, "--shutdown-timeout="); ok {
			shutdown, _ = time.ParseDuration(v)
		}
	}
	if drain < 5*time.Second {
		t.Errorf("--drain-delay %v: want the webhook to keep answering while its endpoint is removed", drain)
	}
	if grace := spec.TerminationGracePeriodSeconds; grace == nil || time.Duration(*grace)*time.Second <= drain+shutdown {
		t.Errorf("terminationGracePeriodSeconds %v: want more than the drain delay %v plus the shutdown %v", grace, drain, shutdown)
	}
}
