//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/argoproj/argo-workflows/v4/workflow/common"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/test/cluster"
	"github.com/argo-eci/argo-eci/webhook"
)

// sidecarInjector is a mutating webhook that adds an 8 vCPU / 32 GiB "fake-fuse" container to
// every pod it sees, the way Fluid's FUSE sidecar injector or a mesh does, served over HTTPS on
// 127.0.0.1 until the test ends. It returns its address and CA bundle.
func sidecarInjector(t *testing.T) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	ca, err := webhook.SelfSigned(dir, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(dir+"/"+webhook.CertFile, dir+"/"+webhook.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	sidecar := corev1.Container{Name: "fake-fuse", Image: "registry.k8s.io/pause:3.10",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi")}}}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		in := &admissionv1.AdmissionReview{}
		if err := json.Unmarshal(body, in); err != nil || in.Request == nil {
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		pod := &corev1.Pod{}
		_ = json.Unmarshal(in.Request.Object.Raw, pod)
		resp := &admissionv1.AdmissionResponse{UID: in.Request.UID, Allowed: true}
		has := false
		for _, c := range pod.Spec.Containers {
			has = has || c.Name == sidecar.Name
		}
		if !has {
			patch, _ := json.Marshal([]map[string]any{{"op": "add", "path": "/spec/containers/-", "value": sidecar}})
			pt := admissionv1.PatchTypeJSONPatch
			resp.Patch, resp.PatchType = patch, &pt
		}
		out, _ := json.Marshal(&admissionv1.AdmissionReview{TypeMeta: in.TypeMeta, Response: resp})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), ca
}

// TestReinvocationCoversInjectedSidecar: with the shipped configuration (argo-eci first,
// reinvocationPolicy IfNeeded) and a sidecar injector that runs after it, the pod the apiserver
// admits has an ECI spec that covers the injected container.
func TestReinvocationCoversInjectedSidecar(t *testing.T) {
	c := cluster.Get(t)
	ns := c.Namespace(t)
	w := startWebhook(t, c, ns)
	registerInstalled(t, c, w, ns)
	addr, ca := sidecarInjector(t)
	url := "https://" + addr + "/inject"
	injector := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "zz-sidecar-" + ns},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "sidecar.e2e.argo-eci.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
			ObjectSelector:          &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: common.LabelKeyWorkflow, Operator: metav1.LabelSelectorOpExists}}},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			ReinvocationPolicy:      ptr.To(admissionregistrationv1.NeverReinvocationPolicy),
		}},
	}
	api := c.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations()
	if _, err := api.Create(context.Background(), injector, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Delete(context.Background(), injector.Name, metav1.DeleteOptions{}) })

	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "reinvoke", Namespace: ns,
			Labels:      map[string]string{common.LabelKeyWorkflow: "reinvoke"},
			Annotations: map[string]string{common.AnnotationKeyNodeID: "reinvoke"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "alpine:3.20",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("2Gi")}}}}},
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, err := c.Kube.CoreV1().Pods(ns).Create(context.Background(), probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil && len(out.Spec.Containers) == 2 {
			specs, err := eci.ParseSpecList(out.Annotations[eci.AnnotationUseSpecs])
			if err != nil || len(specs) == 0 {
				t.Fatalf("eci-use-specs %q: %v", out.Annotations[eci.AnnotationUseSpecs], err)
			}
			if !specs[0].Covers(9000, 34*1024) {
				t.Errorf("first spec %s does not cover main (1 vCPU/2Gi) plus the injected sidecar (8 vCPU/32Gi)", specs[0])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the injector never ran (last error %v)", err)
		}
	}
}
