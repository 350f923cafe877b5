package artifacts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"golang.org/x/sync/errgroup"
)

// Load downloads key to path: a file, or a directory (its current generation, or the objects
// under key + "/" when it has no manifest). Every object key is checked before anything is
// written; a key that would land outside path fails the whole Load with ErrUnsafeKey.
func (b *Bucket) Load(ctx context.Context, key, path string) error {
	key, err := normalizeKey(key)
	if err != nil {
		return err
	}
	if !strings.HasSuffix(key, "/") {
		size, crc, err := b.head(ctx, key)
		if err == nil {
			if crc == "" {
				return fmt.Errorf("load oss://%s/%s: %w", b.cfg.Bucket, key, ErrMissingCRC)
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return fmt.Errorf("load: %w", err)
			}
			return b.downloadFile(ctx, key, path, size, b.cfg.Parallel)
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	loc, objs, err := b.listDirectory(ctx, key)
	if err != nil {
		return err
	}
	return b.loadDirectory(ctx, key, loc, objs, path)
}

func (b *Bucket) loadDirectory(ctx context.Context, key string, loc location, objs []object, path string) error {
	type job struct {
		key, path string
		size      int64
	}
	var (
		dirs = []string{path}
		jobs []job
	)
	for _, o := range objs {
		rel, err := relativeKey(loc.prefix, o.key)
		if err != nil {
			return err
		}
		p, err := localPath(path, rel)
		if err != nil {
			return err
		}
		if rel == "" || strings.HasSuffix(rel, "/") {
			dirs = append(dirs, p)
			continue
		}
		dirs = append(dirs, filepath.Dir(p))
		jobs = append(jobs, job{key: o.key, path: p, size: o.size})
	}
	made := map[string]bool{}
	for _, d := range dirs {
		if !made[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("load: %w", err)
			}
			made[d] = true
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.Parallel)
	for _, j := range jobs {
		g.Go(func() error { return b.downloadFile(gctx, j.key, j.path, j.size, max(1, b.cfg.Parallel/4)) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	b.log.Info("loaded directory", "key", key, "objects", len(jobs))
	return nil
}

// downloadFile downloads one object: one streamed GET up to the part size, else the SDK's
// parallel ranged Downloader. The CRC-64 is verified either way; a file that fails it is
// removed.
func (b *Bucket) downloadFile(ctx context.Context, key, path string, size int64, parallel int) error {
	start := time.Now()
	var err error
	if size <= b.cfg.PartSize.Bytes {
		err = b.getSmall(ctx, key, path)
	} else {
		err = b.getRanged(ctx, key, path, size, parallel)
	}
	if err != nil {
		return fmt.Errorf("download oss://%s/%s: %w", b.cfg.Bucket, key, err)
	}
	b.log.Debug("downloaded", "key", key, "bytes", size, "seconds", time.Since(start).Seconds())
	return nil
}

func (b *Bucket) getRanged(ctx context.Context, key, path string, size int64, parallel int) error {
	cp := ""
	if b.cfg.CheckpointDir != "" {
		cp = b.checkpointDir("download", key, path)
		if err := os.MkdirAll(cp, 0o700); err != nil {
			return fmt.Errorf("checkpoint dir: %w", err)
		}
	}
	_, crc, err := b.head(ctx, key)
	if err != nil {
		return err
	}
	server, perr := strconv.ParseUint(crc, 10, 64)
	if crc == "" || perr != nil {
		return ErrMissingCRC
	}
	t := newTransfer(b.client, key, b.cfg.MaxAttempts)
	d := oss.NewDownloader(t, func(o *oss.DownloaderOptions) {
		o.PartSize = b.cfg.PartSize.Bytes
		o.ParallelNum = parallel
		o.UseTempFile = true
		if cp != "" {
			o.EnableCheckpoint = true
			o.CheckpointDir = cp
		}
	})
	_, err = d.DownloadFile(ctx, &oss.GetObjectRequest{Bucket: &b.cfg.Bucket, Key: &key}, path)
	// A cancelled download keeps its checkpoint and partial temp file so the next Load
	// resumes; any other outcome cleans both up.
	keep := cp != "" && err != nil && ctx.Err() != nil
	if cp != "" && !keep {
		_ = os.RemoveAll(cp)
	}
	if err != nil {
		if !keep {
			_ = os.Remove(path + oss.TempFileSuffix)
		}
		return err
	}
	got, err := t.downloadedCRC(size, path)
	if err == nil && got != server {
		err = &CRCError{Key: key, Computed: got, Server: server}
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// getSmall streams one object into path through a CRC-64 check; a failed download removes the
// partial file.
func (b *Bucket) getSmall(ctx context.Context, key, path string) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	return b.stream(ctx, key, f)
}
