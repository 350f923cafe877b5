package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/cost"
)

func newCostCmd() *cobra.Command {
	var (
		namespace, output, kubeconfig string
		spotRatio                     float64
	)
	cmd := &cobra.Command{
		Use:   "cost [-n NAMESPACE] [WORKFLOW] [-o table|json]",
		Short: "What workflows cost on ECI: billed spec, spot or on-demand, seconds, CNY",
		Long: `Read the pods of a workflow (or of every workflow in the namespace) and their Workflow's node
statuses, and print per workflow and per template: the billed specs ECI wrote back
(k8s.aliyun.com/eci-instance-spec), spot and on-demand attempts, seconds billed (instance creation to
the last container's end), CNY at list price and as billed (spot at --spot-ratio of list), with
retries and failed (wasted) attempts counted apart. Pods that got no instance (stock-outs) cost
nothing. ECS instance types are priced at the vCPU/memory list rate for their size.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return &exitError{code: 2, err: fmt.Errorf("-o: expected table or json, got %q", output)}
			}
			prices := cost.Prices{SpotRatio: spotRatio}
			if errs := prices.Validate(field.NewPath("--spot-ratio")); len(errs) > 0 {
				return &exitError{code: 2, err: &badinput.Error{Errs: errs}}
			}
			kube, wfs, ns, err := costClients(kubeconfig, namespace)
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			attempts, err := collectAttempts(cmd.Context(), kube, wfs, ns, name, time.Now())
			if err != nil {
				return err
			}
			return writeCost(cmd.OutOrStdout(), cost.Summarize(attempts, prices), output)
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default: the kubeconfig context's)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)")
	cmd.Flags().Float64Var(&spotRatio, "spot-ratio", cost.DefaultPrices().SpotRatio, "spot price as a fraction of the list price (0.1..0.7)")
	return cmd
}

func costClients(kubeconfig, namespace string) (kubernetes.Interface, versioned.Interface, string, error) {
	cc := kubeClientConfig(kubeconfig)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, nil, "", fmt.Errorf("kubernetes client config: %w", err)
	}
	cfg.UserAgent = "argo-eci-cost/" + version
	if namespace == "" {
		if namespace, _, err = cc.Namespace(); err != nil {
			return nil, nil, "", err
		}
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, "", err
	}
	wfs, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, nil, "", err
	}
	return kube, wfs, namespace, nil
}

// collectAttempts reads the workflow pods of ns (of workflow name only, when set) and the
// Workflows they belong to.
func collectAttempts(ctx context.Context, kube kubernetes.Interface, wfs versioned.Interface, ns, name string, now time.Time) ([]cost.Attempt, error) {
	selector := common.LabelKeyWorkflow
	if name != "" {
		selector += "=" + name
	}
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s: %w", ns, err)
	}
	workflows := map[string]*wfv1.Workflow{}
	listed := map[string]bool{}
	var out []cost.Attempt
	for i := range pods.Items {
		pod := &pods.Items[i]
		wfName := pod.Labels[common.LabelKeyWorkflow]
		wf, seen := workflows[wfName]
		if !seen {
			wf, err = wfs.ArgoprojV1alpha1().Workflows(ns).Get(ctx, wfName, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				wf, err = nil, nil
			}
			if err != nil {
				return nil, fmt.Errorf("get workflow %s/%s: %w", ns, wfName, err)
			}
			workflows[wfName] = wf
		}
		out = append(out, cost.FromPod(pod, wf, now))
		listed[wfName+"/"+pod.Annotations[common.AnnotationKeyNodeID]] = true
	}
	out = append(out, goneAttempts(workflows, listed)...)
	if name != "" && len(out) == 0 {
		return nil, fmt.Errorf("workflow %s/%s has no pods", ns, name)
	}
	return out, nil
}

// goneAttempts are the finished pod nodes of workflows whose pods were deleted (evictions).
func goneAttempts(workflows map[string]*wfv1.Workflow, seen map[string]bool) []cost.Attempt {
	var out []cost.Attempt
	for name, wf := range workflows {
		if wf == nil {
			continue
		}
		for id, n := range wf.Status.Nodes {
			if n.Type == wfv1.NodeTypePod && n.Fulfilled() && !seen[name+"/"+id] {
				out = append(out, cost.FromNode(wf, n))
			}
		}
	}
	return out
}

func writeCost(w io.Writer, r cost.Report, output string) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return cost.WriteTable(w, r)
}
