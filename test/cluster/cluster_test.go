package cluster

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestNamespaceName(t *testing.T) {
	tests := []struct {
		test string
		want string
	}{
		{"TestFoundation", "e2e-testfoundation-abcde"},
		{"TestShaping/GPU_request#01", "e2e-testshaping-gpu-request-01-abcde"},
		{"Test__x--y", "e2e-test-x-y-abcde"},
		{"TestTrailing/", "e2e-testtrailing-abcde"},
	}
	for _, tc := range tests {
		if got := namespaceName(tc.test, "abcde"); got != tc.want {
			t.Errorf("namespaceName(%q) = %q, want %q", tc.test, got, tc.want)
		}
	}
	long := namespaceName("Test"+strings.Repeat("VeryLongSubtestName/", 10), "abcde")
	if len(long) > 63 || !dnsLabel.MatchString(long) || !strings.HasSuffix(long, "-abcde") {
		t.Errorf("namespaceName(long) = %q (%d chars): not a DNS label ending in the suffix", long, len(long))
	}
}

func TestTailLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	lines := []string{"a namespace=one", "b", "c namespace=two", "d namespace=one", "e"}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		n      int
		filter string
		want   []string
	}{
		{2, "", []string{"d namespace=one", "e"}},
		{10, "", lines},
		{1, "namespace=one", []string{"d namespace=one"}},
		{5, "namespace=one", []string{"a namespace=one", "d namespace=one"}},
		{5, "nothing", nil},
	}
	for _, tc := range tests {
		got, err := tailLines(path, tc.n, tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("tailLines(%d, %q) = %q, want %q", tc.n, tc.filter, got, tc.want)
		}
	}
	if _, err := tailLines(filepath.Join(t.TempDir(), "missing.log"), 3, ""); !os.IsNotExist(err) {
		t.Errorf("tailLines(missing) error = %v, want not-exist", err)
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "hack", "cluster", "up.sh")); err != nil {
		t.Errorf("repoRoot() = %s, which has no hack/cluster/up.sh: %v", root, err)
	}
	for gomod, want := range map[string]bool{
		"module github.com/argo-eci/argo-eci\n\ngo 1.25\n":            true,
		"// x\nmodule github.com/argo-eci/argo-eci/hack/tools/kube\n": false,
		"module github.com/argoproj/argo-workflows/v4\n":              false,
		"go 1.25\n": false,
	} {
		if got := isRootModule([]byte(gomod)); got != want {
			t.Errorf("isRootModule(%q) = %v, want %v", gomod, got, want)
		}
	}
}

func TestLogHasLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "controller.log")
	log := `time=1 level=INFO msg="Executor plugin added" component=config_map_informer namespace=ns-a name=argo-eci-executor-plugin
time=2 level=INFO msg="Executor plugin added" name=other-executor-plugin namespace=ns-b
`
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	added := `msg="Executor plugin added"`
	tests := []struct {
		subs []string
		want bool
	}{
		{[]string{added, " namespace=ns-a ", " name=argo-eci-executor-plugin "}, true},
		{[]string{added, " namespace=ns-b ", " name=other-executor-plugin "}, true}, // last field
		{[]string{added, " namespace=ns ", " name=argo-eci-executor-plugin "}, false},
		{[]string{added, " namespace=ns-b ", " name=argo-eci-executor-plugin "}, false},
	}
	for _, tc := range tests {
		got, err := logHasLine(path, tc.subs)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("logHasLine(%q) = %v, want %v", tc.subs, got, tc.want)
		}
	}
}
