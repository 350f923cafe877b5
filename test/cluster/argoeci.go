package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	"github.com/argoproj/argo-workflows/v4/workflow/executor"
	"github.com/argoproj/argo-workflows/v4/workflow/executor/plugins/rpc"
	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/internal/fluidsim"
	"github.com/argo-eci/argo-eci/webhook"
)

// This file runs argo-eci's own servers beside the control plane the way a cluster would reach
// them — the webhook registered by URL, the executor plugin called by Argo's agent code — for the
// e2e tests and `make demo`. Functions return errors and stop functions instead of taking a
// testing.TB, so the demo program uses them too.

// Scheme holds the Kubernetes and Fluid types the tests and the demo read and write.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, fluidv1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// CountCalls makes cfg count every request its clients send to the apiserver and returns the counter.
func CountCalls(cfg *rest.Config) *atomic.Int64 {
	calls := &atomic.Int64{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt, calls: calls} })
	return calls
}

type countingTransport struct {
	next  http.RoundTripper
	calls *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return c.next.RoundTrip(r)
}

// Impersonate returns the admin config acting as ServiceAccount ns/sa, so RBAC is really checked.
func (c *Cluster) Impersonate(ns, sa string) *rest.Config { return ImpersonateConfig(c.Config, ns, sa) }

// ImpersonateConfig is a copy of cfg that acts as ServiceAccount sa of namespace ns.
func ImpersonateConfig(cfg *rest.Config, ns, sa string) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + sa,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}}
	return out
}

// Webhook is argo-eci's admission webhook served on 127.0.0.1 with a self-signed certificate and a
// Workflow cache of one namespace. It can be stopped and restarted on the same address.
type Webhook struct {
	Server   *webhook.Server
	Addr     string
	CABundle []byte

	certDir string
	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan error
	stopAll context.CancelFunc
}

// StartWebhook serves the webhook with profiles for workflows of namespace ns until Stop.
func (c *Cluster) StartWebhook(ns string, profiles []byte, log *slog.Logger) (*Webhook, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	metrics := webhook.NewMetrics()
	engines := &webhook.EngineStore{Metrics: metrics, Logger: log}
	if _, err := engines.Load("file", "profiles", profiles); err != nil {
		return nil, err
	}
	var served []string
	if ns != "" {
		served = []string{ns}
	}
	workflows, err := webhook.NewWorkflowCache(c.Workflows, served)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	workflows.Start(ctx)
	if !workflows.WaitForSync(ctx) {
		cancel()
		return nil, errors.New("workflow cache never synced")
	}
	certDir, err := os.MkdirTemp("", "argo-eci-webhook-")
	if err != nil {
		cancel()
		return nil, err
	}
	w := &Webhook{certDir: certDir, stopAll: cancel,
		Server: &webhook.Server{Engines: engines, Workflows: workflows, WorkflowReader: workflows,
			Pods: webhook.KubePods{Client: c.Kube}, Ready: []webhook.ReadyCheck{workflows.Synced},
			Metrics: metrics, Logger: log}}
	if w.CABundle, err = webhook.SelfSigned(certDir, []string{"127.0.0.1"}); err == nil {
		var ln net.Listener
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err == nil {
			w.Addr = ln.Addr().String()
			err = w.serve(ln)
		}
	}
	if err != nil {
		cancel()
		_ = os.RemoveAll(certDir)
		return nil, err
	}
	return w, nil
}

func (w *Webhook) serve(ln net.Listener) error {
	ctx, cancel := context.WithCancel(context.Background())
	certs, err := webhook.WatchCertificates(ctx, w.certDir, 0)
	if err != nil {
		cancel()
		_ = ln.Close()
		return err
	}
	done := make(chan error, 1)
	w.Server.Certificates = certs.GetCertificate
	go func() { done <- w.Server.Serve(ctx, ln) }()
	w.mu.Lock()
	w.cancel, w.done = cancel, done
	w.mu.Unlock()
	return nil
}

