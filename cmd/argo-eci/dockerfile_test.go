package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileHygiene: the image build stamps the version and commit into the binary and the
// OCI labels, and every base image comes from a build argument, so that it can be pinned by
// digest (or is pinned by digest in place).
func TestDockerfileHygiene(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	from := regexp.MustCompile(`(?m)^FROM\s+(\S+)`)
	for _, m := range from.FindAllStringSubmatch(df, -1) {
		if !strings.HasPrefix(m[1], "${") && !strings.Contains(m[1], "@sha256:") {
			t.Errorf("FROM %s: want a build argument or an image pinned by digest", m[1])
		}
	}
	for _, want := range []string{
		"-X main.version=${VERSION}", "-X main.commit=${COMMIT}",
		`org.opencontainers.image.version="${VERSION}"`, `org.opencontainers.image.revision="${COMMIT}"`,
		"org.opencontainers.image.source=", "org.opencontainers.image.created=",
		"USER 65532:65532",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
}
