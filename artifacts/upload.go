package artifacts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"golang.org/x/sync/errgroup"
)

// Save uploads the file or directory at path to key.
//
// A file replaces the object at key in one atomic step (a PUT, or the Complete of a multipart
// upload whose every part was CRC-checked first): a Save that fails leaves the previous object
// as it was. A single PUT carries Content-MD5, so OSS refuses a body altered on the way. If
// OSS reports a CRC-64 after the commit that differs from the file's, the object is deleted:
// no artifact is better than a wrong one.
//
// A directory is saved as a new generation and switched to atomically (see layout.go): a
// failed Save leaves the previous version complete, a successful one leaves none of its files
// visible. Multipart uploads this call started are aborted on failure; those of other calls
// are never touched.
func (b *Bucket) Save(ctx context.Context, path, key string) error {
	key, err := normalizeKey(key)
	if err != nil {
		return err
	}
	info, err := os.Stat(path) // a root that is a symbolic link is followed
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	switch {
	case info.IsDir():
		return b.saveDirectory(ctx, path, key)
	case !info.Mode().IsRegular():
		return fmt.Errorf("save %s: %w: %s is neither a regular file nor a directory", path, ErrUnsupportedFile, info.Mode().Type())
	case strings.HasSuffix(key, "/"):
		return fmt.Errorf("save: key %q ends with '/', which names a directory, but %s is a file", key, path)
	}
	return b.uploadFile(ctx, path, key, info.Size(), b.cfg.Parallel, true)
}

func (b *Bucket) saveDirectory(ctx context.Context, path, key string) error {
	entries, err := walkTree(path)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	previous, err := b.readManifest(ctx, key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	gen := newGeneration()
	prefix := generationPrefix(key, gen)
	for _, e := range entries {
		if len(prefix)+len(e.rel) > maxKeyLen {
			return fmt.Errorf("save %s: %w: key %q would exceed OSS's %d bytes", e.rel, ErrUnsupportedFile, prefix+e.rel, maxKeyLen)
		}
	}
	if len(entries) == 0 {
		entries = []entry{{rel: ""}} // an empty directory is still a directory artifact
	}
	err = b.uploadEntries(ctx, prefix, entries)
	if err == nil {
		err = b.writeManifest(ctx, key, gen)
	}
	if err != nil {
		b.discardGeneration(ctx, key, gen)
		return err
	}
	b.removeReplaced(ctx, key, previous)
	b.removeShadowingFile(ctx, key)
	b.log.Info("saved directory", "key", key, "objects", len(entries), "generation", gen)
	return nil
}

// uploadEntries uploads a generation's files through a pool bounded by parallel.
func (b *Bucket) uploadEntries(ctx context.Context, prefix string, entries []entry) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.Parallel)
	for _, e := range entries {
		g.Go(func() error {
			if e.path == "" {
				return b.putEmpty(gctx, prefix+e.rel)
			}
			// Files of a directory share the pool: each multipart file gets a fair share.
			return b.uploadFile(gctx, e.path, prefix+e.rel, e.size, max(1, b.cfg.Parallel/4), false)
		})
	}
	return g.Wait()
}

// discardGeneration deletes a generation that failed before its switch, unless a manifest
// names it after all (a switch whose reply was lost).
func (b *Bucket) discardGeneration(ctx context.Context, key, gen string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if cur, err := b.readManifest(cctx, key); err == nil && cur == gen {
		if err := b.deleteKeys(cctx, []string{manifestKey(key)}); err != nil {
			b.log.Warn("could not remove the manifest of a failed directory save", "key", key, "error", err)
			return
		}
	}
	prefix := generationPrefix(key, gen)
	objs, err := b.list(cctx, prefix, listPage)
	if err == nil {
		keys := make([]string, len(objs))
		for i, o := range objs {
			keys[i] = o.key
		}
		err = b.deleteKeys(cctx, keys)
	}
	if err != nil {
		b.log.Warn("could not remove the objects of a failed directory save", "key", key, "error", err)
	}
}

func (b *Bucket) putRequest(key string) *oss.PutObjectRequest {
	req := &oss.PutObjectRequest{Bucket: &b.cfg.Bucket, Key: oss.Ptr(key)}
	if b.cfg.ServerSideEncryption != "" {
		req.ServerSideEncryption = oss.Ptr(b.cfg.ServerSideEncryption)
	}
	if b.cfg.StorageClass != "" {
		req.StorageClass = oss.StorageClassType(b.cfg.StorageClass)
	}
	return req
}

