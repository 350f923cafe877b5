//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/argoproj/argo-workflows/v4/workflow/common"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/test/cluster"
)

var cronWorkflows = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "cronworkflows"}

// registerInstalled registers the webhooks exactly as manifests/install ships them (selectors,
// matchConditions, reinvocation), calling w by URL and narrowed to namespace ns.
func registerInstalled(t *testing.T, c *cluster.Cluster, w *runningWebhook, ns string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(c.Root, "manifests", "install", "mutatingwebhook.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := yaml.UnmarshalStrict(data, mwc); err != nil {
		t.Fatal(err)
	}
	mwc.ObjectMeta = metav1.ObjectMeta{Name: "argo-eci-installed-" + ns}
	for i := range mwc.Webhooks {
		h := &mwc.Webhooks[i]
		url := "https://" + w.addr + *h.ClientConfig.Service.Path
		h.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: w.CABundle}
		h.NamespaceSelector.MatchExpressions = append(h.NamespaceSelector.MatchExpressions,
			metav1.LabelSelectorRequirement{Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpIn, Values: []string{ns}})
	}
	api := c.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations()
	if _, err := api.Create(context.Background(), mwc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("registering the installed webhooks: %v", err)
	}
	t.Cleanup(func() { _ = api.Delete(context.Background(), mwc.Name, metav1.DeleteOptions{}) })
	waitShaped(t, c, ns, true)
}

// waitShaped waits until a dry-run Argo pod in ns comes back shaped (or, with want false, unshaped).
func waitShaped(t *testing.T, c *cluster.Cluster, ns string, want bool) {
	t.Helper()
	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns,
			Labels:      map[string]string{common.LabelKeyWorkflow: "probe"},
			Annotations: map[string]string{common.AnnotationKeyNodeID: "probe"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "alpine:3.20"}}},
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, err := c.Kube.CoreV1().Pods(ns).Create(context.Background(), probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil && (out.Annotations[emissary.AnnotationShapedBy] != "") == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a dry-run Argo pod is never shaped=%v (last error %v)", want, err)
		}
	}
}

// workflowReviews is the number of reviews the workflows endpoint has answered.
func workflowReviews(t *testing.T, w *runningWebhook) float64 {
	t.Helper()
	families, err := w.server.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != "argo_eci_webhook_reviews_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" && l.GetValue() == "workflows" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// TestInstalledWebhookConfiguration runs the shipped webhook configuration against the real
// apiserver: a CronWorkflow that still carries v3.5's singular schedule and mutex (fields Argo v4's
// types no longer have; its CRD requires schedules) keeps them through the webhook, a
// write that does not change the spec (as the cron controller makes on every run) never reaches
// the webhook, and a namespace labelled argo-eci.io/webhook=disabled is left alone.
func TestInstalledWebhookConfiguration(t *testing.T) {
	c := cluster.Get(t)
	ns := c.Namespace(t)
	w := startWebhook(t, c, ns)
	ctx := context.Background()
	cron := &unstructured.Unstructured{}
	if err := json.Unmarshal([]byte(`{"apiVersion":"argoproj.io/v1alpha1","kind":"CronWorkflow",
"metadata":{"name":"v35"},
"spec":{"schedules":["0 1 * * *"],"schedule":"0 1 * * *","workflowSpec":{"entrypoint":"main","synchronization":{"mutex":{"name":"v35"}},
 "templates":[{"name":"main","container":{"image":"alpine:3.20","command":["true"],"resources":{"requests":{"cpu":"1","memory":"1Gi"}}}}]}}}`), &cron.Object); err != nil {
		t.Fatal(err)
	}
	api := c.Dynamic.Resource(cronWorkflows).Namespace(ns)
	// What the apiserver itself keeps (its CRD schema may prune fields), before any webhook.
	control, err := api.Create(ctx, cron, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	registerInstalled(t, c, w, ns)
	before := workflowReviews(t, w)
	created, err := api.Create(ctx, cron, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if workflowReviews(t, w) != before+1 {
		t.Errorf("the CronWorkflow CREATE did not reach the webhook")
	}
	for _, path := range [][]string{{"spec", "schedule"}, {"spec", "workflowSpec", "synchronization", "mutex", "name"}} {
		want, _, _ := unstructured.NestedString(control.Object, path...)
		got, _, _ := unstructured.NestedString(created.Object, path...)
		if got != want {
			t.Errorf("%v = %q through the webhook, %q without it", path, got, want)
		}
	}

	// A write that leaves the spec alone, as the cron controller's on every scheduled run.
	before = workflowReviews(t, w)
	if _, err := api.Patch(ctx, "v35", types.MergePatchType, []byte(`{"metadata":{"labels":{"run":"1"}},"status":{"lastScheduledTime":"2026-11-26T01:00:00Z"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := workflowReviews(t, w); n != before {
		t.Errorf("a write without a spec change reached the webhook (%v reviews, want %v)", n, before)
	}
	// A spec change does.
	if _, err := api.Patch(ctx, "v35", types.MergePatchType, []byte(`{"spec":{"suspend":true}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := workflowReviews(t, w); n != before+1 {
		t.Errorf("a spec change: %v reviews, want %v", n, before+1)
	}

	// The opt-out label.
	nsAPI := c.Kube.CoreV1().Namespaces()
	if _, err := nsAPI.Patch(ctx, ns, types.MergePatchType, []byte(`{"metadata":{"labels":{"argo-eci.io/webhook":"disabled"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitShaped(t, c, ns, false)
	if _, err := nsAPI.Patch(ctx, ns, types.MergePatchType, []byte(`{"metadata":{"labels":{"argo-eci.io/webhook":null}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitShaped(t, c, ns, true)
}
