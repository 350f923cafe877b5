package pluginmanifests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/argoproj/argo-workflows/v4/pkg/plugins/spec"
	"sigs.k8s.io/yaml"
)

// Argo's `argoexec agent init` (cmd/argoexec/commands/agent.go, v4.0.7) runs as uid 8737 with gid 0
// (workflow/common/security_context.go sets no group) and, for each plugin sidecar, does
// os.Mkdir(/var/run/argo/<sidecar>, 0o770) and os.WriteFile(<dir>/token, token, 0o440). The sidecar
// sees that directory as /var/run/argo (a subPath mount of the same emptyDir).
const (
	agentUID = 8737
	agentGID = 0
)

// writeAgentToken lays the token out exactly as `agent init` leaves it: same owner, group and modes.
func writeAgentToken(t *testing.T, root, sidecar, token string) string {
	t.Helper()
	dir := filepath.Join(root, sidecar)
	file := filepath.Join(dir, "token")
	if err := os.Mkdir(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(token), 0o440); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, file} {
		if err := os.Chown(p, agentUID, agentGID); err != nil {
			t.Fatal(err)
		}
	}
	// Modes exactly as requested by agent init, whatever this process's umask is.
	if err := os.Chmod(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o440); err != nil {
		t.Fatal(err)
	}
	return file
}

func sidecarSpec(t *testing.T) *spec.Plugin {
	t.Helper()
	raw, err := os.ReadFile("plugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := &spec.Plugin{}
	if err := yaml.UnmarshalStrict(raw, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSidecarReadsAgentToken starts the real argo-eci binary as plugin.yaml's securityContext says
// (uid and gid) against a token written the way Argo's agent init writes it, and calls it with that
// token. A sidecar running as another uid and gid cannot open the file (argo#13015).
func TestSidecarReadsAgentToken(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create files as uid 8737 and start a process under another uid")
	}
	sc := sidecarSpec(t).Spec.Sidecar.Container.SecurityContext
	if sc == nil || sc.RunAsUser == nil {
		t.Fatal("plugin.yaml: securityContext.runAsUser must be set: the image's user is not what Argo's agent writes the token as")
	}
	uid, gid := uint32(*sc.RunAsUser), uint32(0)
	if sc.RunAsGroup != nil {
		gid = uint32(*sc.RunAsGroup)
	}

	root, err := os.MkdirTemp("", "argo-eci-token-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "argo-eci")
	build := exec.Command("go", "build", "-o", bin, "github.com/argo-eci/argo-eci/cmd/argo-eci")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	kubeconfig := filepath.Join(root, "kubeconfig")
	kc := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n" +
		"users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
	if err := os.WriteFile(kubeconfig, []byte(kc), 0o644); err != nil {
		t.Fatal(err)
	}
	const token = "abcdefghijklmnopqrstuvwxyzabcdef"
	tokenFile := writeAgentToken(t, filepath.Join(root), "argo-eci-plugin", token)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "plugin", "--listen=127.0.0.1:0", "--token-file="+tokenFile, "--kubeconfig="+kubeconfig)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, NoSetGroups: true}}
	cmd.Env = []string{"HOME=/nonexistent"}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })

	addr, logs := listenAddress(stderr)
	if addr == "" {
		t.Fatalf("plugin running as uid %d gid %d did not start with Argo's token file:\n%s", uid, gid, logs)
	}
	body := `{"workflow":{"metadata":{"name":"wf","namespace":"ns","uid":"u"}},"template":{"name":"t","plugin":{"other":{}}}}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/api/v1/template.execute", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(bytes.TrimSpace(got), []byte("{}")) {
		t.Fatalf("template.execute with the agent's token = %d %s", resp.StatusCode, got)
	}
}

// listenAddress reads the plugin's JSON log until it says where it listens; on failure it returns the
// log it read.
func listenAddress(r io.Reader) (string, string) {
	var logs strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(&logs, line)
		var rec struct {
			Msg     string `json:"msg"`
			Address string `json:"address"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Address != "" {
			go func() { _, _ = io.Copy(io.Discard, r) }()
			return rec.Address, logs.String()
		}
	}
	return "", logs.String()
}
