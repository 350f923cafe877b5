package artifacts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/argoproj/argo-workflows/v4/pkg/apiclient/artifact"
	"google.golang.org/grpc"

	"github.com/argo-eci/argo-eci/badinput"
)

// streamChunk is the size of the data messages OpenStream sends.
const streamChunk = 256 << 10

// Server serves Argo's artifact.ArtifactService over the Driver. Errors travel the way Argo's
// plugin client reads them: in the reply's error field (with success false), never as gRPC
// status errors, so Argo shows the message instead of a transport failure.
type Server struct {
	artifact.UnimplementedArtifactServiceServer
	Driver *Driver
	Logger *slog.Logger
	// SocketMode is the permission of the socket file; zero means DefaultSocketMode.
	SocketMode os.FileMode
}

// DefaultSocketMode lets every user of the pod connect: argo-server (uid 8737) and the
// executor reach the plugin through a socket on a volume only their pod mounts, while the
// plugin itself may run as another uid.
const DefaultSocketMode os.FileMode = 0o666

var _ artifact.ArtifactServiceServer = (*Server)(nil)

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// target extracts the bucket and key of a request's artifact.
func (s *Server) target(a *artifact.Artifact) (*Bucket, string, error) {
	if a == nil || a.Plugin == nil {
		return nil, "", errors.New("request has no plugin artifact")
	}
	b, err := s.Driver.Bucket(a.Plugin.Configuration)
	if err != nil {
		return nil, "", err
	}
	return b, a.Plugin.Key, nil
}

// replyError is the one place that turns an error into the text Argo shows. It names the
// class of failure first so users can act on it; it never includes credentials (the
// configuration holds only environment variable names, and the SDK never prints secrets).
func replyError(op string, err error) string {
	if err == nil {
		return ""
	}
	var (
		class string
		bad   *badinput.Error
	)
	switch {
	case errors.As(err, &bad):
		class = "invalid artifact configuration"
	case errors.Is(err, ErrNotFound):
		class = "not found"
	case errors.Is(err, ErrUnsafeKey):
		class = "unsafe object key"
	case errors.Is(err, ErrMissingCRC), errors.Is(err, ErrCRCMismatch), isInvalidDigest(err):
		class = "integrity check failed"
	case errors.Is(err, ErrNoProgress):
		class = "no progress"
	case errors.Is(err, ErrTooLarge):
		class = "too large"
	case errors.Is(err, ErrUnsupportedFile):
		class = "unsupported file"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		class = "cancelled"
	default:
		class = "failed"
	}
	return fmt.Sprintf("argo-eci-oss %s %s: %v", op, class, err)
}

func (s *Server) finish(op, key string, start time.Time, err error) string {
	msg := replyError(op, err)
	if err != nil {
		s.log().Warn("artifact operation failed", "op", op, "key", key, "error", msg)
	} else {
		s.log().Info("artifact operation done", "op", op, "key", key, "seconds", time.Since(start).Seconds())
	}
	return msg
}

// Load downloads the input artifact to req.Path.
func (s *Server) Load(ctx context.Context, req *artifact.LoadArtifactRequest) (*artifact.LoadArtifactResponse, error) {
	start := time.Now()
	b, key, err := s.target(req.InputArtifact)
	if err == nil {
		err = b.Load(ctx, key, req.Path)
	}
	msg := s.finish("load", key, start, err)
	return &artifact.LoadArtifactResponse{Success: err == nil, Error: msg}, nil
}

// Save uploads req.Path as the output artifact.
func (s *Server) Save(ctx context.Context, req *artifact.SaveArtifactRequest) (*artifact.SaveArtifactResponse, error) {
	start := time.Now()
	b, key, err := s.target(req.OutputArtifact)
	if err == nil {
		err = b.Save(ctx, req.Path, key)
	}
	msg := s.finish("save", key, start, err)
	return &artifact.SaveArtifactResponse{Success: err == nil, Error: msg}, nil
}

// Delete removes the artifact (the whole prefix for a directory).
func (s *Server) Delete(ctx context.Context, req *artifact.DeleteArtifactRequest) (*artifact.DeleteArtifactResponse, error) {
	start := time.Now()
	b, key, err := s.target(req.Artifact)
	if err == nil {
		err = b.Delete(ctx, key)
	}
	msg := s.finish("delete", key, start, err)
	return &artifact.DeleteArtifactResponse{Success: err == nil, Error: msg}, nil
}

