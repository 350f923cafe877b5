package artifacts

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// A directory artifact at key K is stored as generations:
//
//	K/.argo-eci-manifest.json          {"generation": "G"}: the current version
//	K/.argo-eci-data/G/<relative path> the files of generation G ("dir/" for empty directories)
//
// A Save uploads and verifies a whole new generation first; replacing the manifest (one PUT,
// atomic in OSS) is the switch; only then is the generation it replaced deleted. A Save that
// fails at any point before the switch deletes its own generation and leaves the manifest, so
// the previous version stays complete and loadable; after the switch Load sees only the new
// files. Directories without a manifest (written by other tools or earlier versions) are read
// as plain prefixes, and the first Save over one replaces its files the same way.
const (
	manifestName = ".argo-eci-manifest.json"
	dataDir      = ".argo-eci-data/"
	// maxManifest bounds what is read of a manifest.
	maxManifest = 64 << 10
)

type manifest struct {
	Generation string `json:"generation"`
}

// newGeneration names a generation: sortable by time, unique by its random tail.
func newGeneration() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

func manifestKey(key string) string { return dirPrefix(key) + manifestName }

func generationPrefix(key, gen string) string { return dirPrefix(key) + dataDir + gen + "/" }

// reserved reports whether rel (relative to a directory prefix) is one of the layout's own
// names, which plain listings leave out.
func reserved(rel string) bool {
	return rel == manifestName || strings.HasPrefix(rel, dataDir)
}

// validGeneration accepts what newGeneration makes: letters, digits, '-' and '.', starting
// with a letter or digit (so never "." or "..").
func validGeneration(g string) bool {
	if g == "" || len(g) > 64 || g[0] == '.' || g[0] == '-' {
		return false
	}
	for _, r := range g {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// readManifest returns the generation recorded for the directory at key; ErrNotFound when the
// directory has no manifest.
func (b *Bucket) readManifest(ctx context.Context, key string) (string, error) {
	mk := manifestKey(key)
	res, err := b.client.GetObject(ctx, &oss.GetObjectRequest{Bucket: &b.cfg.Bucket, Key: &mk})
	if isNotFound(err) {
		return "", fmt.Errorf("%w: oss://%s/%s", ErrNotFound, b.cfg.Bucket, mk)
	}
	if err != nil {
		return "", fmt.Errorf("get oss://%s/%s: %w", b.cfg.Bucket, mk, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxManifest))
	if err != nil {
		return "", fmt.Errorf("get oss://%s/%s: %w", b.cfg.Bucket, mk, err)
	}
	if err := checkCRC(mk, data, res.Headers.Get(headerCRC64)); err != nil {
		return "", err
	}
	gen, err := parseManifest(data)
	if err != nil {
		return "", fmt.Errorf("oss://%s/%s: %w", b.cfg.Bucket, mk, err)
	}
	return gen, nil
}

// errBadManifest means a manifest object is not one this package wrote.
var errBadManifest = errors.New("not a valid directory manifest")

// parseManifest decodes a manifest strictly and returns its generation.
func parseManifest(data []byte) (string, error) {
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || dec.More() || !validGeneration(m.Generation) {
		return "", errBadManifest
	}
	return m.Generation, nil
}

func checkCRC(key string, data []byte, header string) error {
	if header == "" {
		return fmt.Errorf("%s: %w", key, ErrMissingCRC)
	}
	got := crc64Of(data)
	if header != fmt.Sprint(got) {
		var server uint64
		_, _ = fmt.Sscan(header, &server)
		return &CRCError{Key: key, Computed: got, Server: server}
	}
	return nil
}

// writeManifest switches the directory at key to generation gen. The body goes with
// Content-MD5, so OSS refuses it if it was altered on the way.
func (b *Bucket) writeManifest(ctx context.Context, key, gen string) error {
	data, _ := json.Marshal(manifest{Generation: gen})
	mk := manifestKey(key)
	t := newTransfer(b.client, mk, b.cfg.MaxAttempts)
	t.md5 = true
	req := &oss.PutObjectRequest{Bucket: &b.cfg.Bucket, Key: &mk, Body: bytes.NewReader(data), ContentType: oss.Ptr("application/json")}
	if _, err := t.PutObject(ctx, req); err != nil {
		return fmt.Errorf("switch oss://%s/%s to generation %s: %w", b.cfg.Bucket, key, gen, err)
	}
	return nil
}

// replaced deletes what a switch to gen replaced: the previous generation, or, for a
// directory that had no manifest, its plain files. Failures only leave unreachable objects.
func (b *Bucket) removeReplaced(ctx context.Context, key, previous string) {
	var prefix string
	if previous != "" {
		prefix = generationPrefix(key, previous)
	} else {
		prefix = dirPrefix(key)
	}
	objs, err := b.list(ctx, prefix, listPage)
	if err == nil {
		keys := make([]string, 0, len(objs))
		for _, o := range objs {
			if previous != "" || !reserved(strings.TrimPrefix(o.key, prefix)) {
				keys = append(keys, o.key)
			}
		}
		err = b.deleteKeys(ctx, keys)
	}
	if err != nil {
		b.log.Warn("could not delete the replaced version of a directory", "key", key, "error", err)
	}
}

// location is where the objects of a directory artifact live: prefix, and whether it is a
// generation (so the layout's own names are not filtered out of it).
type location struct {
	prefix  string
	managed bool
}

// locate finds the objects of the directory artifact at key: the current generation if the
// directory has a manifest, else the plain prefix. A key inside a managed directory
// ("K/sub", as argo-server asks when browsing) resolves through the nearest manifest above it.
func (b *Bucket) locate(ctx context.Context, key string) (location, error) {
	gen, err := b.readManifest(ctx, key)
	if err == nil {
		return location{prefix: generationPrefix(key, gen), managed: true}, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return location{}, err
	}
	trimmed := strings.TrimSuffix(key, "/")
	for i := strings.LastIndex(trimmed, "/"); i > 0; i = strings.LastIndex(trimmed[:i], "/") {
		parent := trimmed[:i]
		gen, err := b.readManifest(ctx, parent)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return location{}, err
		}
		return location{prefix: generationPrefix(parent, gen) + trimmed[i+1:] + "/", managed: true}, nil
	}
	return location{prefix: dirPrefix(key)}, nil
}

// resolveFile maps a key inside a managed directory to its object ("" when key is in none).
func (b *Bucket) resolveFile(ctx context.Context, key string) (string, error) {
	for i := strings.LastIndex(key, "/"); i > 0; i = strings.LastIndex(key[:i], "/") {
		gen, err := b.readManifest(ctx, key[:i])
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		return generationPrefix(key[:i], gen) + key[i+1:], nil
	}
	return "", nil
}