func (b *Bucket) putEmpty(ctx context.Context, key string) error {
	req := b.putRequest(key)
	req.Body = strings.NewReader("")
	t := newTransfer(b.client, key, b.cfg.MaxAttempts)
	if _, err := t.PutObject(ctx, req); err != nil {
		return fmt.Errorf("put oss://%s/%s: %w", b.cfg.Bucket, key, err)
	}
	return nil
}

// checkpointDir returns the per-transfer checkpoint directory (with the trailing separator the
// SDK needs), derived from the transfer so a restarted process finds it again.
func (b *Bucket) checkpointDir(kind, key, path string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + b.cfg.Bucket + "\x00" + key + "\x00" + path))
	return filepath.Join(b.cfg.CheckpointDir, hex.EncodeToString(sum[:12])) + string(filepath.Separator)
}

// partSize is the part size for a file of size bytes: the configured one, grown in whole
// multiples of it until the file fits in maxParts parts.
func partSize(size, configured int64, maxParts int) int64 {
	ps := configured
	if n := (size + ps - 1) / ps; n > int64(maxParts) {
		mult := (size + configured*int64(maxParts) - 1) / (configured * int64(maxParts))
		ps = configured * mult
	}
	return ps
}

// uploadFile uploads one file: a single PUT below the part size, else a parallel multipart
// upload; every body's CRC-64 is checked against OSS's (see transfer). top marks the object a
// user addresses directly, whose single PUT carries Content-MD5. On failure the uploads this
// call started are aborted, and an object committed with a CRC-64 that does not match is
// deleted.
func (b *Bucket) uploadFile(ctx context.Context, path, key string, size int64, parallel int, top bool) error {
	cp := ""
	if b.cfg.CheckpointDir != "" && size >= b.cfg.PartSize.Bytes {
		cp = b.checkpointDir("upload", key, path)
		if err := os.MkdirAll(cp, 0o700); err != nil {
			return fmt.Errorf("checkpoint dir: %w", err)
		}
	}
	t := newTransfer(b.client, key, b.cfg.MaxAttempts)
	t.path, t.md5 = path, top
	u := oss.NewUploader(t, func(o *oss.UploaderOptions) {
		o.PartSize = partSize(size, b.cfg.PartSize.Bytes, b.maxParts)
		o.ParallelNum = parallel
		o.LeavePartsOnError = false
		if cp != "" {
			o.EnableCheckpoint = true
			o.CheckpointDir = cp
		}
	})
	start := time.Now()
	_, err := u.UploadFile(ctx, b.putRequest(key), path)
	if aerr := t.abortStarted(ctx, b.cfg.Bucket); aerr != nil {
		b.log.Warn("could not abort multipart uploads", "key", key, "error", aerr)
	}
	if cp != "" {
		_ = os.RemoveAll(cp)
	}
	if err != nil {
		if errors.Is(err, ErrCRCMismatch) && t.committed {
			b.removeUnverified(ctx, key)
		}
		return fmt.Errorf("upload %s to oss://%s/%s: %w", path, b.cfg.Bucket, key, err)
	}
	b.log.Debug("uploaded", "key", key, "bytes", size, "seconds", time.Since(start).Seconds())
	return nil
}

// removeUnverified deletes an object whose committed bytes did not verify.
func (b *Bucket) removeUnverified(ctx context.Context, key string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if err := b.deleteKeys(cctx, []string{key}); err != nil {
		b.log.Warn("could not delete an object that failed its CRC-64 check", "key", key, "error", err)
	}
}

// removeShadowingFile deletes an object at exactly key left by an earlier Save of a file to the
// same key: Load would otherwise keep returning that file instead of the directory.
func (b *Bucket) removeShadowingFile(ctx context.Context, key string) {
	if strings.HasSuffix(key, "/") {
		return
	}
	if _, _, err := b.head(ctx, key); err == nil {
		if err := b.deleteKeys(ctx, []string{key}); err != nil {
			b.log.Warn("could not delete the file a directory save replaced", "key", key, "error", err)
		}
	}
}
