package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/argo-eci/argo-eci/dataset"
	"github.com/argo-eci/argo-eci/imagecache"
	"github.com/argo-eci/argo-eci/internal/requeue"
	"github.com/argo-eci/argo-eci/plugin"
)

// pluginFlags are the flags of `argo-eci plugin`.
type pluginFlags struct {
	listen          string
	tokenFile       string
	kubeconfig      string
	minRequeue      time.Duration
	maxRequeue      time.Duration
	settle          time.Duration
	stuck           time.Duration
	maxBodyBytes    int64
	shutdownTimeout time.Duration
}

func newPluginCmd() *cobra.Command {
	f := &pluginFlags{}
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Argo executor-plugin server (template.execute)",
		Long: `Serve Argo's executor-plugin protocol for templates with plugin: {argo-eci: ...}.

It runs as the sidecar of Argo's agent pod (ConfigMap argo-eci-executor-plugin) and answers
POST /api/v1/template.execute with the bearer token from --token-file. Template kinds:
dataset (Fluid Dataset + JindoRuntime + DataLoad warm-up) and imageCache (ECI ImageCache).
Kubernetes access uses --kubeconfig, else $KUBECONFIG or ~/.kube/config, else the in-cluster
ServiceAccount (argo-eci-executor-plugin).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := commandLogger(cmd)
			if err != nil {
				return err
			}
			return runPlugin(cmd.Context(), log, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", ":4355", "address to serve template.execute on (use 127.0.0.1:4355 in the agent pod)")
	fl.StringVar(&f.tokenFile, "token-file", "/var/run/argo/token", "file holding the agent's bearer token")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)")
	fl.DurationVar(&f.minRequeue, "min-requeue", dataset.DefaultRequeue.Min, "first polling interval of a dataset warm-up")
	fl.DurationVar(&f.maxRequeue, "max-requeue", dataset.DefaultRequeue.Max, "longest polling interval of a dataset warm-up (its latency once Fluid reports Complete)")
	fl.DurationVar(&f.settle, "cache-settle", dataset.DefaultSettle, "how long a Complete DataLoad whose cache looks short waits for Fluid's next cache-state refresh")
	fl.DurationVar(&f.stuck, "stuck", dataset.DefaultStuck, "how long an Executing DataLoad whose cache already meets the minimum may stay Executing before the warm-up succeeds (fluid#4287)")
	fl.Int64Var(&f.maxBodyBytes, "max-body-bytes", plugin.DefaultMaxBodyBytes, "largest accepted request body")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 5*time.Second, "grace period for in-flight calls on SIGTERM")
	return cmd
}

func runPlugin(ctx context.Context, log *slog.Logger, f *pluginFlags) error {
	if f.minRequeue <= 0 || f.maxRequeue < f.minRequeue {
		return &exitError{code: 2, err: errors.New("--min-requeue must be positive and not above --max-requeue")}
	}

	token, err := os.ReadFile(f.tokenFile)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("read --token-file: %w", err)}
	}
	token = []byte(strings.TrimSpace(string(token)))
	if len(token) == 0 {
		return &exitError{code: 1, err: fmt.Errorf("--token-file %s is empty", f.tokenFile)}
	}

	cfg, err := kubeConfig(f.kubeconfig, "argo-eci-plugin")
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	cfg.QPS, cfg.Burst = 20, 40
	cfg.Timeout = 15 * time.Second

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := fluidv1.AddToScheme(scheme); err != nil {
		return err
	}
	kube, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("kubernetes client: %w", err)}
	}

	srv := &plugin.Server{
		Token: token,
		Datasets: &dataset.Manager{
			Client:  kube,
			Requeue: requeue.Policy{Min: f.minRequeue, Max: f.maxRequeue},
			Settle:  f.settle,
			Stuck:   f.stuck,
		},
		ImageCaches:     &imagecache.Manager{Client: kube},
		Logger:          log,
		MaxBodyBytes:    f.maxBodyBytes,
		ShutdownTimeout: f.shutdownTimeout,
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("listen %s: %w", f.listen, err)}
	}
	log.Info("argo-eci plugin serving", "address", ln.Addr().String(), "version", version)
	if err := srv.Serve(ctx, ln); err != nil {
		return &exitError{code: 1, err: err}
	}
	log.Info("argo-eci plugin stopped")
	return nil
}
