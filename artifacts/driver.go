package artifacts

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/retry"
	"golang.org/x/sync/errgroup"
)

// Errors callers classify with errors.Is.
var (
	// ErrNotFound means neither an object nor a directory exists at the key.
	ErrNotFound = errors.New("artifact not found")
	// ErrMissingCRC means OSS returned no x-oss-hash-crc64ecma header, so the transfer
	// could not be verified.
	ErrMissingCRC = errors.New("OSS response has no x-oss-hash-crc64ecma header; cannot verify the data")
	// ErrCRCMismatch means the data's CRC-64 differs from what OSS reported.
	ErrCRCMismatch = errors.New("CRC-64 mismatch: the data was corrupted in transit")
)

const (
	headerCRC64      = "x-oss-hash-crc64ecma"
	deleteBatch      = 1000
	listPage         = 1000
	abortTimeout     = 30 * time.Second
	maxCachedClients = 32
	readWriteTimeout = 2 * time.Minute
)

var crcTable = crc64.MakeTable(crc64.ECMA)

// Driver moves artifacts between local paths and OSS. It keeps one OSS client per distinct
// configuration so connections are reused across calls. The zero value needs Env set.
type Driver struct {
	// Env reads environment variables for credentials (os.LookupEnv in production).
	Env LookupEnv
	// Logger logs transfers; nil discards.
	Logger *slog.Logger
	// HTTPClient overrides the SDK's HTTP client (tests, proxies); nil uses the SDK's.
	HTTPClient *http.Client

	mu      sync.Mutex
	buckets map[string]*Bucket
}

// Bucket is one configured bucket with its client; it implements the six artifact operations.
type Bucket struct {
	cfg    *Config
	client *oss.Client
	log    *slog.Logger
}

// Bucket returns the bucket for an artifact configuration, parsing and validating it and
// resolving credentials once per distinct configuration text.
func (d *Driver) Bucket(configuration string) (*Bucket, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if b, ok := d.buckets[configuration]; ok {
		return b, nil
	}
	cfg, err := ParseConfig(configuration)
	if err != nil {
		return nil, err
	}
	env := d.Env
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	provider, source, err := credentialsProvider(cfg, env)
	if err != nil {
		return nil, err
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sdk := oss.LoadDefaultConfig().
		WithCredentialsProvider(provider).
		WithRegion(cfg.Region).
		WithEndpoint(cfg.Endpoint).
		WithUsePathStyle(cfg.PathStyle).
		WithRetryer(retry.NewStandard(func(o *retry.RetryOptions) { o.MaxAttempts = cfg.MaxAttempts })).
		WithMaxConnections(2 * MaxParallel * 2).
		// OSS answers CompleteMultipartUpload only once the object is assembled; the SDK's
		// 10 s idle timeout makes it retry a Complete that is still running, and the retry
		// then fails with NoSuchUpload although the first one succeeds.
		WithReadWriteTimeout(readWriteTimeout)
	if d.HTTPClient != nil {
		sdk = sdk.WithHttpClient(d.HTTPClient)
	}
	b := &Bucket{cfg: cfg, client: oss.NewClient(sdk), log: log.With("bucket", cfg.Bucket, "endpoint", cfg.Endpoint)}
	b.log.Debug("OSS client ready", "credentials", string(source), "partSize", int64(cfg.PartSize), "parallel", cfg.Parallel)
	if d.buckets == nil || len(d.buckets) >= maxCachedClients {
		d.buckets = map[string]*Bucket{}
	}
	d.buckets[configuration] = b
	return b, nil
}

// Config returns the bucket's parsed configuration.
func (b *Bucket) Config() Config { return *b.cfg }

func isNotFound(err error) bool {
	var se *oss.ServiceError
	return errors.As(err, &se) && (se.StatusCode == http.StatusNotFound)
}

// head returns the object's size and CRC, ErrNotFound if it does not exist.
func (b *Bucket) head(ctx context.Context, key string) (int64, string, error) {
	res, err := b.client.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: &b.cfg.Bucket, Key: &key})
	if isNotFound(err) {
		return 0, "", fmt.Errorf("%w: oss://%s/%s", ErrNotFound, b.cfg.Bucket, key)
	}
	if err != nil {
		return 0, "", fmt.Errorf("head oss://%s/%s: %w", b.cfg.Bucket, key, err)
	}
	return res.ContentLength, res.Headers.Get(headerCRC64), nil
}

