package artifacts

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
	"io"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

var crcTable = crc64.MakeTable(crc64.ECMA)

// transfer is the SDK client as one Save or Load sees it. The SDK's Uploader and Downloader
// call it instead of the client, which lets it
//   - check the CRC-64 of every request body against the one OSS reports (a part is checked
//     before CompleteMultipartUpload commits anything), with typed errors;
//   - remember the multipart uploads this call started, so clean-up aborts exactly those;
//   - record what every GET delivered, so a download's CRC-64 is checked without a second
//     pass over the file;
//   - bound the re-requests of a range that delivers nothing (the SDK's range reader reopens
//     a broken body forever otherwise).
type transfer struct {
	c           *oss.Client
	key         string
	maxAttempts int
	// path is the local file of an upload; parts of a resumed upload are checked against it.
	path string
	// md5 sends Content-MD5 with single PUTs so that OSS refuses an altered body before it
	// replaces anything.
	md5 bool

	mu        sync.Mutex
	started   map[string]bool // upload ID -> still open
	parts     map[int32]partCRC
	committed bool
	got       []span
	gets      map[string]int
}

type partCRC struct {
	crc  uint64
	size int64
}

// span is a stretch of an object a GET delivered, with its CRC-64.
type span struct {
	off, n int64
	crc    uint64
}

func newTransfer(c *oss.Client, key string, maxAttempts int) *transfer {
	return &transfer{c: c, key: key, maxAttempts: maxAttempts, started: map[string]bool{}, parts: map[int32]partCRC{}, gets: map[string]int{}}
}

var (
	_ oss.UploadAPIClient   = (*transfer)(nil)
	_ oss.DownloadAPIClient = (*transfer)(nil)
)

// hashingBody computes the CRC-64 of the bytes read from a seekable body; a rewind to the start
// (the SDK's retry) starts over.
type hashingBody struct {
	r          io.ReadSeeker
	start, pos int64
	h          hash.Hash64
	broken     bool
}

func newHashingBody(r io.ReadSeeker) (*hashingBody, error) {
	pos, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	return &hashingBody{r: r, start: pos, pos: pos, h: crc64.New(crcTable)}, nil
}

func (b *hashingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	b.pos += int64(n)
	return n, err
}

func (b *hashingBody) Seek(off int64, whence int) (int64, error) {
	np, err := b.r.Seek(off, whence)
	if err != nil {
		return np, err
	}
	switch np {
	case b.pos:
	case b.start:
		b.h.Reset()
	default:
		b.broken = true
	}
	b.pos = np
	return np, nil
}

// length returns the bytes left in r from its current position.
func length(r io.Seeker) (int64, error) {
	cur, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	end, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	_, err = r.Seek(cur, io.SeekStart)
	return end - cur, err
}

// check compares the body's CRC-64 with the one in a reply.
func (t *transfer) check(b *hashingBody, header *string) error {
	if header == nil || *header == "" {
		return fmt.Errorf("%s: %w", t.key, ErrMissingCRC)
	}
	server, err := strconv.ParseUint(*header, 10, 64)
	if err != nil {
		return fmt.Errorf("%s: %w", t.key, ErrMissingCRC)
	}
	if b.broken || b.h.Sum64() != server {
		return &CRCError{Key: t.key, Computed: b.h.Sum64(), Server: server}
	}
	return nil
}

func (t *transfer) wrapBody(body io.Reader) (*hashingBody, int64, error) {
	rs, ok := body.(io.ReadSeeker)
	if !ok {
		return nil, 0, fmt.Errorf("%s: upload body is not seekable", t.key)
	}
	n, err := length(rs)
	if err != nil {
		return nil, 0, err
	}
	hb, err := newHashingBody(rs)
	return hb, n, err
}

func contentMD5(r io.ReadSeeker) (string, error) {
	start, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return "", err
	}
	h := md5.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	if _, err := r.Seek(start, io.SeekStart); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// PutObject sends a single PUT and checks its CRC-64.
func (t *transfer) PutObject(ctx context.Context, req *oss.PutObjectRequest, opts ...func(*oss.Options)) (*oss.PutObjectResult, error) {
	r := *req
	hb, n, err := t.wrapBody(req.Body)
	if err != nil {
		return nil, err
	}
	if t.md5 && r.ContentMD5 == nil {
		sum, err := contentMD5(hb.r)
		if err != nil {
			return nil, err
		}
		r.ContentMD5 = &sum
	}
	r.Body, r.ContentLength = hb, &n
	res, err := t.c.PutObject(ctx, &r, opts...)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.committed = true
	t.mu.Unlock()
	return res, t.check(hb, res.HashCRC64)
}

