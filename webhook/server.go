package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/recovery"
)

// DefaultMaxRequestBytes caps AdmissionReview bodies at what the apiserver can send: the object
// of a request is at most 3 MiB (the kube-apiserver's limit on request bodies), the old object of
// an UPDATE at most 1.5 MiB (etcd's default request limit, so no stored object is larger), plus
// the review's own fields. Anything larger is not from an apiserver.
const DefaultMaxRequestBytes = 3<<20 + 3<<19 + 256<<10

// DefaultMaxInFlight bounds the reviews decoded at once; more wait for a slot (until the
// apiserver's timeout cancels them), so memory stays bounded whatever the burst.
const DefaultMaxInFlight = 8

// DefaultReadTimeout bounds the direct read of a Workflow the cache does not have yet; it is
// well inside the webhook's 5 s timeoutSeconds.
const DefaultReadTimeout = 2 * time.Second

// maxMessageLen caps denial and error messages, in replies and in log lines: they can quote
// user input (an annotation of up to 256 KiB), which must not come back at that size.
const maxMessageLen = 1024

// maxCauseLen caps the message and field of each status cause of a refusal (at most maxCauses).
const maxCauseLen = 160

// maxWarnings caps the warnings of one reply.
const maxWarnings = 20

// Endpoint paths.
const (
	PathPods      = "/mutate/pods"
	PathWorkflows = "/mutate/workflows"
	PathHealthz   = "/healthz"
	PathReadyz    = "/readyz"
	PathMetrics   = "/metrics"
)

// Shaper is the shaping core the webhook calls; *emissary.Engine implements it.
type Shaper interface {
	// ShapePodAt shapes one pod created at created; wf is its Workflow from the cache, or nil;
	// siblings are the workflow's other pods, listed for retries (see Server.Pods).
	ShapePodAt(pod *corev1.Pod, wf *wfv1.Workflow, created time.Time, siblings *recovery.Siblings) (*emissary.PodResult, error)
	// ShapeWorkflow shapes a Workflow, CronWorkflow or WorkflowTemplate.
	ShapeWorkflow(obj runtime.Object) (runtime.Object, []emissary.Finding, error)
}

// WorkflowGetter finds a Workflow in a local cache; ok is false when it is not (yet) there.
type WorkflowGetter interface {
	Workflow(namespace, name string) (wf *wfv1.Workflow, ok bool)
}

// WorkflowReader reads one Workflow from the apiserver; a missing one is a NotFound API error.
type WorkflowReader interface {
	ReadWorkflow(ctx context.Context, namespace, name string) (*wfv1.Workflow, error)
}

// PodLister lists the pods of one workflow (label workflows.argoproj.io/workflow).
type PodLister interface {
	WorkflowPods(ctx context.Context, namespace, workflow string) ([]corev1.Pod, error)
}

// ReadyCheck reports nil when one dependency of the webhook is ready.
type ReadyCheck func() error

