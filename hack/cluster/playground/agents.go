package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/argo-eci/argo-eci/dataset"
	"github.com/argo-eci/argo-eci/imagecache"
	"github.com/argo-eci/argo-eci/plugin"
	"github.com/argo-eci/argo-eci/test/cluster"
)

// agentPoll is how often the WorkflowTaskSets of a kwok namespace are listed.
const agentPoll = time.Second

// runAgents does the work of the agent pods of namespace ns, whose pods kwok only marks Running:
// for every WorkflowTaskSet there, Argo's own agent code runs in this process as ServiceAccount
// argo-eci-agent and calls argo-eci's executor-plugin handler, served here on 127.0.0.1 with the
// sidecar's ServiceAccount (argo-eci-executor-plugin) and RBAC. It returns when ctx ends.
func runAgents(ctx context.Context, admin *rest.Config, ns string, log *slog.Logger) error {
	url, token, stopPlugin, err := servePlugin(admin, ns)
	if err != nil {
		return err
	}
	defer stopPlugin()
	wfs, err := versioned.NewForConfig(admin)
	if err != nil {
		return err
	}
	agentCfg := cluster.ImpersonateConfig(admin, ns, plugin.AgentServiceAccount)
	running := map[string]func() error{} // workflow name → its agent's stop
	defer func() {
		for _, stop := range running {
			_ = stop()
		}
	}()
	for ticker := time.NewTicker(agentPoll); ; {
		select {
		case <-ctx.Done():
			ticker.Stop()
			return nil
		case <-ticker.C:
		}
		sets, err := wfs.ArgoprojV1alpha1().WorkflowTaskSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			log.Warn("listing WorkflowTaskSets failed", "namespace", ns, "err", err)
			continue
		}
		live := map[string]bool{}
		for _, ts := range sets.Items {
			live[ts.Name] = true
			if running[ts.Name] != nil {
				continue
			}
			wf, err := wfs.ArgoprojV1alpha1().Workflows(ns).Get(ctx, ts.Name, metav1.GetOptions{})
			if err != nil {
				log.Warn("reading the WorkflowTaskSet's Workflow failed", "namespace", ns, "workflow", ts.Name, "err", err)
				continue
			}
			if running[ts.Name], err = cluster.RunAgent(agentCfg, wf, url, token); err != nil {
				return err
			}
			log.Info("agent started", "namespace", ns, "workflow", ts.Name)
		}
		for name, stop := range running {
			if !live[name] { // the controller deletes the task set with its workflow
				_ = stop()
				delete(running, name)
			}
		}
	}
}

// servePlugin serves argo-eci's executor-plugin handler as the sidecar would run in namespace ns.
func servePlugin(admin *rest.Config, ns string) (url, token string, stop func(), err error) {
	scheme, err := cluster.Scheme()
	if err != nil {
		return "", "", nil, err
	}
	kube, err := client.New(cluster.ImpersonateConfig(admin, ns, "argo-eci-executor-plugin"), client.Options{Scheme: scheme})
	if err != nil {
		return "", "", nil, err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", "", nil, err
	}
	token = hex.EncodeToString(b)
	srv := &plugin.Server{Token: []byte(token), Datasets: &dataset.Manager{Client: kube}, ImageCaches: &imagecache.Manager{Client: kube}}
	url, stop, err = cluster.ServeHTTP(srv.Handler())
	return url, token, stop, err
}
