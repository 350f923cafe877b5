package artifacts

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// dialEnv makes the test binary connect to the unix socket it names and exit: 0 when the
// connection succeeds.
const dialEnv = "ARGO_ECI_DIAL_SOCKET"

func dialAndExit(socket string) {
	c, err := net.Dial("unix", socket)
	if err != nil {
		_, _ = os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(3)
	}
	_ = c.Close()
	os.Exit(0)
}

// argoServerUID is the uid argo-server runs as.
const argoServerUID = 8737

// TestSocketForArgoServer: Serve creates the socket's missing directory and gives the socket a
// mode that lets argo-server's uid connect although the plugin runs as another user and the
// process umask is restrictive.
func TestSocketForArgoServer(t *testing.T) {
	base, err := os.MkdirTemp("/tmp", "aeci-sock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(base, "artifact-plugins", "argo-eci-oss", "socket")
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, socket, &Server{Driver: mapDriver(nil)}) }()
	t.Cleanup(func() { cancel(); <-done })
	waitForSocket(t, socket)
	fi, err := os.Stat(socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != DefaultSocketMode {
		t.Errorf("socket mode %v, want %v", fi.Mode().Perm(), DefaultSocketMode)
	}
	if os.Getuid() != 0 {
		t.Skip("connecting as argo-server's uid needs root to switch users")
	}
	// Run a copy of this test binary as uid 8737 (the copy, because the build directory is
	// private to root) and let it connect.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "dial")
	copyFile(t, self, bin, 0o755)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), dialEnv+"="+socket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: argoServerUID, Gid: argoServerUID}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("uid %d cannot connect to the socket: %v\n%s", argoServerUID, err, out)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(to, mode); err != nil { // the umask narrowed it
		t.Fatal(err)
	}
}
