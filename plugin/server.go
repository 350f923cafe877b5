package plugin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	"github.com/gorilla/mux"

	"github.com/argo-eci/argo-eci/dataset"
	"github.com/argo-eci/argo-eci/imagecache"
)

// ExecutePath is where Argo's agent sends template.execute calls.
const ExecutePath = "/api/v1/template.execute"

// Defaults for the zero values of Server's fields.
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultCallTimeout    = 20 * time.Second
	DefaultRunningRequeue = 10 * time.Second
)

// DatasetWarmer runs one step of a dataset warm-up (dataset.Manager).
type DatasetWarmer interface {
	Warm(ctx context.Context, wf executorplugins.ObjectMeta, spec *dataset.Spec) (executorplugins.ExecuteTemplateReply, error)
}

// ImageCacher runs one step of an image-cache pre-warm (imagecache.Manager).
type ImageCacher interface {
	Ensure(ctx context.Context, wf executorplugins.ObjectMeta, spec *imagecache.Spec) (executorplugins.ExecuteTemplateReply, error)
}

var (
	_ DatasetWarmer = (*dataset.Manager)(nil)
	_ ImageCacher   = (*imagecache.Manager)(nil)
)

// Server is the argo-eci executor-plugin HTTP server.
type Server struct {
	// Token is the bearer token the agent must present (the content of /var/run/argo/token).
	Token []byte
	// Datasets and ImageCaches run the two template kinds.
	Datasets    DatasetWarmer
	ImageCaches ImageCacher
	// Logger receives one line per call; nil means slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies (default 1 MiB; an Argo template is far smaller).
	MaxBodyBytes int64
	// CallTimeout bounds the Kubernetes calls of one request, below the agent's 30 s HTTP timeout.
	CallTimeout time.Duration
	// ShutdownTimeout is how long Serve lets in-flight calls finish once its ctx ends (default 5 s).
	ShutdownTimeout time.Duration
}

// DefaultShutdownTimeout applies when Server.ShutdownTimeout is zero.
const DefaultShutdownTimeout = 5 * time.Second

// Serve answers template.execute calls on ln until ctx ends, then stops accepting calls and lets
// in-flight ones finish for ShutdownTimeout. It returns nil after a clean shutdown and the listener's
// error otherwise; ln is closed either way.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	log := s.logger()
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      40 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	grace := s.ShutdownTimeout
	if grace <= 0 {
		grace = DefaultShutdownTimeout
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	<-errc
	return nil
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Handler returns the HTTP handler: POST /api/v1/template.execute and GET /healthz. Other paths
// answer 404, which tells the agent never to call that method again: right for methods we do not
// implement, and never used for "not my template" or "object not found".
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc(ExecutePath, s.execute).Methods(http.MethodPost)
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok\n")
	}).Methods(http.MethodGet)
	return r
}

var (
	errForbidden = errors.New("missing or wrong bearer token")
	errPanic     = errors.New("internal error")
)

func (s *Server) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || len(s.Token) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), s.Token) == 1
}

func (s *Server) execute(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	log := s.logger()
	defer func() {
		if p := recover(); p != nil {
			log.Error("panic in template.execute", "panic", p, "stack", string(debug.Stack()))
			writeReply(w, Reply(executorplugins.ExecuteTemplateReply{}, errPanic))
		}
	}()
	if !s.authorized(r) {
		log.Warn("template.execute rejected", "reason", errForbidden.Error(), "remote", r.RemoteAddr)
		writeReply(w, Reply(executorplugins.ExecuteTemplateReply{}, errForbidden))
		return
	}
	out, err := s.run(r, &log)
	resp := Reply(out, err)
	writeReply(w, resp)
	attrs := []any{"status", resp.Status, "duration", time.Since(start)}
	if resp.Body.Node != nil {
		attrs = append(attrs, "phase", resp.Body.Node.Phase, "message", resp.Body.Node.Message)
	}
	switch {
	case resp.Status >= 400:
		log.Warn("template.execute", append(attrs, "error", err)...)
	case resp.Body.Node != nil && resp.Body.Node.Phase.Completed():
		log.Info("template.execute", attrs...)
	default:
		log.Debug("template.execute", attrs...)
	}
}

// run decodes the call and dispatches it; it returns an empty reply for templates that are not ours.
func (s *Server) run(r *http.Request, log **slog.Logger) (executorplugins.ExecuteTemplateReply, error) {
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		return executorplugins.ExecuteTemplateReply{}, err
	}
	req, mine, err := DecodeRequest(body)
	if !mine {
		return executorplugins.ExecuteTemplateReply{}, err
	}
	if req != nil {
		*log = (*log).With("workflow", req.Workflow.Name, "namespace", req.Workflow.Namespace, "template", req.Template)
	}
	if err != nil {
		return executorplugins.ExecuteTemplateReply{}, err
	}
	timeout := s.CallTimeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	switch {
	case req.Spec.Dataset != nil:
		if s.Datasets == nil {
			return executorplugins.ExecuteTemplateReply{}, fmt.Errorf("dataset templates are not enabled in this plugin")
		}
		return s.Datasets.Warm(ctx, req.Workflow, req.Spec.Dataset)
	default:
		if s.ImageCaches == nil {
			return executorplugins.ExecuteTemplateReply{}, fmt.Errorf("imageCache templates are not enabled in this plugin")
		}
		return s.ImageCaches.Ensure(ctx, req.Workflow, req.Spec.ImageCache)
	}
}

func writeReply(w http.ResponseWriter, resp Response) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.Status)
	if resp.Text != "" {
		_ = json.NewEncoder(w).Encode(map[string]string{"error": resp.Text})
		return
	}
	_ = json.NewEncoder(w).Encode(resp.Body)
}
