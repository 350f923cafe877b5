package artifacts

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/workflow/artifacts/plugin"

	"github.com/argo-eci/argo-eci/internal/osstest"
)

const (
	testIDEnv     = "TEST_OSS_ID"
	testSecretEnv = "TEST_OSS_SECRET"
)

// testPolicy admits the test server: plain http on 127.0.0.1, credentials named TEST_OSS_*.
var testPolicy = Policy{AllowedEndpoints: []string{"127.0.0.1"}, AllowHTTP: true, CredentialEnvPrefix: "TEST_OSS_"}

// mapDriver is a driver reading credentials from env, under testPolicy.
func mapDriver(env map[string]string) *Driver {
	return &Driver{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Policy: testPolicy}
}

// fixture is an OSS test server, an artifact plugin server on a real unix socket and Argo's
// own plugin client connected to it.
type fixture struct {
	oss    *osstest.Server
	client *plugin.Driver
	env    map[string]string
	ctx    context.Context
}

func argoContext() context.Context {
	return logging.WithLogger(context.Background(), logging.NewSlogLoggerCustom(logging.Error, logging.Text, io.Discard))
}

func startOSS(t testing.TB, opts osstest.Options) *osstest.Server {
	t.Helper()
	s, err := osstest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newFixture(t *testing.T, opts osstest.Options) *fixture {
	t.Helper()
	if opts.Remote == (osstest.Remote{}) {
		opts.Remote = osstest.Remote{Off: true}
	}
	s := startOSS(t, opts)
	env := map[string]string{testIDEnv: s.AccessKeyID(), testSecretEnv: s.AccessKeySecret()}
	srv := &Server{Driver: mapDriver(env)}
	socket := filepath.Join(shortTempDir(t), "plugin.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, socket, srv) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	waitForSocket(t, socket)
	actx := argoContext()
	client, err := plugin.NewDriver(actx, "argo-eci-oss", socket, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return &fixture{oss: s, client: client, env: env, ctx: actx}
}

// waitForSocket waits until the socket exists: Argo's client otherwise sleeps a whole second
// before its next look.
func waitForSocket(t testing.TB, socket string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if _, err := os.Stat(socket); err == nil {
			return
		}
	}
	t.Fatalf("socket %s did not appear", socket)
}

// shortTempDir is a temporary directory with a path short enough for a unix socket.
func shortTempDir(t testing.TB) string {
	dir, err := os.MkdirTemp("/tmp", "aeci")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func configFor(s *osstest.Server, extra string) string {
	return fmt.Sprintf("endpoint: %s\nbucket: %s\nregion: %s\npathStyle: true\ncredentials:\n  accessKeyIdEnv: %s\n  accessKeySecretEnv: %s\n%s",
		s.URL, osstest.DefaultBucket, s.Region(), testIDEnv, testSecretEnv, extra)
}

func pluginArtifact(configuration, key string) *wfv1.Artifact {
	return &wfv1.Artifact{Name: "a", ArtifactLocation: wfv1.ArtifactLocation{Plugin: &wfv1.PluginArtifact{
		Name: "argo-eci-oss", Configuration: configuration, Key: key,
	}}}
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tree returns "rel-path:size:crc" for every file and "rel-path/" for every directory under root.
func tree(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if info.IsDir() {
			out = append(out, rel+"/")
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s:%d:%x", rel, len(data), osstest.CRC64(data)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func sameTree(t *testing.T, want, got string) {
	t.Helper()
	w, g := tree(t, want), tree(t, got)
	if strings.Join(w, "\n") != strings.Join(g, "\n") {
		t.Fatalf("trees differ:\nwant %q\ngot  %q", w, g)
	}
}

func readAll(t *testing.T, r io.ReadCloser) ([]byte, error) {
	t.Helper()
	defer r.Close()
	var buf bytes.Buffer
	_, err := io.Copy(&buf, r)
	return buf.Bytes(), err
}