// ListObjects lists the artifact's object keys.
func (s *Server) ListObjects(ctx context.Context, req *artifact.ListObjectsRequest) (*artifact.ListObjectsResponse, error) {
	start := time.Now()
	b, key, err := s.target(req.Artifact)
	var keys []string
	if err == nil {
		keys, err = b.ListObjects(ctx, key)
	}
	msg := s.finish("list", key, start, err)
	return &artifact.ListObjectsResponse{Objects: keys, Error: msg}, nil
}

// IsDirectory reports whether the artifact is a directory.
func (s *Server) IsDirectory(ctx context.Context, req *artifact.IsDirectoryRequest) (*artifact.IsDirectoryResponse, error) {
	start := time.Now()
	b, key, err := s.target(req.Artifact)
	var dir bool
	if err == nil {
		dir, err = b.IsDirectory(ctx, key)
	}
	msg := s.finish("is-directory", key, start, err)
	return &artifact.IsDirectoryResponse{IsDirectory: dir, Error: msg}, nil
}

// streamWriter batches bytes into OpenStream data messages.
type streamWriter struct {
	send func(*artifact.OpenStreamResponse) error
	buf  []byte
}

func (w *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		c := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+c]
		p = p[c:]
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *streamWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.send(&artifact.OpenStreamResponse{Data: w.buf})
	w.buf = make([]byte, 0, streamChunk) // the sent slice belongs to gRPC now
	return err
}

// OpenStream streams the artifact's bytes (a tar archive for a directory), then a final
// is_end message; a failure is sent as a message with the error field set.
func (s *Server) OpenStream(req *artifact.OpenStreamRequest, srv artifact.ArtifactService_OpenStreamServer) error {
	start := time.Now()
	ctx := srv.Context()
	b, key, err := s.target(req.Artifact)
	w := &streamWriter{send: srv.Send, buf: make([]byte, 0, streamChunk)}
	if err == nil {
		err = b.OpenStream(ctx, key, w)
	}
	if err == nil {
		err = w.flush()
	}
	msg := s.finish("open-stream", key, start, err)
	if err != nil {
		return srv.Send(&artifact.OpenStreamResponse{Error: msg})
	}
	return srv.Send(&artifact.OpenStreamResponse{IsEnd: true})
}

// Serve serves the artifact service on the unix socket at path until ctx is done, then stops
// gracefully: in-flight calls finish, new ones are refused. The socket's directory is created
// when missing, a stale socket file is replaced, and the socket gets srv.SocketMode.
func Serve(ctx context.Context, path string, srv *Server) error {
	ln, err := listen(path, srv.SocketMode)
	if err != nil {
		return err
	}
	g := grpc.NewServer(grpc.MaxRecvMsgSize(16 << 20))
	artifact.RegisterArtifactServiceServer(g, srv)
	errc := make(chan error, 1)
	go func() { errc <- g.Serve(ln) }()
	srv.log().Info("artifact plugin serving", "socket", path)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	srv.log().Info("stopping: waiting for in-flight calls")
	g.GracefulStop()
	<-errc
	_ = os.Remove(path)
	return nil
}

// listen creates the unix socket at path with mode (DefaultSocketMode when zero). The mode is
// set with chmod after bind, so the process umask does not narrow it.
func listen(path string, mode os.FileMode) (net.Listener, error) {
	if mode == 0 {
		mode = DefaultSocketMode
	}
	if err := mkdirAllReadable(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("socket mode: %w", err)
	}
	return ln, nil
}

// isInvalidDigest reports OSS's refusal of a body whose Content-MD5 does not match.
func isInvalidDigest(err error) bool {
	var se *oss.ServiceError
	return errors.As(err, &se) && (se.Code == "InvalidDigest" || se.Code == "BadDigest")
}

// mkdirAllReadable creates dir and its missing parents with mode 0755 whatever the umask, so
// that other users of the pod can reach a socket inside. Existing directories are left alone.
func mkdirAllReadable(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAllReadable(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return err
	}
	return os.Chmod(dir, 0o755)
}