// Server answers admission reviews. Build it with its fields set, then call Handler or Serve.
// The zero values of the optional fields are usable.
type Server struct {
	// Engines provides the current shaping engine; required.
	Engines *EngineStore
	// Workflows is the Workflow cache used for pods; nil means pods are shaped from what they carry.
	Workflows WorkflowGetter
	// WorkflowReader reads a Workflow the cache does not have yet (a pod that arrives before the
	// informer has its Workflow); nil shapes such pods from what they carry.
	WorkflowReader WorkflowReader
	// Pods lists a workflow's pods when a retry's pod arrives: Argo creates the retry before it saves
	// the failed attempt's node status, so the failure (OOMKilled, BidFailed, ProviderFailed) is
	// read from the failed attempt's pod. nil shapes retries from the node status alone.
	Pods PodLister
	// ReadTimeout bounds that read and the Pods list; 0 means DefaultReadTimeout.
	ReadTimeout time.Duration
	// Certificates supplies the serving certificate for every handshake in Serve
	// (certwatcher.GetCertificate reloads it); required by Serve.
	Certificates func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Ready lists the checks of /readyz besides a loaded engine (for example informer sync).
	Ready []ReadyCheck
	// Metrics receives review counts and latencies; nil creates a private set.
	Metrics *Metrics
	// Logger is the server's logger; nil uses slog.Default().
	Logger *slog.Logger
	// MaxRequestBytes caps request bodies; 0 means DefaultMaxRequestBytes.
	MaxRequestBytes int64
	// MaxObjectBytes is the largest shaped Workflow, CronWorkflow or WorkflowTemplate the webhook
	// produces; a larger one is admitted unshaped with a warning, since the apiserver would refuse
	// to store it. 0 means emissary.DefaultMaxObjectBytes (1.4 MiB), negative means no limit.
	MaxObjectBytes int
	// MaxInFlight bounds the reviews handled at once; 0 means DefaultMaxInFlight.
	MaxInFlight int
	// DrainDelay is how long Serve keeps answering after ctx ends, with /readyz failing, so that
	// the Service's endpoints drop this pod before it stops listening; 0 stops at once.
	DrainDelay time.Duration
	// ShutdownTimeout bounds the graceful shutdown in Serve after the drain; 0 means 10 s.
	ShutdownTimeout time.Duration
	// SeparateMetrics leaves /metrics off the webhook's port (serve it with [ServeMetrics] on an
	// address of its own, or not at all), so that metrics can be restricted apart from admission.
	SeparateMetrics bool
	// Now is the clock that dates a pod's creation (the apiserver sets creationTimestamp only
	// after admission), which picks the time-of-day band of a learned spec; nil means time.Now.
	Now func() time.Time

	initOnce sync.Once
	slots    chan struct{}
	draining atomic.Bool
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		if s.Metrics == nil {
			s.Metrics = NewMetrics()
		}
		n := s.MaxInFlight
		if n <= 0 {
			n = DefaultMaxInFlight
		}
		s.slots = make(chan struct{}, n)
	})
}

func (s *Server) directReadTimeout() time.Duration {
	if s.ReadTimeout <= 0 {
		return DefaultReadTimeout
	}
	return s.ReadTimeout
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Server) maxBytes() int64 {
	if s.MaxRequestBytes <= 0 {
		return DefaultMaxRequestBytes
	}
	return s.MaxRequestBytes
}

// admitFunc decides one admission request; its logger is in ctx ([Logger]).
type admitFunc func(ctx context.Context, req *admissionv1.AdmissionRequest) verdict

type loggerKey struct{}

// WithLogger returns ctx carrying log, the logger of one request.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// Logger returns the request logger in ctx, or slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	if log, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return log
	}
	return slog.Default()
}

// Handler returns the HTTP handler with every endpoint of the webhook.
func (s *Server) Handler() http.Handler {
	s.init()
	mux := http.NewServeMux()
	mux.Handle("POST "+PathPods, s.reviewHandler("pods", s.admitPod))
	mux.Handle("POST "+PathWorkflows, s.reviewHandler("workflows", s.admitWorkflow))
	mux.HandleFunc("GET "+PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET "+PathReadyz, s.serveReady)
	if !s.SeparateMetrics {
		mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}))
	}
	return mux
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	if s.draining.Load() {
		http.Error(w, "not ready: shutting down", http.StatusServiceUnavailable)
		return
	}
	checks := append([]ReadyCheck{s.Engines.ready}, s.Ready...)
	for _, check := range checks {
		if err := check(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = io.WriteString(w, "ok\n")
}

// reviewHandler reads, decides and answers one AdmissionReview over HTTP.
func (s *Server) reviewHandler(endpoint string, admit admitFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var status int
		var out []byte
		// Wait for a slot before reading the body: a waiting request holds no body in memory.
		select {
		case s.slots <- struct{}{}:
			body, err := readBody(w, r, s.maxBytes())
			if err != nil {
				status, out = s.reject(endpoint, err)
			} else {
				status, out = s.review(r.Context(), endpoint, admit, body)
			}
			<-s.slots
		case <-r.Context().Done():
			status, out = s.reject(endpoint, fmt.Errorf("%w: %w", ErrBusy, r.Context().Err()))
		}
		if status == http.StatusOK {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.WriteHeader(status)
		_, _ = w.Write(out)
		s.Metrics.latency.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
	})
}

// readBody reads at most limit bytes of the request body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	return body, nil
}