// InitiateMultipartUpload starts an upload and remembers its ID.
func (t *transfer) InitiateMultipartUpload(ctx context.Context, req *oss.InitiateMultipartUploadRequest, opts ...func(*oss.Options)) (*oss.InitiateMultipartUploadResult, error) {
	res, err := t.c.InitiateMultipartUpload(ctx, req, opts...)
	if err == nil && res.UploadId != nil {
		t.mu.Lock()
		t.started[*res.UploadId] = true
		t.mu.Unlock()
	}
	return res, err
}

// UploadPart sends one part and checks its CRC-64 before anything is committed.
func (t *transfer) UploadPart(ctx context.Context, req *oss.UploadPartRequest, opts ...func(*oss.Options)) (*oss.UploadPartResult, error) {
	r := *req
	hb, n, err := t.wrapBody(req.Body)
	if err != nil {
		return nil, err
	}
	r.Body, r.ContentLength = hb, &n
	res, err := t.c.UploadPart(ctx, &r, opts...)
	if err != nil {
		return nil, err
	}
	if err := t.check(hb, res.HashCRC64); err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.parts[req.PartNumber] = partCRC{crc: hb.h.Sum64(), size: n}
	t.mu.Unlock()
	return res, nil
}

// ListParts lists the parts of an upload being resumed and verifies each against the local
// file they came from before the upload is allowed to continue with them.
func (t *transfer) ListParts(ctx context.Context, req *oss.ListPartsRequest, opts ...func(*oss.Options)) (*oss.ListPartsResult, error) {
	res, err := t.c.ListParts(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if req.UploadId != nil {
		t.started[*req.UploadId] = true // resumed: ours to finish or abort
	}
	t.mu.Unlock()
	parts := append([]oss.Part(nil), res.Parts...)
	sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	var off int64
	for i, p := range parts {
		if p.PartNumber != int32(i+1) || p.HashCRC64 == nil || t.path == "" {
			break // the SDK resumes only the consecutive parts from 1
		}
		server, err := strconv.ParseUint(*p.HashCRC64, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.key, ErrMissingCRC)
		}
		local, err := fileCRC(t.path, off, p.Size)
		if err != nil {
			return nil, err
		}
		if local != server {
			return nil, &CRCError{Key: t.key, Computed: local, Server: server}
		}
		t.mu.Lock()
		t.parts[p.PartNumber] = partCRC{crc: server, size: p.Size}
		t.mu.Unlock()
		off += p.Size
	}
	return res, nil
}

