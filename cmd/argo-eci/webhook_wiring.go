package main

import (
	"context"
	"fmt"
	"log/slog"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/argo-eci/argo-eci/sizing"
	"github.com/argo-eci/argo-eci/webhook"
)

// startSizingAndCost starts the watches the profiles' sizing: learned and the cost counters
// need: the argo-eci-sizing ConfigMap (skipped with a warning when the webhook may not read it,
// so an install without that grant keeps running on declared specs) and, with --cost-metrics, a
// watch of Argo's pods (which needs list and watch on pods).
func startSizingAndCost(ctx context.Context, log *slog.Logger, server *webhook.Server, kube kubernetes.Interface, f *webhookFlags) error {
	if f.sizingCM != "" {
		_, err := kube.CoreV1().ConfigMaps(f.namespace).Get(ctx, f.sizingCM, metav1.GetOptions{})
		switch {
		case apierrors.IsForbidden(err):
			log.Warn("cannot read the sizing ConfigMap; profiles with sizing: learned use declared specs",
				"configmap", f.namespace+"/"+f.sizingCM, "error", err)
		case err != nil && !apierrors.IsNotFound(err):
			return fmt.Errorf("reading ConfigMap %s/%s: %w", f.namespace, f.sizingCM, err)
		default:
			src := &webhook.SizingConfigMap{Client: kube, Namespace: f.namespace, Name: f.sizingCM, Store: server.Engines.Sizing, Logger: log}
			if err := src.Start(ctx); err != nil {
				return err
			}
		}
	}
	if !f.costMetrics {
		return nil
	}
	w := &webhook.CostWatch{Client: kube, Namespaces: f.workflowNS, Workflows: server.Workflows, Metrics: server.Metrics}
	return w.Start(ctx)
}

// newSizingStore is the store the engines read learned specs from (filled by startSizingAndCost).
func newSizingStore() *sizing.Store { return &sizing.Store{} }

// defaultSizingConfigMap is the ConfigMap `argo-eci recommend --apply` writes.
const defaultSizingConfigMap = sizing.ConfigMapName
