// Package promtest starts a real Prometheus (Debian's prometheus package) for tests, on a random
// 127.0.0.1 port, over a TSDB backfilled from OpenMetrics text with promtool.
package promtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/argo-eci/argo-eci/internal/fixture"
)

// FreePort returns a 127.0.0.1 port nothing listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start backfills openMetrics (which must end with "# EOF") into a new TSDB and starts prometheus
// on it; it returns the base URL and stops the server when the test ends (its log is printed when
// the test failed). A missing prometheus or promtool is reported with fixture.Missing.
func Start(t testing.TB, openMetrics string) string {
	t.Helper()
	for _, bin := range []string{"prometheus", "promtool"} {
		fixture.Program(t, bin, "prometheus")
	}
	dir := t.TempDir()
	input := filepath.Join(dir, "input.om")
	if err := os.WriteFile(input, []byte(openMetrics), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if out, err := exec.Command("promtool", "tsdb", "create-blocks-from", "openmetrics", input, data).CombinedOutput(); err != nil {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte("global: {scrape_interval: 15s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	cmd := exec.Command("prometheus", "--config.file="+conf, "--storage.tsdb.path="+data,
		"--storage.tsdb.retention.time=10y", "--web.listen-address="+addr, "--log.level=warn")
	logs, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(logs.Name())
			t.Logf("prometheus log:\n%s", out)
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus at %s not ready after 30s: %v", base, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
