package artifacts

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argoproj/argo-workflows/v4/workflow/artifacts/plugin"

	"github.com/argo-eci/argo-eci/internal/osstest"
)

// fakeSTS answers AssumeRoleWithOIDC: the first call gets the first key with an expiry 182 s
// away (credentials-go renews 180 s before expiry, so after about 2 s), every later call the
// second key, valid for an hour.
type fakeSTS struct {
	calls atomic.Int32
	keys  [2][2]string
}

func (s *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if r.Form.Get("Action") != "AssumeRoleWithOIDC" || r.Form.Get("OIDCToken") != "oidc-token" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	n := s.calls.Add(1)
	k, ttl := s.keys[1], time.Hour
	if n == 1 {
		k, ttl = s.keys[0], 182*time.Second
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"Credentials": map[string]string{
		"AccessKeyId": k[0], "AccessKeySecret": k[1], "SecurityToken": "sts-token",
		"Expiration": time.Now().Add(ttl).UTC().Format("2006-01-02T15:04:05Z"),
	}})
}

// TestRRSACredentialsRenewedDuringTransfer runs the artifact server with RRSA credentials whose
// token expires in the middle of a long Save: the plugin must switch to the renewed credentials
// before the old ones are revoked, and the Save must succeed.
func TestRRSACredentialsRenewedDuringTransfer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the argo-eci binary")
	}
	dir := shortTempDir(t)
	bin := buildArgoECI(t, dir)
	s := startOSS(t, osstest.Options{AccessKeyID: "first-id", AccessKeySecret: "first-secret",
		Remote: osstest.Remote{BytesPerSecond: 512 << 10, FirstByteLatency: -1, AggregateBytesPerSecond: -1}})
	sts := &fakeSTS{keys: [2][2]string{{"first-id", "first-secret"}, {"second-id", "second-secret"}}}
	stsSrv := httptest.NewTLSServer(sts)
	t.Cleanup(stsSrv.Close)
	ca := filepath.Join(dir, "ca.pem")
	writeFile(t, ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: stsSrv.Certificate().Raw}))
	token := filepath.Join(dir, "token")
	writeFile(t, token, []byte("oidc-token"))

	socket := filepath.Join(dir, "socket")
	cmd := exec.Command(bin, "artifact-server", "--allowed-endpoints=127.0.0.1", "--allow-http",
		"--sts-endpoint="+strings.TrimPrefix(stsSrv.URL, "https://"), socket)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OSS_") && !strings.HasPrefix(kv, "ALIBABA_CLOUD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+ca, EnvRoleARN+"=acs:ram::1:role/artifacts",
		EnvOIDCProviderARN+"=acs:ram::1:oidc-provider/ack", EnvOIDCTokenFile+"="+token)
	a := &artifactServer{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = a.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitForSocket(t, socket)
	client := connect(t, socket, a.stderr)

	cfg := fmt.Sprintf("endpoint: %s\nbucket: %s\nregion: %s\npathStyle: true\npartSize: 128Ki\nparallel: 2\n", s.URL, osstest.DefaultBucket, s.Region())
	data := randomBytes(23, 4<<20) // about 4 s at 512 KiB/s over two connections
	src := filepath.Join(dir, "big")
	writeFile(t, src, data)
	saved := make(chan error, 1)
	go func() { saved <- client.Save(argoContext(), src, pluginArtifact(cfg, "rrsa/big")) }()
	// The first token is renewed once it is within 180 s of its expiry, about 2 s after it was
	// issued; like a real STS token it stays valid until then, and is revoked afterwards.
	for deadline := time.Now().Add(20 * time.Second); s.Requests("UploadPart") == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no part was uploaded\n%s", a.stderr.String())
		}
	}
	s.AddCredentials("second-id", "second-secret")
	time.Sleep(3 * time.Second)
	s.RevokeCredentials("first-id")
	before := s.Requests("UploadPart")
	if err := <-saved; err != nil {
		t.Fatalf("save across the token's expiry: %v\n%s", err, a.stderr.String())
	}
	if s.Requests("UploadPart") == before {
		t.Fatal("the transfer finished before the old key was revoked; the test proves nothing")
	}
	if got, _ := s.Object(osstest.DefaultBucket, "rrsa/big"); !bytes.Equal(got, data) {
		t.Fatal("stored object differs")
	}
	if sts.calls.Load() < 2 {
		t.Fatalf("STS was asked %d times; the expiring token was never renewed", sts.calls.Load())
	}
}

// connect connects Argo's plugin client to the socket.
func connect(t *testing.T, socket string, stderr *bytes.Buffer) *plugin.Driver {
	t.Helper()
	client, err := plugin.NewDriver(argoContext(), "argo-eci-oss", socket, 10*time.Second)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}
