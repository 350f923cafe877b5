// Command eci-simulator is a test stand-in for Alibaba Cloud ECI on the local control plane: it
// plays ECI's side (stock, written-back specs, ProviderFailed, spot reclaims, OOMKills) for pods on
// kwok virtual nodes annotated eci-simulator.argo-eci.io/managed=true. It is not part of argo-eci.
//
//	eci-simulator --kubeconfig FILE [--namespace kube-system] [--config FILE] [--seed N]
//
// Only the holder of the Lease eci-simulator in --namespace plays ECI, so a second simulator (one
// inside a test binary) waits instead of playing the same pods twice. The simulated region is the ConfigMap eci-simulator (key config.yaml) in --namespace, or in a
// pod's own namespace; --config writes FILE into the first at start.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/argo-eci/argo-eci/internal/ecisim"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster")
	namespace := flag.String("namespace", "kube-system", "namespace of the fallback eci-simulator ConfigMap")
	configFile := flag.String("config", "", "write this YAML file into the fallback ConfigMap at start")
	seed := flag.Uint64("seed", 1, "seed for VSwitchRandom")
	workers := flag.Int("workers", 4, "pods handled at once")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *kubeconfig, *namespace, *configFile, *seed, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "eci-simulator:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, kubeconfig, namespace, configFile string, seed uint64, workers int) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst, cfg.UserAgent = 100, 200, "eci-simulator"
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if configFile != "" {
		data, err := os.ReadFile(configFile)
		if err != nil {
			return err
		}
		if err := ecisim.WriteConfig(ctx, kube, namespace, data); err != nil {
			return err
		}
	}
	host, _ := os.Hostname()
	sim := &ecisim.Simulator{Kube: kube, Namespace: namespace, Logger: log, Seed: seed, Workers: workers}
	return sim.RunElected(ctx, fmt.Sprintf("eci-simulator-%s-%d", host, os.Getpid()))
}