// Pause stops serving (the port then refuses connections) and returns Serve's error; a no-op when
// already paused.
func (w *Webhook) Pause() error {
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.cancel, w.done = nil, nil
	w.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	return <-done
}

// Resume serves again on the same address.
func (w *Webhook) Resume() error {
	ln, err := net.Listen("tcp", w.Addr)
	if err != nil {
		return fmt.Errorf("webhook restart on %s: %w", w.Addr, err)
	}
	return w.serve(ln)
}

// Stop ends serving for good and removes the certificates.
func (w *Webhook) Stop() error {
	err := w.Pause()
	w.stopAll()
	_ = os.RemoveAll(w.certDir)
	return err
}

// RegisterWebhook creates a MutatingWebhookConfiguration that calls w by URL for Argo pods
// (objectSelector: the workflow label) in namespace ns, and when workflows is set also for
// Workflow, CronWorkflow and WorkflowTemplate creation. failurePolicy is Fail: while the webhook
// is unreachable no pod is created at all, so none is ever created unshaped. It returns once the
// apiserver calls the webhook, with a function that removes the configuration.
func (c *Cluster) RegisterWebhook(ctx context.Context, w *Webhook, ns string, workflows bool) (func() error, error) {
	url := func(path string) *string { return ptr.To("https://" + w.Addr + path) }
	nsSelector := &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}
	hooks := []admissionregistrationv1.MutatingWebhook{{
		Name:                    "pods.argo-eci.io",
		ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: url(webhook.PathPods), CABundle: w.CABundle},
		Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}, Scope: ptr.To(admissionregistrationv1.NamespacedScope)}}},
		FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
		MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
		NamespaceSelector:       nsSelector,
		ObjectSelector:          &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: common.LabelKeyWorkflow, Operator: metav1.LabelSelectorOpExists}}},
		SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
		TimeoutSeconds:          ptr.To[int32](5),
		AdmissionReviewVersions: []string{"v1"},
		ReinvocationPolicy:      ptr.To(admissionregistrationv1.NeverReinvocationPolicy),
	}}
	if workflows {
		hooks = append(hooks, admissionregistrationv1.MutatingWebhook{
			Name:                    "workflows.argo-eci.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: url(webhook.PathWorkflows), CABundle: w.CABundle},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{"argoproj.io"}, APIVersions: []string{"v1alpha1"}, Resources: []string{"workflows", "cronworkflows", "workflowtemplates"}, Scope: ptr.To(admissionregistrationv1.NamespacedScope)}}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			NamespaceSelector:       nsSelector,
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			TimeoutSeconds:          ptr.To[int32](5),
			AdmissionReviewVersions: []string{"v1"},
		})
	}
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "argo-eci-" + ns}, Webhooks: hooks}
	api := c.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations()
	if _, err := api.Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("register webhook: %w", err)
	}
	unregister := func() error {
		if err := api.Delete(context.Background(), cfg.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("unregister webhook: %w", err)
		}
		return nil
	}
	// The apiserver picks configurations up asynchronously: wait until a dry-run Argo pod comes
	// back shaped.
	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook-probe", Namespace: ns,
			Labels:      map[string]string{common.LabelKeyWorkflow: "probe"},
			Annotations: map[string]string{common.AnnotationKeyNodeID: "probe"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "alpine:3.20"}}},
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, err := c.Kube.CoreV1().Pods(ns).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil && out.Annotations[emissary.AnnotationShapedBy] != "" {
			return unregister, nil
		}
		if time.Now().After(deadline) {
			_ = unregister()
			return nil, fmt.Errorf("the apiserver never called the webhook (last: %v)", err)
		}
	}
}

