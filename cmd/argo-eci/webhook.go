package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned"
	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/webhook"
)

// webhookFlags are the flags of `argo-eci webhook`.
type webhookFlags struct {
	listen           string
	metricsListen    string
	tlsCertDir       string
	selfSignedDir    string
	selfSignedHosts  []string
	selfSignedOnly   bool
	kubeconfig       string
	namespace        string
	profilesFile     string
	profilesCM       string
	workflowNS       []string
	sizingCM         string
	costMetrics      bool
	maxRequestBytes  int64
	maxInFlight      int
	maxObjectBytes   int
	readTimeout      time.Duration
	certPollInterval time.Duration
	drainDelay       time.Duration
	shutdownTimeout  time.Duration
}

func newWebhookCmd() *cobra.Command {
	f := &webhookFlags{}
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "HTTPS mutating admission webhook for Argo pods and workflows",
		Long: `Serve the mutating admission webhook that shapes Argo pods and workflows for ECI.

Endpoints: POST /mutate/pods (workflow, agent and artifact-GC pods; every other pod is
allowed untouched), POST /mutate/workflows (Workflow, CronWorkflow, WorkflowTemplate),
GET /healthz, /readyz (profiles loaded and informers synced), /metrics (or on
--metrics-listen).

TLS: in a cluster, let cert-manager issue the serving certificate into a Secret mounted at
--tls-cert-dir (tls.crt, tls.key) and inject the caBundle into the
MutatingWebhookConfiguration; the files are reloaded when they change. For local clusters and
tests, --self-signed-dir DIR keeps a CA and a serving certificate for --self-signed-hosts in
DIR (created if absent, the serving certificate renewed under the same CA before it expires),
prints the base64 caBundle on stdout and serves with it.

Register both webhooks with failurePolicy: Fail, so that no pod is ever created unshaped while
the webhook is unavailable (Argo's controller retries pod creation). On SIGTERM the webhook
fails /readyz and keeps answering for --drain-delay (10s in the install), then finishes
requests in flight.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := commandLogger(cmd)
			if err != nil {
				return err
			}
			return runWebhook(cmd.Context(), cmd, log, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", ":9443", "HTTPS listen address")
	fl.StringVar(&f.metricsListen, "metrics-listen", "",
		"serve /metrics over plain HTTP on this address only (e.g. 127.0.0.1:8080 for a local scraper or proxy) instead of on --listen; \"off\" disables it")
	fl.StringVar(&f.tlsCertDir, "tls-cert-dir", "/etc/argo-eci/tls",
		"directory with tls.crt and tls.key (a cert-manager Secret mount), reloaded on change")
	fl.StringVar(&f.selfSignedDir, "self-signed-dir", "",
		"keep a CA and serving certificate in this directory (created or renewed as needed), print the caBundle and serve with it; for local clusters and tests — use cert-manager in real clusters")
	fl.StringSliceVar(&f.selfSignedHosts, "self-signed-hosts", []string{"127.0.0.1", "localhost"},
		"DNS names and IPs of the self-signed serving certificate (e.g. argo-eci-webhook.argo.svc)")
	fl.BoolVar(&f.selfSignedOnly, "self-signed-only", false,
		"with --self-signed-dir: write the certificate, print the caBundle and exit")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)")
	fl.StringVar(&f.namespace, "namespace", envOr("POD_NAMESPACE", "argo"), "namespace of the profiles ConfigMap")
	fl.StringVar(&f.profilesCM, "profiles-configmap", "argo-eci-profiles",
		"ConfigMap (key profiles.yaml) with the profiles, watched for changes; ignored with --profiles-file")
	fl.StringVar(&f.profilesFile, "profiles-file", "", "profiles.yaml file, watched for changes (instead of the ConfigMap)")
	fl.StringVar(&f.sizingCM, "sizing-configmap", defaultSizingConfigMap,
		"ConfigMap in --namespace with the learned specs (argo-eci recommend --apply) for profiles with sizing: learned; empty: none")
	fl.BoolVar(&f.costMetrics, "cost-metrics", false,
		"watch Argo's pods and count what ECI billed for them (argo_eci_cost_* metrics); needs list and watch on pods")
	fl.StringSliceVar(&f.workflowNS, "workflow-namespaces", nil,
		"namespaces whose Workflows are read (one informer each; the webhook needs read access only there); empty means every namespace")
	fl.Int64Var(&f.maxRequestBytes, "max-request-bytes", webhook.DefaultMaxRequestBytes,
		"largest AdmissionReview body accepted; larger requests get 413")
	fl.IntVar(&f.maxObjectBytes, "max-object-bytes", emissary.DefaultMaxObjectBytes,
		"largest shaped Workflow, CronWorkflow or WorkflowTemplate (JSON bytes); a larger one is admitted unshaped with a warning, its pods shaped at creation (etcd refuses requests over 1.5 MiB by default); 0: no limit")
	fl.IntVar(&f.maxInFlight, "max-in-flight", webhook.DefaultMaxInFlight, "reviews handled at once; more wait for a slot")
	fl.DurationVar(&f.readTimeout, "workflow-read-timeout", webhook.DefaultReadTimeout,
		"bound of the direct read of a Workflow the cache does not have yet")
	fl.DurationVar(&f.certPollInterval, "cert-poll-interval", 10*time.Second, "how often the TLS files are re-read besides file events")
	fl.DurationVar(&f.drainDelay, "drain-delay", 0,
		"after SIGTERM, keep answering this long with /readyz failing, until the Service has removed this pod (the install sets 10s; 0 for local runs)")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "grace period for requests in flight after the drain")
	return cmd
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// bootstrapCertificates runs the self-signed bootstrap when asked: it prints the caBundle and
// returns the TLS directory to serve from, and done when the command should exit.
func bootstrapCertificates(ctx context.Context, cmd *cobra.Command, log *slog.Logger, f *webhookFlags) (dir string, done bool, err error) {
	if f.selfSignedDir == "" {
		if f.selfSignedOnly {
			return "", true, &exitError{code: 2, err: errors.New("--self-signed-only needs --self-signed-dir")}
		}
		return f.tlsCertDir, false, nil
	}
	ca, err := webhook.SelfSigned(f.selfSignedDir, f.selfSignedHosts)
	if err != nil {
		return "", true, &exitError{code: 1, err: err}
	}
	if _, err := fmt.Fprintln(cmd.OutOrStdout(), base64.StdEncoding.EncodeToString(ca)); err != nil {
		return "", true, err
	}
	log.Info("self-signed certificate ready", "dir", f.selfSignedDir, "hosts", strings.Join(f.selfSignedHosts, ","))
	if f.selfSignedOnly {
		return "", true, nil
	}
	go webhook.RenewSelfSigned(ctx, log, f.selfSignedDir, f.selfSignedHosts, time.Hour)
	return f.selfSignedDir, false, nil
}

// noLimitIfZero maps the flag's 0 (no limit) to webhook.Server's negative MaxObjectBytes.
func noLimitIfZero(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

func runWebhook(ctx context.Context, cmd *cobra.Command, log *slog.Logger, f *webhookFlags) error {
	// controller-runtime's certificate watcher logs through its own global logger.
	ctrllog.SetLogger(logr.FromSlogHandler(log.Handler()))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	certDir, done, err := bootstrapCertificates(ctx, cmd, log, f)
	if done || err != nil {
		return err
	}
	config, err := kubeConfig(f.kubeconfig, "argo-eci-webhook")
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
	engines := &webhook.EngineStore{Metrics: metrics, Logger: log, Sizing: newSizingStore()}
	workflows, err := webhook.NewWorkflowCache(wfClient, f.workflowNS)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	server := &webhook.Server{
		Engines: engines, Workflows: workflows, WorkflowReader: workflows, ReadTimeout: f.readTimeout,
		Pods:  webhook.KubePods{Client: kube},
		Ready: []webhook.ReadyCheck{workflows.Synced}, Metrics: metrics, Logger: log,
		MaxRequestBytes: f.maxRequestBytes, MaxInFlight: f.maxInFlight, MaxObjectBytes: noLimitIfZero(f.maxObjectBytes),
		DrainDelay: f.drainDelay, ShutdownTimeout: f.shutdownTimeout,
		SeparateMetrics: f.metricsListen != "",
	}
	g, ctx := errgroup.WithContext(ctx)
	workflows.Start(ctx)
	if err := startProfiles(ctx, g, server, kube, f); err != nil {
		return &exitError{code: 1, err: err}
	}
	if err := startSizingAndCost(ctx, log, server, kube, f); err != nil {
		return &exitError{code: 1, err: err}
	}
	certs, err := webhook.WatchCertificates(ctx, certDir, f.certPollInterval)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	server.Certificates = certs.GetCertificate
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("listening on %s: %w", f.listen, err)}
	}
	g.Go(func() error { return server.Serve(ctx, ln) })
	if f.metricsListen != "" && f.metricsListen != "off" {
		mln, err := net.Listen("tcp", f.metricsListen)
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("listening on %s: %w", f.metricsListen, err)}
		}
		g.Go(func() error { return webhook.ServeMetrics(ctx, mln, metrics) })
	}
	if err := g.Wait(); err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}

// startProfiles loads the profiles from the file or the ConfigMap and keeps them current.
func startProfiles(ctx context.Context, g *errgroup.Group, server *webhook.Server, kube kubernetes.Interface, f *webhookFlags) error {
	if f.profilesFile != "" {
		pf := &webhook.ProfileFile{Path: f.profilesFile, Store: server.Engines}
		if err := pf.Load(); err != nil {
			return err
		}
		g.Go(func() error { return pf.Run(ctx) })
		return nil
	}
	cm := &webhook.ProfileConfigMap{Client: kube, Namespace: f.namespace, Name: f.profilesCM,
		Key: "profiles.yaml", Store: server.Engines}
	if err := cm.Start(ctx); err != nil {
		return err
	}
	server.Ready = append(server.Ready, cm.Synced)
	return nil
}
