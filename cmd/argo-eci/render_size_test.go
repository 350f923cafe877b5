package main

import (
	"strings"
	"testing"
)

// TestRenderSizeLimit: a rendered object larger than --max-object-bytes is an error finding
// (exit 1) naming its size and the limit; within the limit, or with 0, render succeeds.
func TestRenderSizeLimit(t *testing.T) {
	const f = "../../emissary/testdata/corpus/02-steps.yaml"
	out, stderr, err := runCmd(t, "", "render", "-f", f, "--max-object-bytes", "500")
	if exitCode(err) != 1 {
		t.Fatalf("exit %d (%v), want 1\n%s", exitCode(err), err, stderr)
	}
	if !strings.Contains(stderr, "ECI090") || !strings.Contains(stderr, "the shaped Workflow is ") || !strings.Contains(stderr, "above the limit of 500 bytes") {
		t.Errorf("stderr does not name the size and the limit:\n%s", stderr)
	}
	if !strings.Contains(out, "eci-use-specs") {
		t.Errorf("the rendered workflow is not printed:\n%s", out)
	}
	for _, limit := range []string{"0", "1000000"} {
		if _, stderr, err := runCmd(t, "", "render", "-f", f, "--max-object-bytes", limit); err != nil || strings.Contains(stderr, "ECI090") {
			t.Errorf("--max-object-bytes %s: %v\n%s", limit, err, stderr)
		}
	}
}