// PluginObjects renders manifests/plugin for namespace ns the way README "Install" documents it:
// an overlay that sets the image once with kustomize's `images` (here ArgoECIImage, which
// hack/cluster/registry serves) and lists manifests/plugin/image under `transformers`.
func (c *Cluster) PluginObjects(ns string) ([]client.Object, error) {
	dir, err := os.MkdirTemp("", "argo-eci-plugin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// kustomize takes only relative paths to other kustomizations.
	base, err := filepath.Rel(dir, filepath.Join(c.Root, "manifests", "plugin"))
	if err != nil {
		return nil, err
	}
	i := strings.LastIndex(ArgoECIImage, ":")
	k := fmt.Sprintf("namespace: %s\nresources: [%s]\nimages: [{name: argo-eci.invalid/argo-eci, newName: %s, newTag: %s}]\ntransformers: [%s]\n",
		ns, base, ArgoECIImage[:i], ArgoECIImage[i+1:], filepath.Join(base, "image"))
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		return nil, err
	}
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build of manifests/plugin for %s: %w", ns, err)
	}
	decoder := serializer.NewCodecFactory(clientgoscheme.Scheme).UniversalDeserializer()
	var objs []client.Object
	for _, r := range rm.Resources() {
		raw, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		obj, _, err := decoder.Decode(raw, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.GetKind(), r.GetName(), err)
		}
		objs = append(objs, obj.(client.Object))
	}
	return objs, nil
}

// InstallPlugin installs manifests/plugin into ns as the documented overlay renders it
// (PluginObjects; the cluster-wide binding gets a per-namespace name) and waits until
// kube-controller-manager has filled the plugin's token Secret, which Argo needs to start the agent
// pod. It returns a function that removes the cluster-scoped binding.
func (c *Cluster) InstallPlugin(ctx context.Context, kube client.Client, ns string) (func(), error) {
	objs, err := c.PluginObjects(ns)
	if err != nil {
		return nil, err
	}
	var cleanups []func()
	cleanup := func() {
		for _, f := range cleanups {
			f()
		}
	}
	for _, o := range objs {
		switch typed := o.(type) {
		case *rbacv1.ClusterRoleBinding:
			typed.Name += "-" + ns
			typed.Subjects[0].Namespace = ns
			cleanups = append(cleanups, func() { _ = kube.Delete(context.Background(), typed) })
		case *rbacv1.ClusterRole:
		default:
			o.SetNamespace(ns)
		}
		if err := kube.Create(ctx, o); err != nil && !(apierrors.IsAlreadyExists(err) && o.GetNamespace() == "") {
			cleanup()
			return nil, fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		s, err := c.Kube.CoreV1().Secrets(ns).Get(ctx, "argo-eci-executor-plugin.service-account-token", metav1.GetOptions{})
		if err == nil && len(s.Data["token"]) > 0 {
			return cleanup, nil
		}
		if time.Now().After(deadline) {
			cleanup()
			return nil, fmt.Errorf("token Secret never filled: %v", err)
		}
	}
}

// ServeHTTP serves h on a free 127.0.0.1 port and returns its base URL and a stop function.
func ServeHTTP(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = hs.Close() }, nil
}

// RunSimulator runs the Fluid/ECI status simulator until the returned function is called; that
// function removes what the simulator created and returns Run's error.
func RunSimulator(sim *fluidsim.Simulator) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	return func() error {
		cancel()
		err := <-done
		sim.Cleanup(context.Background())
		return err
	}
}

// RunAgent runs Argo's own agent code (argoexec agent) for wf in this process, with cfg's
// identity: it watches the workflow's WorkflowTaskSet and calls the plugin at pluginURL with
// token, as the agent pod does on a real cluster. The returned function stops it and returns its
// error (nil when it was stopped).
func RunAgent(cfg *rest.Config, wf *wfv1.Workflow, pluginURL, token string) (func() error, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	agent := executor.NewAgentExecutor(kube, kube.CoreV1().RESTClient(), cfg, wf.Namespace, wf.Name, string(wf.UID),
		[]executorplugins.TemplateExecutor{rpc.New(pluginURL, token)})
	ctx, cancel := context.WithCancel(logging.WithLogger(context.Background(), logging.NewSlogLoggerCustom(logging.Warn, logging.Text, io.Discard)))
	done := make(chan error, 1)
	go func() { done <- agent.Agent(ctx) }()
	return func() error {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}, nil
}
