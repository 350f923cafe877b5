package artifacts

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/argoproj/argo-workflows/v4/workflow/artifacts/plugin"

	"github.com/argo-eci/argo-eci/artifacts/osstest"
)

// TestArtifactServerBinary builds the real argo-eci binary, runs `argo-eci artifact-server
// SOCKET` as Argo would (credentials from OSS_ACCESS_KEY_ID/OSS_ACCESS_KEY_SECRET), drives it
// with Argo's plugin client, then sends SIGTERM during a slow Save: the Save must complete and
// the process must exit 0.
func TestArtifactServerBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the argo-eci binary")
	}
	dir := shortTempDir(t)
	bin := filepath.Join(dir, "argo-eci")
	build := exec.Command("go", "build", "-o", bin, "github.com/argo-eci/argo-eci/cmd/argo-eci")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s := startOSS(t, osstest.Options{Remote: osstest.Remote{BytesPerSecond: 4 << 20, FirstByteLatency: -1}})
	socket := filepath.Join(dir, "socket")
	cmd := exec.Command(bin, "artifact-server", socket)
	cmd.Env = append(os.Environ(), EnvAccessKeyID+"="+s.AccessKeyID(), EnvAccessKeySecret+"="+s.AccessKeySecret())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	ctx := argoContext()
	client, err := plugin.NewDriver(ctx, "argo-eci-oss", socket, 10*time.Second)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	defer client.Close()
	cfg := fmt.Sprintf("endpoint: %s\nbucket: %s\nregion: %s\npathStyle: true\npartSize: 256Ki\nparallel: 2\n", s.URL, osstest.DefaultBucket, s.Region())

	small := filepath.Join(dir, "small")
	writeFile(t, small, []byte("hello from the binary"))
	if err := client.Save(ctx, small, pluginArtifact(cfg, "bin/small")); err != nil {
		t.Fatalf("save: %v\n%s", err, stderr.String())
	}
	if err := client.Load(ctx, pluginArtifact(cfg, "bin/small"), filepath.Join(dir, "small.out")); err != nil {
		t.Fatal(err)
	}

	big := filepath.Join(dir, "big")
	data := randomBytes(11, 6<<20) // ~1.5 s at 4 MB/s over two connections
	writeFile(t, big, data)
	saved := make(chan error, 1)
	go func() { saved <- client.Save(ctx, big, pluginArtifact(cfg, "bin/big")) }()
	deadline := time.Now().Add(10 * time.Second)
	for s.Requests("UploadPart") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-saved; err != nil {
		t.Fatalf("in-flight save during SIGTERM: %v\n%s", err, stderr.String())
	}
	select {
	case <-exited:
		if exitErr != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", exitErr, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("artifact-server did not exit after SIGTERM")
	}
	if got, _ := s.Object(osstest.DefaultBucket, "bin/big"); !bytes.Equal(got, data) {
		t.Fatal("the in-flight save did not store the whole object")
	}
	if _, err := os.Stat(socket); err == nil {
		t.Error("socket file left behind")
	}
	if bytes.Contains(stderr.Bytes(), []byte(s.AccessKeySecret())) {
		t.Error("the secret appears in the logs")
	}
}
