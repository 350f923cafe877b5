package artifacts

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// ErrUnsafeKey means an object key would be written outside the target directory on Load.
var ErrUnsafeKey = errors.New("object key escapes the target directory")

// ErrEmptyKey means the artifact has no plugin key.
var ErrEmptyKey = errors.New("artifact has no plugin key")

// normalizeKey checks an artifact key: it must be non-empty and must not start with "/".
func normalizeKey(key string) (string, error) {
	if key == "" || key == "/" {
		return "", ErrEmptyKey
	}
	if strings.HasPrefix(key, "/") {
		return "", fmt.Errorf("key %q: OSS object keys cannot start with '/'", key)
	}
	return key, nil
}

// dirPrefix returns the prefix under which a directory artifact's objects live.
func dirPrefix(key string) string {
	if strings.HasSuffix(key, "/") {
		return key
	}
	return key + "/"
}

// relativeKey returns the path of object key relative to the directory prefix, checked so
// that joining it to a local directory cannot leave that directory: no "..", no absolute
// paths, no empty or "." segments, no NUL bytes, no backslashes.
func relativeKey(prefix, key string) (string, error) {
	rel, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return "", fmt.Errorf("%w: %q is not under %q", ErrUnsafeKey, key, prefix)
	}
	dir := strings.HasSuffix(rel, "/")
	body := strings.TrimSuffix(rel, "/")
	if body == "" {
		return "", nil // the directory marker itself
	}
	if strings.HasPrefix(body, "/") || strings.ContainsAny(body, "\x00\\") {
		return "", fmt.Errorf("%w: %q", ErrUnsafeKey, key)
	}
	for _, seg := range strings.Split(body, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%w: %q", ErrUnsafeKey, key)
		}
	}
	if path.Clean(body) != body {
		return "", fmt.Errorf("%w: %q", ErrUnsafeKey, key)
	}
	if dir {
		return body + "/", nil
	}
	return body, nil
}

// localPath joins a checked relative key to root.
func localPath(root, rel string) (string, error) {
	p := filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(rel, "/")))
	if p != root && !strings.HasPrefix(p, filepath.Clean(root)+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %q", ErrUnsafeKey, rel)
	}
	return p, nil
}