// CompleteMultipartUpload commits the upload and checks the object's CRC-64 against the
// parts that went into it.
func (t *transfer) CompleteMultipartUpload(ctx context.Context, req *oss.CompleteMultipartUploadRequest, opts ...func(*oss.Options)) (*oss.CompleteMultipartUploadResult, error) {
	var want uint64
	t.mu.Lock()
	if req.CompleteMultipartUpload != nil {
		parts := append([]oss.UploadPart(nil), req.CompleteMultipartUpload.Parts...)
		sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
		for _, p := range parts {
			pc, ok := t.parts[p.PartNumber]
			if !ok { // a resumed part OSS listed without its CRC: refuse before committing
				t.mu.Unlock()
				return nil, fmt.Errorf("%s part %d: %w", t.key, p.PartNumber, ErrMissingCRC)
			}
			want = oss.CRC64Combine(want, pc.crc, uint64(pc.size))
		}
	}
	t.mu.Unlock()
	res, err := t.c.CompleteMultipartUpload(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.committed = true
	delete(t.started, oss.ToString(req.UploadId))
	t.mu.Unlock()
	if res.HashCRC64 == nil {
		return res, fmt.Errorf("%s: %w", t.key, ErrMissingCRC)
	}
	server, _ := strconv.ParseUint(*res.HashCRC64, 10, 64)
	if server != want {
		return res, &CRCError{Key: t.key, Computed: want, Server: server}
	}
	return res, nil
}

// AbortMultipartUpload aborts an upload and forgets it.
func (t *transfer) AbortMultipartUpload(ctx context.Context, req *oss.AbortMultipartUploadRequest, opts ...func(*oss.Options)) (*oss.AbortMultipartUploadResult, error) {
	res, err := t.c.AbortMultipartUpload(ctx, req, opts...)
	if err == nil || isNoSuchUpload(err) {
		t.mu.Lock()
		delete(t.started, oss.ToString(req.UploadId))
		t.mu.Unlock()
	}
	return res, err
}

func isNoSuchUpload(err error) bool {
	var se *oss.ServiceError
	return errors.As(err, &se) && se.Code == "NoSuchUpload"
}

// HeadObject is the client's.
func (t *transfer) HeadObject(ctx context.Context, req *oss.HeadObjectRequest, opts ...func(*oss.Options)) (*oss.HeadObjectResult, error) {
	return t.c.HeadObject(ctx, req, opts...)
}

// abortStarted aborts every multipart upload this transfer started and did not finish, with a
// fresh context so that a cancelled caller still cleans up. Uploads started by other calls,
// even for the same key, are left alone.
func (t *transfer) abortStarted(ctx context.Context, bucket string) error {
	t.mu.Lock()
	ids := make([]string, 0, len(t.started))
	for id := range t.started {
		ids = append(ids, id)
	}
	t.mu.Unlock()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	var errs []error
	for _, id := range ids {
		_, err := t.AbortMultipartUpload(cctx, &oss.AbortMultipartUploadRequest{Bucket: &bucket, Key: &t.key, UploadId: oss.Ptr(id)})
		if err != nil && !isNoSuchUpload(err) {
			errs = append(errs, fmt.Errorf("abort upload %s of %s: %w", id, t.key, err))
		}
	}
	return errors.Join(errs...)
}

// GetObject sends a GET. A range requested again without progress counts against the retry
// budget and waits a backoff first; past the budget it fails with ErrNoProgress. The body
// records the CRC-64 of what it delivers.
func (t *transfer) GetObject(ctx context.Context, req *oss.GetObjectRequest, opts ...func(*oss.Options)) (*oss.GetObjectResult, error) {
	rng := oss.ToString(req.Range)
	t.mu.Lock()
	t.gets[rng]++
	tries := t.gets[rng]
	t.mu.Unlock()
	if tries > t.maxAttempts {
		return nil, fmt.Errorf("get %s (%s): %w after %d attempts", t.key, rng, ErrNoProgress, t.maxAttempts)
	}
	if tries > 1 {
		if err := sleep(ctx, backoff(tries-1)); err != nil {
			return nil, err
		}
	}
	res, err := t.c.GetObject(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	var off int64
	if res.ContentRange != nil {
		if o, _, _, err := oss.ParseContentRange(*res.ContentRange); err == nil {
			off = o
		}
	}
	res.Body = &recordingBody{rc: res.Body, t: t, off: off, h: crc64.New(crcTable)}
	return res, nil
}

// backoff is the wait before the n-th repeated request of a range: 100 ms doubling to 5 s.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n-1, 6)
	return min(d, 5*time.Second)
}

func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// recordingBody records the span of the object it delivered when it is closed.
type recordingBody struct {
	rc     io.ReadCloser
	t      *transfer
	off, n int64
	h      hash.Hash64
	once   sync.Once
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.h.Write(p[:n])
	b.n += int64(n)
	return n, err
}

func (b *recordingBody) Close() error {
	b.once.Do(func() {
		if b.n > 0 {
			b.t.mu.Lock()
			b.t.got = append(b.t.got, span{off: b.off, n: b.n, crc: b.h.Sum64()})
			b.t.mu.Unlock()
		}
	})
	return b.rc.Close()
}

// downloadedCRC combines the spans the GETs delivered into the CRC-64 of [0, size); stretches
// no GET delivered in this process (a download resumed from a checkpoint) are read back from
// the local file at path.
func (t *transfer) downloadedCRC(size int64, path string) (uint64, error) {
	t.mu.Lock()
	spans := append([]span(nil), t.got...)
	t.mu.Unlock()
	sort.Slice(spans, func(i, j int) bool { return spans[i].off < spans[j].off })
	var (
		crc uint64
		pos int64
	)
	for _, s := range append(spans, span{off: size}) {
		if s.off < pos {
			return 0, fmt.Errorf("%s: overlapping ranges delivered", t.key)
		}
		if s.off > pos {
			gap, err := fileCRC(path, pos, s.off-pos)
			if err != nil {
				return 0, err
			}
			crc = oss.CRC64Combine(crc, gap, uint64(s.off-pos))
		}
		crc = oss.CRC64Combine(crc, s.crc, uint64(s.n))
		pos = s.off + s.n
	}
	if pos != size {
		return 0, fmt.Errorf("%s: received %d bytes, want %d", t.key, pos, size)
	}
	return crc, nil
}

func fileCRC(path string, off, n int64) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := crc64.New(crcTable)
	if _, err := io.Copy(h, io.NewSectionReader(f, off, n)); err != nil {
		return 0, err
	}
	return h.Sum64(), nil
}
