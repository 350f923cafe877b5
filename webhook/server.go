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
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argo-eci/argo-eci/emissary"
)

// DefaultMaxRequestBytes caps AdmissionReview bodies. An UPDATE carries the object and the old
// object, each up to etcd's 1.5 MiB request limit, so 7 MiB (controller-runtime's choice too)
// admits every legitimate review and stops a runaway body long before it costs memory.
const DefaultMaxRequestBytes = 7 << 20

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
	// ShapePod shapes one pod; wf is its Workflow from the cache, or nil.
	ShapePod(pod *corev1.Pod, wf *wfv1.Workflow) (*emissary.PodResult, error)
	// ShapeWorkflow shapes a Workflow, CronWorkflow or WorkflowTemplate.
	ShapeWorkflow(obj runtime.Object) (runtime.Object, []emissary.Finding, error)
}

// WorkflowGetter finds a Workflow in a local cache; ok is false when it is not (yet) there.
type WorkflowGetter interface {
	Workflow(namespace, name string) (wf *wfv1.Workflow, ok bool)
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
	// Ready lists the checks of /readyz besides a loaded engine (for example informer sync).
	Ready []ReadyCheck
	// Metrics receives review counts and latencies; nil creates a private set.
	Metrics *Metrics
	// Logger is the server's logger; nil uses slog.Default().
	Logger *slog.Logger
	// MaxRequestBytes caps request bodies; 0 means DefaultMaxRequestBytes.
	MaxRequestBytes int64
	// ShutdownTimeout bounds the graceful shutdown in Serve; 0 means 10 s.
	ShutdownTimeout time.Duration
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

// admitFunc decides one admission request.
type admitFunc func(ctx context.Context, log *slog.Logger, req *admissionv1.AdmissionRequest) verdict

// Handler returns the HTTP handler with every endpoint of the webhook.
func (s *Server) Handler() http.Handler {
	if s.Metrics == nil {
		s.Metrics = NewMetrics()
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+PathPods, s.reviewHandler("pods", s.admitPod))
	mux.Handle("POST "+PathWorkflows, s.reviewHandler("workflows", s.admitWorkflow))
	mux.HandleFunc("GET "+PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET "+PathReadyz, s.serveReady)
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}))
	return mux
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
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
		body, err := readBody(w, r, s.maxBytes())
		var status int
		var out []byte
		if err != nil {
			status, out = s.reject(endpoint, err)
		} else {
			status, out = s.review(r.Context(), endpoint, admit, body)
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
	s.logger().Warn("admission request rejected", "endpoint", endpoint, "status", status, "error", err)
	return status, []byte(err.Error() + "\n")
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
	v := s.admitRecovered(ctx, log, admit, req)
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
	return admit(ctx, log, req)
}

// Serve answers HTTPS on ln until ctx is cancelled, then shuts down gracefully. getCertificate
// supplies the serving certificate for every handshake (certwatcher.GetCertificate reloads it).
func (s *Server) Serve(ctx context.Context, ln net.Listener, getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: getCertificate},
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
