package osstest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/retry"
)

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func sdkClient(s *Server, secret string) *oss.Client {
	cfg := oss.LoadDefaultConfig().
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.AccessKeyID(), secret)).
		WithRegion(s.Region()).WithEndpoint(s.URL).WithUsePathStyle(true).
		WithRetryer(retry.NewStandard(func(o *retry.RetryOptions) { o.MaxAttempts = 4 }))
	return oss.NewClient(cfg)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestCombineCRC64(t *testing.T) {
	data := randomBytes(100_003)
	for _, cut := range []int{0, 1, 4096, 50_000, 100_002, 100_003} {
		a, b := data[:cut], data[cut:]
		got := CombineCRC64(CRC64(a), CRC64(b), int64(len(b)))
		if want := CRC64(data); got != want {
			t.Errorf("cut %d: combined %d, want %d", cut, got, want)
		}
	}
}

func TestSDKObjectRoundTrip(t *testing.T) {
	s := startServer(t, Options{Remote: Remote{Off: true}})
	c := sdkClient(s, s.AccessKeySecret())
	ctx := context.Background()
	bucket := oss.Ptr(DefaultBucket)
	for _, key := range []string{"a/b.txt", "with space/é ü 中文+plus%.bin", "empty"} {
		data := randomBytes(len(key) * 1000)
		if key == "empty" {
			data = nil
		}
		put, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: bucket, Key: oss.Ptr(key), Body: bytes.NewReader(data),
			Metadata: map[string]string{"owner": "argo"}})
		if err != nil {
			t.Fatalf("put %q: %v", key, err)
		}
		if want := strconv.FormatUint(CRC64(data), 10); oss.ToString(put.HashCRC64) != want {
			t.Fatalf("put %q: crc %s, want %s", key, oss.ToString(put.HashCRC64), want)
		}
		get, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: bucket, Key: oss.Ptr(key)})
		if err != nil {
			t.Fatalf("get %q: %v", key, err)
		}
		got, err := io.ReadAll(get.Body)
		get.Body.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("get %q: %d bytes, err %v", key, len(got), err)
		}
		if get.Metadata["owner"] != "argo" && get.Metadata["Owner"] != "argo" {
			t.Errorf("get %q: metadata %v lost x-oss-meta-owner", key, get.Metadata)
		}
		head, err := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: bucket, Key: oss.Ptr(key)})
		if err != nil || oss.ToString(head.HashCRC64) != strconv.FormatUint(CRC64(data), 10) {
			t.Fatalf("head %q: %v %v", key, err, oss.ToString(head.HashCRC64))
		}
	}
	p := c.NewListObjectsV2Paginator(&oss.ListObjectsV2Request{Bucket: bucket, MaxKeys: 1})
	var keys []string
	for p.HasNext() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, oss.ToString(o.Key))
		}
	}
	if want := "a/b.txt,empty,with space/é ü 中文+plus%.bin"; strings.Join(keys, ",") != want {
		t.Fatalf("listed %q, want %q", keys, want)
	}
}

func TestSDKMultipartCRCAndOpenUploads(t *testing.T) {
	s := startServer(t, Options{Remote: Remote{Off: true}})
	c := sdkClient(s, s.AccessKeySecret())
	ctx := context.Background()
	data := randomBytes(3*(100<<10) + 17)
	u := oss.NewUploader(c, func(o *oss.UploaderOptions) { o.PartSize = 100 << 10; o.ParallelNum = 3 })
	res, err := u.UploadFrom(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr(DefaultBucket), Key: oss.Ptr("big")}, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.FormatUint(CRC64(data), 10); oss.ToString(res.HashCRC64) != want {
		t.Fatalf("complete crc %s, want %s", oss.ToString(res.HashCRC64), want)
	}
	if got, _ := s.Object(DefaultBucket, "big"); !bytes.Equal(got, data) {
		t.Fatal("stored object differs")
	}
	if _, err := c.InitiateMultipartUpload(ctx, &oss.InitiateMultipartUploadRequest{Bucket: oss.Ptr(DefaultBucket), Key: oss.Ptr("left")}); err != nil {
		t.Fatal(err)
	}
	open, err := s.OpenUploads(DefaultBucket)
	if err != nil || len(open) != 1 || !strings.HasPrefix(open[0], "left ") {
		t.Fatalf("open uploads %v, %v", open, err)
	}
}

func TestWrongSecretRejected(t *testing.T) {
	s := startServer(t, Options{Remote: Remote{Off: true}})
	const wrong = "not-the-secret-0123456789"
	c := sdkClient(s, wrong)
	_, err := c.PutObject(context.Background(), &oss.PutObjectRequest{Bucket: oss.Ptr(DefaultBucket), Key: oss.Ptr("k"), Body: strings.NewReader("x")})
	var se *oss.ServiceError
	if !errors.As(err, &se) || se.Code != "SignatureDoesNotMatch" || se.StatusCode != 403 {
		t.Fatalf("want SignatureDoesNotMatch 403, got %v", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), s.AccessKeySecret()) {
		t.Fatal("error message leaks a secret")
	}
	if keys, _ := s.Keys(DefaultBucket, ""); len(keys) != 0 {
		t.Fatalf("rejected request stored %v", keys)
	}
}

func TestFaults(t *testing.T) {
	s := startServer(t, Options{Remote: Remote{Off: true}})
	c := sdkClient(s, s.AccessKeySecret())
	ctx := context.Background()
	data := randomBytes(64 << 10)
	s.Inject(Fault{Kind: FaultStatus, Op: "PutObject", Count: 2, Status: 503})
	if _, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr(DefaultBucket), Key: oss.Ptr("k"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("retried put: %v", err)
	}
	if n := s.Requests("PutObject"); n != 3 {
		t.Fatalf("PutObject requests %d, want 3 (two faults, one success)", n)
	}
	s.Inject(Fault{Kind: FaultCorrupt, Op: "GetObject"})
	get, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr(DefaultBucket), Key: oss.Ptr("k")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if bytes.Equal(got, data) || len(got) != len(data) {
		t.Fatal("corrupt fault did not change exactly the bytes")
	}
	if oss.ToString(get.HashCRC64) != strconv.FormatUint(CRC64(data), 10) {
		t.Fatal("corrupt fault must keep the correct CRC header")
	}
	s.Inject(Fault{Kind: FaultSlow, Op: "HeadObject", Delay: 300 * time.Millisecond})
	start := time.Now()
	if _, err := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr(DefaultBucket), Key: oss.Ptr("k")}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("slow fault took %v, want at least 300ms", d)
	}
	s.Inject(Fault{Kind: FaultReset, Op: "GetObject", Count: 4})
	get, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr(DefaultBucket), Key: oss.Ptr("k")})
	if err == nil {
		_, err = io.ReadAll(get.Body)
		get.Body.Close()
	}
	if err == nil {
		t.Fatal("reset fault: read succeeded")
	}
}
