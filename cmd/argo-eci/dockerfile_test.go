package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileHygiene: the image build stamps the version and commit into the binary and the
// OCI labels, and every base image is pinned by digest: in place, or as the default of the build
// argument it comes from (a tag alone can be moved to other content by whoever controls it).
func TestDockerfileHygiene(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	pinned := regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
	defaults := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^ARG\s+(\w+)=(\S+)`).FindAllStringSubmatch(df, -1) {
		defaults[m[1]] = m[2]
	}
	from := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(from) == 0 {
		t.Fatal("Dockerfile has no FROM")
	}
	for _, m := range from {
		image := m[1]
		if arg, ok := strings.CutPrefix(image, "${"); ok {
			image = defaults[strings.TrimSuffix(arg, "}")]
		}
		if !pinned.MatchString(image) {
			t.Errorf("FROM %s (%q): want an image pinned by digest", m[1], image)
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
