package artifacts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/argoproj/argo-workflows/v4/workflow/artifacts/plugin"

	"github.com/argo-eci/argo-eci/internal/osstest"
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
	bin := buildArgoECI(t, dir)
	s := startOSS(t, osstest.Options{Remote: osstest.Remote{BytesPerSecond: 4 << 20, FirstByteLatency: -1}})
	socket := filepath.Join(dir, "socket")
	cmd := exec.Command(bin, "artifact-server", "--allowed-endpoints=127.0.0.1", "--allow-http", socket)
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

// artifactServer is one `argo-eci artifact-server` process and Argo's client connected to it.
type artifactServer struct {
	cmd    *exec.Cmd
	client *plugin.Driver
	stderr *bytes.Buffer
}

func startArtifactServer(t *testing.T, bin, socket string, s *osstest.Server) *artifactServer {
	t.Helper()
	cmd := exec.Command(bin, "artifact-server", "--allowed-endpoints=127.0.0.1", "--allow-http", socket)
	cmd.Env = append(os.Environ(), EnvAccessKeyID+"="+s.AccessKeyID(), EnvAccessKeySecret+"="+s.AccessKeySecret())
	a := &artifactServer{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = a.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	client, err := plugin.NewDriver(argoContext(), "argo-eci-oss", socket, 10*time.Second)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, a.stderr.String())
	}
	t.Cleanup(func() { _ = client.Close() })
	a.client = client
	return a
}

// TestResumeAfterCrash kills the artifact server (SIGKILL, no chance to clean up) in the middle of
// a checkpointed multipart Save; a new server given the same checkpoint directory finishes the
// upload without sending the parts that already arrived, and the object is whole.
func TestResumeAfterCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the argo-eci binary")
	}
	dir := shortTempDir(t)
	bin := buildArgoECI(t, dir)
	s := startOSS(t, osstest.Options{Remote: osstest.Remote{BytesPerSecond: 2 << 20, FirstByteLatency: -1}})
	checkpoints := filepath.Join(dir, "cp") // killAtCheckpoint reads it
	cfg := fmt.Sprintf("endpoint: %s\nbucket: %s\nregion: %s\npathStyle: true\npartSize: 128Ki\nparallel: 2\ncheckpointDir: %s\n",
		s.URL, osstest.DefaultBucket, s.Region(), checkpoints)
	const parts = 48
	data := randomBytes(17, parts*128<<10) // ~3 s at 2 MB/s over two connections
	src := filepath.Join(dir, "big")
	writeFile(t, src, data)
	art := pluginArtifact(cfg, "resume/big")

	first := startArtifactServer(t, bin, filepath.Join(dir, "s1"), s)
	go func() { _ = first.client.Save(argoContext(), src, art) }()
	for deadline := time.Now().Add(20 * time.Second); s.Requests("UploadPart") < parts/3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d parts uploaded before the crash point\n%s", s.Requests("UploadPart"), first.stderr.String())
		}
	}
	killAtCheckpoint(t, first.cmd, filepath.Join(dir, "cp"))
	before := s.Requests("UploadPart")
	if before >= parts {
		t.Fatalf("all %d parts went up before the crash; the test proves nothing", before)
	}
	if open, _ := s.OpenUploads(osstest.DefaultBucket); len(open) != 1 {
		t.Fatalf("open uploads after the crash: %v, want the interrupted one", open)
	}

	second := startArtifactServer(t, bin, filepath.Join(dir, "s2"), s)
	s.ResetCounts()
	if err := second.client.Save(argoContext(), src, art); err != nil {
		t.Fatalf("save after the crash: %v\n%s", err, second.stderr.String())
	}
	resent := s.Requests("UploadPart")
	if resent >= parts {
		t.Errorf("the second save sent %d parts, all %d of them: nothing was resumed", resent, parts)
	}
	t.Logf("%d of %d parts uploaded before the crash; %d sent after it", before, parts, resent)
	if got, _ := s.Object(osstest.DefaultBucket, "resume/big"); !bytes.Equal(got, data) {
		t.Fatal("the resumed object differs from the file")
	}
	if open, _ := s.OpenUploads(osstest.DefaultBucket); len(open) != 0 {
		t.Errorf("open uploads left: %v", open)
	}
}

