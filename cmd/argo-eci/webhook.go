package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/go-logr/logr"
	"log/slog"
	"net"
	"os"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"strings"
	"time"

	"github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/argo-eci/argo-eci/webhook"
)

// webhookFlags are the flags of `argo-eci webhook`.
type webhookFlags struct {
	listen           string
	tlsCertDir       string
	selfSignedDir    string
	selfSignedHosts  []string
	selfSignedOnly   bool
	kubeconfig       string
	namespace        string
	profilesFile     string
	profilesCM       string
	workflowNS       string
	maxRequestBytes  int64
	certPollInterval time.Duration
	shutdownTimeout  time.Duration
	logJSON          bool
}

func newWebhookCmd() *cobra.Command {
	f := &webhookFlags{}
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "HTTPS mutating admission webhook for Argo pods and workflows",
		Long: `Serve the mutating admission webhook that shapes Argo pods and workflows for ECI.

Endpoints: POST /mutate/pods (workflow, agent and artifact-GC pods; every other pod is
allowed untouched), POST /mutate/workflows (Workflow, CronWorkflow, WorkflowTemplate),
GET /healthz, /readyz (profiles loaded and informers synced), /metrics.

TLS: in a cluster, let cert-manager issue the serving certificate into a Secret mounted at
--tls-cert-dir (tls.crt, tls.key) and inject the caBundle into the
MutatingWebhookConfiguration; the files are reloaded when they change. For local clusters and
tests, --self-signed-dir DIR generates a CA and a serving certificate for --self-signed-hosts
into DIR (kept if already there), prints the base64 caBundle on stdout and serves with it.

Register both webhooks with failurePolicy: Fail, so that no pod is ever created unshaped while
the webhook is unavailable (Argo's controller retries pod creation).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWebhook(cmd.Context(), cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", ":9443", "HTTPS listen address")
	fl.StringVar(&f.tlsCertDir, "tls-cert-dir", "/etc/argo-eci/tls",
		"directory with tls.crt and tls.key (a cert-manager Secret mount), reloaded on change")
	fl.StringVar(&f.selfSignedDir, "self-signed-dir", "",
		"generate a CA and serving certificate into this directory (if absent), print the caBundle and serve with it; for local clusters and tests — use cert-manager in real clusters")
	fl.StringSliceVar(&f.selfSignedHosts, "self-signed-hosts", []string{"127.0.0.1", "localhost"},
		"DNS names and IPs of the self-signed serving certificate (e.g. argo-eci-webhook.argo.svc)")
	fl.BoolVar(&f.selfSignedOnly, "self-signed-only", false,
		"with --self-signed-dir: write the certificate, print the caBundle and exit")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file; empty means the in-cluster configuration")
	fl.StringVar(&f.namespace, "namespace", envOr("POD_NAMESPACE", "argo"), "namespace of the profiles ConfigMap")
	fl.StringVar(&f.profilesCM, "profiles-configmap", "argo-eci-profiles",
		"ConfigMap (key profiles.yaml) with the profiles, watched for changes; ignored with --profiles-file")
	fl.StringVar(&f.profilesFile, "profiles-file", "", "profiles.yaml file, watched for changes (instead of the ConfigMap)")
	fl.StringVar(&f.workflowNS, "workflow-namespace", "", "namespace whose Workflows are cached; empty means all")
	fl.Int64Var(&f.maxRequestBytes, "max-request-bytes", webhook.DefaultMaxRequestBytes,
		"largest AdmissionReview body accepted; larger requests get 413")
	fl.DurationVar(&f.certPollInterval, "cert-poll-interval", 10*time.Second, "how often the TLS files are re-read besides file events")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "grace period for requests in flight on shutdown")
	fl.BoolVar(&f.logJSON, "log-json", false, "log JSON lines instead of text")
	return cmd
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func runWebhook(ctx context.Context, cmd *cobra.Command, f *webhookFlags) error {
	var handler slog.Handler = slog.NewTextHandler(cmd.ErrOrStderr(), nil)
	if f.logJSON {
		handler = slog.NewJSONHandler(cmd.ErrOrStderr(), nil)
	}
	log := slog.New(handler)
	// controller-runtime's certificate watcher logs through its own global logger.
	ctrllog.SetLogger(logr.FromSlogHandler(handler))

	certDir := f.tlsCertDir
	if f.selfSignedDir != "" {
		ca, err := webhook.SelfSigned(f.selfSignedDir, f.selfSignedHosts)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		if _, err := fmt.Fprintln(cmd.OutOrStdout(), base64.StdEncoding.EncodeToString(ca)); err != nil {
			return err
		}
		log.Info("self-signed certificate ready", "dir", f.selfSignedDir, "hosts", strings.Join(f.selfSignedHosts, ","))
		if f.selfSignedOnly {
			return nil
		}
		certDir = f.selfSignedDir
	} else if f.selfSignedOnly {
		return &exitError{code: 2, err: errors.New("--self-signed-only needs --self-signed-dir")}
	}

	config, err := kubeConfig(f.kubeconfig)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("kubernetes client: %w", err)}
	}
	wfClient, err := versioned.NewForConfig(config)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("argo client: %w", err)}
	}

	metrics := webhook.NewMetrics()
	engines := &webhook.EngineStore{Metrics: metrics, Logger: log}
	workflows, err := webhook.NewWorkflowCache(wfClient, f.workflowNS)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	server := &webhook.Server{
		Engines:         engines,
		Workflows:       workflows,
		Ready:           []webhook.ReadyCheck{workflows.Synced},
		Metrics:         metrics,
		Logger:          log,
		MaxRequestBytes: f.maxRequestBytes,
		ShutdownTimeout: f.shutdownTimeout,
	}

	g, ctx := errgroup.WithContext(ctx)
	workflows.Start(ctx)
	if f.profilesFile != "" {
		pf := &webhook.ProfileFile{Path: f.profilesFile, Store: engines}
		if err := pf.Load(); err != nil {
			return &exitError{code: 1, err: err}
		}
		g.Go(func() error { return pf.Run(ctx) })
	} else {
		cm := &webhook.ProfileConfigMap{Client: kube, Namespace: f.namespace, Name: f.profilesCM,
			Key: "profiles.yaml", Store: engines}
		if err := cm.Start(ctx); err != nil {
			return &exitError{code: 1, err: err}
		}
		server.Ready = append(server.Ready, cm.Synced)
	}

	certs, err := webhook.WatchCertificates(ctx, certDir, f.certPollInterval)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("listening on %s: %w", f.listen, err)}
	}
	server.Certificates = certs.GetCertificate
	g.Go(func() error { return server.Serve(ctx, ln) })
	if err := g.Wait(); err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}

// kubeConfig loads the kubeconfig file, or the in-cluster configuration when path is empty.
func kubeConfig(path string) (*rest.Config, error) {
	if path == "" {
		c, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster configuration (pass --kubeconfig outside a cluster): %w", err)
		}
		return c, nil
	}
	c, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return c, nil
}