// object is one listed object.
type object struct {
	key  string
	size int64
}

// listDirectory lists the objects of the directory artifact key (those under key + "/"); an
// empty directory is ErrNotFound, as no object marks it.
func (b *Bucket) listDirectory(ctx context.Context, key string) (string, []object, error) {
	prefix := dirPrefix(key)
	objs, err := b.list(ctx, prefix, listPage)
	if err != nil {
		return "", nil, err
	}
	if len(objs) == 0 {
		return "", nil, fmt.Errorf("%w: oss://%s/%s", ErrNotFound, b.cfg.Bucket, key)
	}
	return prefix, objs, nil
}

// list returns every object under prefix.
func (b *Bucket) list(ctx context.Context, prefix string, limit int32) ([]object, error) {
	p := b.client.NewListObjectsV2Paginator(&oss.ListObjectsV2Request{Bucket: &b.cfg.Bucket, Prefix: &prefix, MaxKeys: limit})
	var out []object
	for p.HasNext() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list oss://%s/%s: %w", b.cfg.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, object{key: oss.ToString(o.Key), size: o.Size})
		}
		if limit < listPage && len(out) > 0 {
			break
		}
	}
	return out, nil
}

// IsDirectory reports whether key is a directory artifact: it ends with "/" or objects exist
// under key + "/".
func (b *Bucket) IsDirectory(ctx context.Context, key string) (bool, error) {
	key, err := normalizeKey(key)
	if err != nil {
		return false, err
	}
	if strings.HasSuffix(key, "/") {
		return true, nil
	}
	objs, err := b.list(ctx, dirPrefix(key), 1)
	if err != nil {
		return false, err
	}
	return len(objs) > 0, nil
}

// ListObjects returns the keys of the artifact: the object at key if there is one, and every
// object under key + "/" except directory markers.
func (b *Bucket) ListObjects(ctx context.Context, key string) ([]string, error) {
	key, err := normalizeKey(key)
	if err != nil {
		return nil, err
	}
	var keys []string
	if !strings.HasSuffix(key, "/") {
		if _, _, err := b.head(ctx, key); err == nil {
			keys = append(keys, key)
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	objs, err := b.list(ctx, dirPrefix(key), listPage)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if !strings.HasSuffix(o.key, "/") {
			keys = append(keys, o.key)
		}
	}
	return keys, nil
}

// Delete removes the object at key and every object under key + "/", in batches of 1000.
// Deleting something that does not exist succeeds.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	key, err := normalizeKey(key)
	if err != nil {
		return err
	}
	objs, err := b.list(ctx, dirPrefix(key), listPage)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(objs)+1)
	if !strings.HasSuffix(key, "/") {
		keys = append(keys, key)
	}
	for _, o := range objs {
		keys = append(keys, o.key)
	}
	return b.deleteKeys(ctx, keys)
}

func (b *Bucket) deleteKeys(ctx context.Context, keys []string) error {
	for start := 0; start < len(keys); start += deleteBatch {
		batch := keys[start:min(start+deleteBatch, len(keys))]
		objs := make([]oss.ObjectIdentifier, len(batch))
		for i := range batch {
			objs[i] = oss.ObjectIdentifier{Key: &batch[i]}
		}
		_, err := b.client.DeleteMultipleObjects(ctx, &oss.DeleteMultipleObjectsRequest{
			Bucket: &b.cfg.Bucket, Delete: &oss.Delete{Objects: objs, Quiet: true},
		})
		if err != nil {
			return fmt.Errorf("delete %d objects from oss://%s: %w", len(batch), b.cfg.Bucket, err)
		}
	}
	return nil
}

