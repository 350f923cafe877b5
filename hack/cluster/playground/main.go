// Command playground runs the stand-ins of `make cluster-up` beside the local control plane until
// SIGTERM: the OSS test server (artifacts/osstest) on 127.0.0.1, reachable from the kubelet node's
// pods at 198.19.255.254:PORT, and the Fluid/ECI status simulator (dataset/fluidsim) for each
// playground namespace (the first one also plays ECI's ImageCache controller for every ImageCache);
// and, for the namespaces whose pods kwok simulates, the work of Argo's agent pods (agents.go).
// hack/cluster/playground.sh starts it and points the workflow-controller's default artifact
// repository at the OSS server.
//
// Usage: playground --kubeconfig FILE --bucket NAME --namespaces a,b --agent-namespaces a
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/argo-eci/argo-eci/internal/fluidsim"
	"github.com/argo-eci/argo-eci/internal/osstest"
	"github.com/argo-eci/argo-eci/test/cluster"
)

func main() {
	// A flag set of its own: controller-runtime (imported through test/cluster) registers its own
	// -kubeconfig on flag.CommandLine when it is initialised.
	flags := flag.NewFlagSet("playground", flag.ExitOnError)
	kubeconfig := flags.String("kubeconfig", ".cache/state/kubeconfig", "admin kubeconfig of the local cluster")
	bucket := flags.String("bucket", "argo-artifacts", "bucket the OSS test server creates")
	namespaces := flags.String("namespaces", "default", "comma-separated namespaces the Fluid/ECI simulator serves")
	agents := flags.String("agent-namespaces", "", "comma-separated namespaces on the kwok node whose agent pods this process plays")
	_ = flags.Parse(os.Args[1:])
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, *kubeconfig, *bucket, strings.Split(*namespaces, ","), splitList(*agents), log); err != nil {
		log.Error("playground failed", "err", err)
		os.Exit(1)
	}
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func run(ctx context.Context, kubeconfig, bucket string, namespaces, agentNamespaces []string, log *slog.Logger) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	scheme, err := cluster.Scheme()
	if err != nil {
		return err
	}
	kube, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	oss, err := osstest.Start(osstest.Options{Buckets: []string{bucket}})
	if err != nil {
		return err
	}
	defer oss.Close()
	podAddr, remove, err := cluster.ExposeToPods(strings.TrimPrefix(oss.URL, "http://"))
	if err != nil {
		return err
	}
	defer func() {
		if err := remove(); err != nil {
			log.Error("removing the DNAT rule failed", "err", err)
		}
	}()
	// playground.sh reads this line to configure the controller's artifact repository.
	fmt.Printf("oss endpoint=http://%s bucket=%s region=%s accessKeyID=%s accessKeySecret=%s\n",
		podAddr, bucket, oss.Region(), oss.AccessKeyID(), oss.AccessKeySecret())
	var stops []func() error
	for i, ns := range namespaces {
		script := fluidsim.Script{BindAfter: 2 * time.Second, PVC: true, Load: fluidsim.LoadPlan{Duration: 10 * time.Second}}
		if i == 0 { // ImageCaches are cluster-scoped: one simulator plays them
			script.AnyImageCache = &fluidsim.CachePlan{ReadyAfter: 5 * time.Second}
		}
		stops = append(stops, cluster.RunSimulator(fluidsim.New(kube, ns, script)))
		log.Info("simulator running", "namespace", ns)
	}
	agentsDone := make(chan error, len(agentNamespaces))
	for _, ns := range agentNamespaces {
		go func() {
			err := runAgents(ctx, cfg, ns, log)
			if err != nil {
				log.Error("playing the agent pods stopped", "namespace", ns, "err", err)
			}
			agentsDone <- err
		}()
		log.Info("playing the agent pods", "namespace", ns)
	}
	<-ctx.Done()
	var errs []error
	for range agentNamespaces {
		errs = append(errs, <-agentsDone)
	}
	for _, s := range stops {
		if err := s(); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