// TestResumeDownloadAfterCrash kills the artifact server in the middle of a checkpointed ranged
// Load; a new server with the same checkpoint directory fetches only the ranges still missing and
// the file is whole.
func TestResumeDownloadAfterCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the argo-eci binary")
	}
	dir := shortTempDir(t)
	bin := buildArgoECI(t, dir)
	s := startOSS(t, osstest.Options{Remote: osstest.Remote{BytesPerSecond: 2 << 20, FirstByteLatency: -1}})
	cfg := fmt.Sprintf("endpoint: %s\nbucket: %s\nregion: %s\npathStyle: true\npartSize: 128Ki\nparallel: 2\ncheckpointDir: %s\n",
		s.URL, osstest.DefaultBucket, s.Region(), filepath.Join(dir, "cp"))
	const parts = 48
	data := randomBytes(19, parts*128<<10)
	src := filepath.Join(dir, "big")
	writeFile(t, src, data)
	art := pluginArtifact(cfg, "resume/download")
	dst := filepath.Join(dir, "out", "big")

	first := startArtifactServer(t, bin, filepath.Join(dir, "s1"), s)
	if err := first.client.Save(argoContext(), src, art); err != nil {
		t.Fatalf("save: %v\n%s", err, first.stderr.String())
	}
	s.ResetCounts()
	go func() { _ = first.client.Load(argoContext(), art, dst) }()
	for deadline := time.Now().Add(20 * time.Second); s.Requests("GetObject") < parts/3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d ranges fetched before the crash point\n%s", s.Requests("GetObject"), first.stderr.String())
		}
	}
	killAtCheckpoint(t, first.cmd, filepath.Join(dir, "cp"))
	before := s.Requests("GetObject")
	if before >= parts {
		t.Fatalf("all %d ranges arrived before the crash; the test proves nothing", before)
	}

	second := startArtifactServer(t, bin, filepath.Join(dir, "s2"), s)
	s.ResetCounts()
	if err := second.client.Load(argoContext(), art, dst); err != nil {
		t.Fatalf("load after the crash: %v\n%s", err, second.stderr.String())
	}
	fetched := s.Requests("GetObject")
	t.Logf("%d of %d ranges fetched before the crash; %d after it", before, parts, fetched)
	if fetched >= parts {
		t.Errorf("the second load fetched %d ranges, all %d of them: nothing was resumed", fetched, parts)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("the resumed download differs from the object")
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildArgoECI builds the argo-eci binary once per test process (the directory is removed
// when the process exits) and returns its path.
func buildArgoECI(t *testing.T, _ string) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("/tmp", "aeci-bin")
		if err != nil {
			buildErr = err
			return
		}
		registerInputDir(dir)
		builtBin = filepath.Join(dir, "argo-eci")
		if out, err := exec.Command("go", "build", "-o", builtBin, "github.com/argo-eci/argo-eci/cmd/argo-eci").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// killAtCheckpoint SIGKILLs cmd at a moment when every checkpoint file under dir is complete JSON.
// The SDK rewrites its checkpoint in place as parts finish, so a kill in the middle of that write
// leaves a torn file that the SDK rightly discards (and starts over); freezing the process with
// SIGSTOP first makes the crash land between writes, so the test can insist on a resume.
func killAtCheckpoint(t *testing.T, cmd *exec.Cmd, dir string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		if checkpointsComplete(dir) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no complete checkpoint was written")
		}
		_ = cmd.Process.Signal(syscall.SIGCONT)
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// checkpointsComplete reports whether dir holds at least one checkpoint file and all of them parse.
func checkpointsComplete(dir string) bool {
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !json.Valid(data) {
			return errTorn
		}
		found = true
		return nil
	})
	return err == nil && found
}

var errTorn = errors.New("torn checkpoint")