// Save uploads the file or directory at path to key. A directory becomes objects under
// key + "/" (empty directories as "dir/" marker objects), uploaded by a bounded worker pool.
// On failure nothing this call created is left behind: multipart uploads are aborted and, for
// directories, the objects already written are deleted.
func (b *Bucket) Save(ctx context.Context, path, key string) error {
	key, err := normalizeKey(key)
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if !info.IsDir() {
		if strings.HasSuffix(key, "/") {
			return fmt.Errorf("save: key %q ends with '/', which names a directory, but %s is a file", key, path)
		}
		return b.uploadFile(ctx, path, key, info.Size(), b.cfg.Parallel)
	}
	prefix := dirPrefix(key)
	type job struct {
		path, key string
		size      int64
	}
	var jobs []job
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(path, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			entries, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			if len(entries) == 0 {
				k := prefix
				if rel != "." {
					k += rel + "/"
				}
				jobs = append(jobs, job{path: "", key: k})
			}
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			jobs = append(jobs, job{path: p, key: prefix + rel, size: fi.Size()})
		default:
			b.log.Debug("skipping non-regular file", "path", p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save: walk %s: %w", path, err)
	}
	var (
		mu   sync.Mutex
		done []string
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.Parallel)
	for _, j := range jobs {
		g.Go(func() error {
			var err error
			if j.path == "" {
				err = b.putEmpty(gctx, j.key)
			} else {
				// Files of a directory share the pool: each multipart file gets a fair share.
				err = b.uploadFile(gctx, j.path, j.key, j.size, max(1, b.cfg.Parallel/4))
			}
			if err == nil {
				mu.Lock()
				done = append(done, j.key)
				mu.Unlock()
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if derr := b.deleteKeys(cctx, done); derr != nil {
			b.log.Warn("could not remove the objects of a failed directory save", "key", key, "error", derr)
		}
		return err
	}
	b.log.Info("saved directory", "key", key, "objects", len(jobs))
	return nil
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
	res, err := b.client.PutObject(ctx, req)
	if err != nil {
		return fmt.Errorf("put oss://%s/%s: %w", b.cfg.Bucket, key, err)
	}
	if res.HashCRC64 == nil {
		return fmt.Errorf("put oss://%s/%s: %w", b.cfg.Bucket, key, ErrMissingCRC)
	}
	return nil
}

// classifySDK marks the SDK's CRC-64 mismatch errors with ErrCRCMismatch. The SDK reports a
// mismatch as a plain formatted error ("crc is inconsistent, client X, server Y"), so its text
// is the only thing to match on.
func classifySDK(err error) error {
	if err != nil && !errors.Is(err, ErrCRCMismatch) && strings.Contains(err.Error(), "crc is inconsistent") {
		return fmt.Errorf("%w: %w", ErrCRCMismatch, err)
	}
	return err
}

// checkpointDir returns the per-transfer checkpoint directory (with the trailing separator the
// SDK needs), derived from the transfer so a restarted process finds it again.
func (b *Bucket) checkpointDir(kind, key, path string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + b.cfg.Bucket + "\x00" + key + "\x00" + path))
	return filepath.Join(b.cfg.CheckpointDir, hex.EncodeToString(sum[:12])) + string(filepath.Separator)
}

// uploadFile uploads one file: a single PUT below the part size, else a parallel multipart
// upload. Either way the SDK checks the CRC-64 OSS returns, and a missing CRC is an error.
func (b *Bucket) uploadFile(ctx context.Context, path, key string, size int64, parallel int) error {
	multipart := size > int64(b.cfg.PartSize)
	cp := ""
	if multipart && b.cfg.CheckpointDir != "" {
		cp = b.checkpointDir("upload", key, path)
		if err := os.MkdirAll(cp, 0o700); err != nil {
			return fmt.Errorf("checkpoint dir: %w", err)
		}
	}
	u := oss.NewUploader(b.client, func(o *oss.UploaderOptions) {
		o.PartSize = int64(b.cfg.PartSize)
		o.ParallelNum = parallel
		o.LeavePartsOnError = false
		if cp != "" {
			o.EnableCheckpoint = true
			o.CheckpointDir = cp
		}
	})
	start := time.Now()
	res, err := u.UploadFile(ctx, b.putRequest(key), path)
	if err == nil && res.HashCRC64 == nil {
		err = ErrMissingCRC
	}
	if err != nil {
		if multipart {
			b.abortUploads(ctx, key, err)
		}
		if cp != "" {
			_ = os.RemoveAll(cp)
		}
		return fmt.Errorf("upload %s to oss://%s/%s: %w", path, b.cfg.Bucket, key, classifySDK(err))
	}
	if cp != "" {
		_ = os.RemoveAll(cp)
	}
	b.log.Debug("uploaded", "key", key, "bytes", size, "seconds", time.Since(start).Seconds())
	return nil
}

// abortUploads aborts the multipart uploads a failed or cancelled upload of key may have left:
// the one the SDK reports and any other open upload of exactly this key (an upload whose
// initiation reply was lost to cancellation). It uses a fresh context so that cancellation of
// the caller does not prevent the clean-up.
func (b *Bucket) abortUploads(ctx context.Context, key string, cause error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	ids := map[string]bool{}
	var ue *oss.UploadError
	if errors.As(cause, &ue) && ue.UploadId != "" {
		ids[ue.UploadId] = true
	}
	p := b.client.NewListMultipartUploadsPaginator(&oss.ListMultipartUploadsRequest{Bucket: &b.cfg.Bucket, Prefix: &key})
	for p.HasNext() {
		page, err := p.NextPage(cctx)
		if err != nil {
			b.log.Warn("could not list multipart uploads to abort", "key", key, "error", err)
			break
		}
		for _, up := range page.Uploads {
			if oss.ToString(up.Key) == key {
				ids[oss.ToString(up.UploadId)] = true
			}
		}
	}
	for id := range ids {
		_, err := b.client.AbortMultipartUpload(cctx, &oss.AbortMultipartUploadRequest{Bucket: &b.cfg.Bucket, Key: &key, UploadId: oss.Ptr(id)})
		var se *oss.ServiceError
		if err != nil && !(errors.As(err, &se) && se.Code == "NoSuchUpload") {
			b.log.Warn("could not abort multipart upload", "key", key, "uploadId", id, "error", err)
		}
	}
}

// Load downloads key to path: a file, or a directory whose objects live under key + "/".
// Every object key is checked before anything is written; a key that would land outside path
// fails the whole Load with ErrUnsafeKey.
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
	prefix, objs, err := b.listDirectory(ctx, key)
	if err != nil {
		return err
	}
	type job struct {
		key, path string
		size      int64
	}
	var (
		dirs = []string{path}
		jobs []job
	)
	for _, o := range objs {
		rel, err := relativeKey(prefix, o.key)
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
// parallel ranged Downloader. The CRC-64 is verified either way.
func (b *Bucket) downloadFile(ctx context.Context, key, path string, size int64, parallel int) error {
	start := time.Now()
	var err error
	if size <= int64(b.cfg.PartSize) {
		err = b.getSmall(ctx, key, path)
	} else {
		cp := ""
		if b.cfg.CheckpointDir != "" {
			cp = b.checkpointDir("download", key, path)
			if err := os.MkdirAll(cp, 0o700); err != nil {
				return fmt.Errorf("checkpoint dir: %w", err)
			}
		}
		// The SDK's Downloader checks the CRC-64 against its own HEAD but passes silently when
		// the header is missing, so require it first. (The client must be passed unwrapped:
		// the Downloader enables its CRC check only for *oss.Client.)
		if _, crc, err := b.head(ctx, key); err != nil {
			return err
		} else if crc == "" {
			return fmt.Errorf("download oss://%s/%s: %w", b.cfg.Bucket, key, ErrMissingCRC)
		}
		d := oss.NewDownloader(b.client, func(o *oss.DownloaderOptions) {
			o.PartSize = int64(b.cfg.PartSize)
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
		if err != nil && !keep {
			_ = os.Remove(path + oss.TempFileSuffix)
		}
	}
	if err != nil {
		return fmt.Errorf("download oss://%s/%s: %w", b.cfg.Bucket, key, classifySDK(err))
	}
	b.log.Debug("downloaded", "key", key, "bytes", size, "seconds", time.Since(start).Seconds())
	return nil
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

// stream copies one object to w and verifies its CRC-64 against the header OSS sent. Reads
// interrupted mid-body are resumed from the last byte by the SDK's range reader.
func (b *Bucket) stream(ctx context.Context, key string, w io.Writer) error {
	var (
		mu        sync.Mutex
		serverCRC string
	)
	getFn := func(ctx context.Context, r oss.HTTPRange) (*oss.ReaderRangeGetOutput, error) {
		req := &oss.GetObjectRequest{Bucket: &b.cfg.Bucket, Key: &key}
		if rs := r.FormatHTTPRange(); rs != nil {
			req.Range, req.RangeBehavior = rs, oss.Ptr("standard")
		}
		res, err := b.client.GetObject(ctx, req)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		if serverCRC == "" {
			serverCRC = res.Headers.Get(headerCRC64)
		}
		mu.Unlock()
		return &oss.ReaderRangeGetOutput{Body: res.Body, ETag: res.ETag, ContentLength: res.ContentLength, ContentRange: res.ContentRange}, nil
	}
	rr, err := oss.NewRangeReader(ctx, getFn, &oss.HTTPRange{}, "")
	if err != nil {
		return fmt.Errorf("get oss://%s/%s: %w", b.cfg.Bucket, key, err)
	}
	defer rr.Close()
	h := crc64.New(crcTable)
	if _, err := io.Copy(io.MultiWriter(w, h), rr); err != nil {
		if isNotFound(err) {
			return fmt.Errorf("%w: oss://%s/%s", ErrNotFound, b.cfg.Bucket, key)
		}
		return fmt.Errorf("get oss://%s/%s: %w", b.cfg.Bucket, key, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if serverCRC == "" {
		return fmt.Errorf("get oss://%s/%s: %w", b.cfg.Bucket, key, ErrMissingCRC)
	}
	if got := strconv.FormatUint(h.Sum64(), 10); got != serverCRC {
		return fmt.Errorf("get oss://%s/%s: %w (computed %s, OSS reported %s)", b.cfg.Bucket, key, ErrCRCMismatch, got, serverCRC)
	}
	return nil
}

// OpenStream writes the artifact at key to w without staging it on disk: a file's bytes, or
// for a directory an uncompressed tar archive of its objects. Every object's CRC-64 is
// verified; a mismatch is reported after the bytes, so callers must treat the error as fatal
// for what they received.
func (b *Bucket) OpenStream(ctx context.Context, key string, w io.Writer) error {
	key, err := normalizeKey(key)
	if err != nil {
		return err
	}
	if !strings.HasSuffix(key, "/") {
		_, _, err := b.head(ctx, key)
		if err == nil {
			return b.stream(ctx, key, w)
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	prefix, objs, err := b.listDirectory(ctx, key)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, o := range objs {
		rel, err := relativeKey(prefix, o.key)
		if err != nil {
			return err
		}
		if rel == "" {
			continue
		}
		hdr := &tar.Header{Name: rel, Mode: 0o644, Size: o.size, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if strings.HasSuffix(rel, "/") {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			if err := b.stream(ctx, o.key, tw); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}