// reject answers a request that carries no AdmissionReview we can answer: there is no uid to
// echo, so the apiserver gets a plain HTTP error and applies the webhook's failurePolicy.
func (s *Server) reject(endpoint string, err error) (int, []byte) {
	s.Metrics.reviews.WithLabelValues(endpoint, "rejected").Inc()
	status := httpStatus(err)
	msg := truncate(err.Error(), maxMessageLen)
	s.logger().Warn("admission request rejected", "endpoint", endpoint, "status", status, "error", msg)
	return status, []byte(msg + "\n")
}

// review turns AdmissionReview bytes into response bytes; it is the HTTP-free core of the
// handler, measured by the benchmarks.
func (s *Server) review(ctx context.Context, endpoint string, admit admitFunc, body []byte) (int, []byte) {
	in, err := DecodeReview(body)
	if err != nil {
		return s.reject(endpoint, err)
	}
	req := in.Request
	log := s.logger().With("endpoint", endpoint, "uid", req.UID, "kind", req.Kind.Kind,
		"namespace", req.Namespace, "name", req.Name, "operation", req.Operation)
	v := s.admitRecovered(WithLogger(ctx, log), log, admit, req)
	v.message = truncate(v.message, maxMessageLen)
	for i := range v.causes {
		v.causes[i].Message, v.causes[i].Field = truncate(v.causes[i].Message, maxCauseLen), truncate(v.causes[i].Field, maxCauseLen)
	}
	s.Metrics.reviews.WithLabelValues(endpoint, string(v.outcome)).Inc()
	switch v.outcome {
	case outcomeDenied, outcomeInvalid:
		log.Info("admission refused", "outcome", v.outcome, "message", v.message)
	case outcomeError:
		log.Error("admission failed", "message", v.message)
	}
	out, err := encodeReview(response(string(req.UID), v))
	if err != nil {
		return s.reject(endpoint, fmt.Errorf("encoding the admission response: %w", err))
	}
	return http.StatusOK, out
}

// admitRecovered runs admit and turns a panic into an internal-error verdict with a log line,
// so one bad object never takes the server down and is never silently allowed.
func (s *Server) admitRecovered(ctx context.Context, log *slog.Logger, admit admitFunc, req *admissionv1.AdmissionRequest) (v verdict) {
	defer func() {
		if p := recover(); p != nil {
			s.Metrics.panics.Inc()
			log.Error("panic while admitting", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			v = verdict{outcome: outcomeError, message: "argo-eci webhook: internal error while shaping this object; see the webhook log"}
		}
	}()
	return admit(ctx, req)
}

// Serve answers HTTPS on ln until ctx is cancelled, then drains and shuts down: /readyz fails
// at once, requests are still answered for DrainDelay (the apiserver keeps calling this pod until
// its endpoint is removed), then Serve waits up to ShutdownTimeout for requests in flight.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.Certificates == nil {
		return errors.New("serving the webhook: Server.Certificates is not set")
	}
	s.draining.Store(false)
	s.init()
	certificates := func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := s.Certificates(hello)
		if err == nil && c != nil && c.Leaf != nil {
			s.Metrics.certExpiry.Set(float64(c.Leaf.NotAfter.Unix()))
		}
		return c, err
	}
	if _, err := certificates(&tls.ClientHelloInfo{}); err != nil {
		return fmt.Errorf("serving the webhook: no serving certificate: %w", err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certificates},
		ErrorLog:          slog.NewLogLogger(s.logger().Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	s.logger().Info("webhook serving", "address", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serving the webhook: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	if s.DrainDelay > 0 {
		s.logger().Info("webhook draining", "delay", s.DrainDelay.String())
		select {
		case err := <-errc:
			return fmt.Errorf("serving the webhook: %w", err)
		case <-time.After(s.DrainDelay):
		}
	}
	timeout := s.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting the webhook down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving the webhook: %w", err)
	}
	s.logger().Info("webhook stopped")
	return nil
}

// ServeMetrics serves m's /metrics over plain HTTP on ln until ctx ends.
func ServeMetrics(ctx context.Context, ln net.Listener, m *Metrics) error {
	mux := http.NewServeMux()
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting the metrics server down: %w", err)
	}
	return nil
}

// truncate cuts s to at most n bytes on a UTF-8 boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
