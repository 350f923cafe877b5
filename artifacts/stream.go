package artifacts

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// stream copies one object to w and verifies its CRC-64 against the header OSS sent. The
// header is required before the first byte is written. Reads interrupted mid-body are resumed
// from the last byte by the SDK's range reader, within the transfer's retry budget.
func (b *Bucket) stream(ctx context.Context, key string, w io.Writer) error {
	t := newTransfer(b.client, key, b.cfg.MaxAttempts)
	var serverCRC string
	getFn := func(ctx context.Context, r oss.HTTPRange) (*oss.ReaderRangeGetOutput, error) {
		req := &oss.GetObjectRequest{Bucket: &b.cfg.Bucket, Key: &key}
		if rs := r.FormatHTTPRange(); rs != nil {
			req.Range, req.RangeBehavior = rs, oss.Ptr("standard")
		}
		res, err := t.GetObject(ctx, req)
		if err != nil {
			return nil, err
		}
		if serverCRC == "" { // the range reader calls getFn from one goroutine
			serverCRC = res.Headers.Get(headerCRC64)
			if serverCRC == "" {
				_ = res.Body.Close()
				return nil, ErrMissingCRC
			}
		}
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
	server, err := strconv.ParseUint(serverCRC, 10, 64)
	if err != nil {
		return fmt.Errorf("get oss://%s/%s: %w", b.cfg.Bucket, key, ErrMissingCRC)
	}
	if got := h.Sum64(); got != server {
		return fmt.Errorf("get oss://%s/%s: %w", b.cfg.Bucket, key, &CRCError{Key: key, Computed: got, Server: server})
	}
	return nil
}

// OpenStream writes the artifact at key to w without staging it on disk: a file's bytes, or
// for a directory an uncompressed tar archive of its objects. Every object's CRC-64 is
// verified; a missing CRC header fails before the object's first byte, a mismatch is reported
// after its bytes, so callers must treat the error as fatal for what they received.
func (b *Bucket) OpenStream(ctx context.Context, key string, w io.Writer) error {
	key, err := normalizeKey(key)
	if err != nil {
		return err
	}
	if !strings.HasSuffix(key, "/") {
		_, crc, err := b.head(ctx, key)
		if err == nil {
			if crc == "" {
				return fmt.Errorf("get oss://%s/%s: %w", b.cfg.Bucket, key, ErrMissingCRC)
			}
			return b.stream(ctx, key, w)
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		// A file inside a directory artifact, as argo-server asks for it.
		if obj, rerr := b.resolveFile(ctx, key); rerr != nil {
			return rerr
		} else if obj != "" {
			if _, _, herr := b.head(ctx, obj); herr == nil {
				return b.stream(ctx, obj, w)
			}
		}
	}
	loc, objs, err := b.listDirectory(ctx, key)
	if err != nil {
		return err
	}
	return b.streamTar(ctx, loc, objs, w)
}

func (b *Bucket) streamTar(ctx context.Context, loc location, objs []object, w io.Writer) error {
	tw := tar.NewWriter(w)
	for _, o := range objs {
		rel, err := relativeKey(loc.prefix, o.key)
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
