package osstest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
)

func serviceCode(err error) string {
	var se *oss.ServiceError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

// TestMultipartRules: parts but the last must reach the minimum size, and an upload has at most
// MaxParts parts, as OSS enforces.
func TestMultipartRules(t *testing.T) {
	s := startServer(t, Options{Remote: Remote{Off: true}, MaxParts: 3})
	c := sdkClient(s, s.AccessKeySecret())
	ctx := context.Background()
	bucket, key := DefaultBucket, "rules/obj"
	upload := func(sizes ...int) error {
		init, err := c.InitiateMultipartUpload(ctx, &oss.InitiateMultipartUploadRequest{Bucket: &bucket, Key: &key})
		if err != nil {
			return err
		}
		var parts []oss.UploadPart
		for i, n := range sizes {
			res, err := c.UploadPart(ctx, &oss.UploadPartRequest{Bucket: &bucket, Key: &key, UploadId: init.UploadId,
				PartNumber: int32(i + 1), Body: bytes.NewReader(randomBytes(n))})
			if err != nil {
				return err
			}
			parts = append(parts, oss.UploadPart{PartNumber: int32(i + 1), ETag: res.ETag})
		}
		_, err = c.CompleteMultipartUpload(ctx, &oss.CompleteMultipartUploadRequest{Bucket: &bucket, Key: &key, UploadId: init.UploadId,
			CompleteMultipartUpload: &oss.CompleteMultipartUpload{Parts: parts}})
		return err
	}
	if err := upload(DefaultMinPartSize, 10); err != nil {
		t.Fatalf("a short last part is allowed: %v", err)
	}
	if err := upload(10, DefaultMinPartSize); serviceCode(err) != "EntityTooSmall" {
		t.Fatalf("a short first part: %v, want EntityTooSmall", err)
	}
	if err := upload(DefaultMinPartSize, DefaultMinPartSize, DefaultMinPartSize, 1); serviceCode(err) != "InvalidArgument" {
		t.Fatalf("a fourth part with MaxParts 3: %v, want InvalidArgument", err)
	}
}

// TestContentMD5AndCorruption: a body corrupted on the way is refused when it carries
// Content-MD5, stored (with the CRC-64 of what was stored) when it does not.
func TestContentMD5AndCorruption(t *testing.T) {
	s := startServer(t, Options{Remote: Remote{Off: true}})
	c := sdkClientNoCRC(s)
	ctx := context.Background()
	bucket := DefaultBucket
	data := randomBytes(4096)
	sum := md5.Sum(data)
	digest := base64.StdEncoding.EncodeToString(sum[:])
	s.Inject(Fault{Kind: FaultCorruptRequest, Op: "PutObject"})
	_, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: &bucket, Key: oss.Ptr("md5"), Body: bytes.NewReader(data), ContentMD5: &digest})
	if serviceCode(err) != "InvalidDigest" {
		t.Fatalf("corrupted body with Content-MD5: %v, want InvalidDigest", err)
	}
	if _, err := s.Object(bucket, "md5"); err == nil {
		t.Fatal("a refused body was stored")
	}
	s.Inject(Fault{Kind: FaultCorruptRequest, Op: "PutObject"})
	res, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: &bucket, Key: oss.Ptr("plain"), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := s.Object(bucket, "plain")
	if bytes.Equal(stored, data) || oss.ToString(res.HashCRC64) != itoa(CRC64(stored)) {
		t.Fatalf("corruption without Content-MD5: stored equal %v, CRC %s", bytes.Equal(stored, data), oss.ToString(res.HashCRC64))
	}
}

// TestAggregateBandwidth: many connections together stay under the aggregate cap although each
// alone may go faster.
func TestAggregateBandwidth(t *testing.T) {
	const agg = 4 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := newThrottledListener(ln, Remote{BytesPerSecond: 100 << 20, AggregateBytesPerSecond: agg})
	defer tl.Close()
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, bytes.NewReader(make([]byte, 1<<20))); _ = c.Close() }()
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, c)
			_ = c.Close()
		}()
	}
	wg.Wait()
	// 8 MiB at 4 MiB/s takes 2 s; at the per-connection cap alone it would take 10 ms.
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Fatalf("8 MiB over 8 connections took %v; the 4 MiB/s aggregate cap did not hold", d)
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

// sdkClientNoCRC is an SDK client that does not check CRC-64 itself, so a test sees what the
// server replied.
func sdkClientNoCRC(s *Server) *oss.Client {
	cfg := oss.LoadDefaultConfig().
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.AccessKeyID(), s.AccessKeySecret())).
		WithRegion(s.Region()).WithEndpoint(s.URL).WithUsePathStyle(true).
		WithDisableUploadCRC64Check(true).WithDisableDownloadCRC64Check(true)
	return oss.NewClient(cfg)
}
