package artifacts

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argo-eci/argo-eci/internal/osstest"
)

func (f *fixture) bucket(t *testing.T, cfg string) *Bucket {
	t.Helper()
	b, err := mapDriver(f.env).Bucket(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func saveInput(t *testing.T, f *fixture, cfg, key string, size int) []byte {
	t.Helper()
	data := randomBytes(uint64(size)+3, size)
	src := filepath.Join(t.TempDir(), "in")
	writeFile(t, src, data)
	if err := f.client.Save(f.ctx, src, pluginArtifact(cfg, key)); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestCorruptedDownloadFails: bytes flipped under a correct CRC header must fail the Load,
// for a single GET and for the parallel ranged Downloader, and leave no file behind.
func TestCorruptedDownloadFails(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "partSize: 100Ki\nmaxAttempts: 2\n")
	for name, size := range map[string]int{"single GET": 50 << 10, "ranged downloader": 450 << 10} {
		t.Run(name, func(t *testing.T) {
			saveInput(t, f, cfg, "corrupt/"+name, size)
			f.oss.Inject(osstest.Fault{Kind: osstest.FaultCorrupt, Op: "GetObject"})
			dst := filepath.Join(t.TempDir(), "out")
			err := f.client.Load(f.ctx, pluginArtifact(cfg, "corrupt/"+name), dst)
			if err == nil || !strings.Contains(err.Error(), "integrity check failed") {
				t.Fatalf("load of corrupted bytes: %v, want integrity check failed", err)
			}
			if _, serr := os.Stat(dst); serr == nil {
				t.Fatal("a corrupted download left a file at the target")
			}
			f.oss.ClearFaults()
		})
	}
	// The Go-level error is classified, not just worded.
	b := f.bucket(t, cfg)
	f.oss.Inject(osstest.Fault{Kind: osstest.FaultCorrupt, Op: "GetObject"})
	var buf bytes.Buffer
	if err := b.OpenStream(t.Context(), "corrupt/single GET", &buf); !errors.Is(err, ErrCRCMismatch) {
		t.Fatalf("OpenStream of corrupted bytes: %v, want ErrCRCMismatch", err)
	}
}

// TestMissingCRCFails: the SDK passes silently when OSS omits the CRC header; the driver must not.
func TestMissingCRCFails(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "partSize: 100Ki\n")
	saveInput(t, f, cfg, "nocrc/small", 10<<10)
	saveInput(t, f, cfg, "nocrc/big", 300<<10)
	b := f.bucket(t, cfg)
	for _, tc := range []struct{ op, key string }{{"GetObject", "nocrc/small"}, {"HeadObject", "nocrc/small"}, {"HeadObject", "nocrc/big"}} {
		f.oss.Inject(osstest.Fault{Kind: osstest.FaultDropCRC, Op: tc.op, Count: 10})
		err := b.Load(t.Context(), tc.key, filepath.Join(t.TempDir(), "out"))
		if !errors.Is(err, ErrMissingCRC) {
			t.Errorf("%s without CRC on %s: %v, want ErrMissingCRC", tc.key, tc.op, err)
		}
		f.oss.ClearFaults()
	}
	f.oss.Inject(osstest.Fault{Kind: osstest.FaultDropCRC, Op: "PutObject"})
	src := filepath.Join(t.TempDir(), "in")
	writeFile(t, src, []byte("x"))
	if err := b.Save(t.Context(), src, "nocrc/put"); !errors.Is(err, ErrMissingCRC) {
		t.Errorf("PUT without CRC: %v, want ErrMissingCRC", err)
	}
}

// TestTransientFaultsRetried: 5xx bursts and connections reset mid-body are retried to success
// by the SDK, once per request, with no retry loop of our own.
func TestTransientFaultsRetried(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "partSize: 100Ki\nmaxAttempts: 4\n")
	data := randomBytes(9, 350<<10)
	src := filepath.Join(t.TempDir(), "in")
	writeFile(t, src, data)
	a := pluginArtifact(cfg, "flaky/file")

	f.oss.Inject(
		osstest.Fault{Kind: osstest.FaultStatus, Op: "UploadPart", Count: 2, Status: 503},
		osstest.Fault{Kind: osstest.FaultStatus, Op: "CompleteMultipartUpload", Count: 1, Status: 500},
	)
	f.oss.ResetCounts()
	if err := f.client.Save(f.ctx, src, a); err != nil {
		t.Fatalf("save through 5xx burst: %v", err)
	}
	if n := f.oss.Requests("UploadPart"); n != 4+2 {
		t.Errorf("UploadPart requests = %d, want 6 (4 parts + 2 retries)", n)
	}
	if got, _ := f.oss.Object(osstest.DefaultBucket, "flaky/file"); !bytes.Equal(got, data) {
		t.Fatal("stored object differs")
	}

	// A connection reset half-way through a part body is retried too.
	f.oss.Inject(osstest.Fault{Kind: osstest.FaultReset, Op: "UploadPart", Count: 1})
	if err := f.client.Save(f.ctx, src, pluginArtifact(cfg, "flaky/reset")); err != nil {
		t.Fatalf("save through a reset: %v", err)
	}
	if got, _ := f.oss.Object(osstest.DefaultBucket, "flaky/reset"); !bytes.Equal(got, data) {
		t.Fatal("object saved through a reset differs")
	}

	for _, kind := range []osstest.FaultKind{osstest.FaultStatus, osstest.FaultReset} {
		f.oss.Inject(osstest.Fault{Kind: kind, Op: "GetObject", Count: 2, Status: 503})
		dst := filepath.Join(t.TempDir(), "out")
		if err := f.client.Load(f.ctx, a, dst); err != nil {
			t.Fatalf("load through fault %d: %v", kind, err)
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
			t.Fatalf("fault %d: loaded bytes differ", kind)
		}
		rc, err := f.client.OpenStream(f.ctx, pluginArtifact(cfg, "flaky/file"))
		if err != nil {
			t.Fatal(err)
		}
		f.oss.Inject(osstest.Fault{Kind: kind, Op: "GetObject", Count: 1, Status: 500})
		if got, err := readAll(t, rc); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("stream through fault %d: %d bytes, %v", kind, len(got), err)
		}
		f.oss.ClearFaults()
	}
}

// TestFailedUploadLeavesNothing: an upload that keeps failing leaves no object and no open
// multipart upload; so does a directory save that fails half-way.
func TestFailedUploadLeavesNothing(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "partSize: 100Ki\nmaxAttempts: 2\nparallel: 2\n")
	src := filepath.Join(t.TempDir(), "in")
	writeFile(t, src, randomBytes(1, 500<<10))
	f.oss.Inject(osstest.Fault{Kind: osstest.FaultStatus, Op: "UploadPart", Count: 1000, Status: 500})
	err := f.client.Save(f.ctx, src, pluginArtifact(cfg, "failed/file"))
	if err == nil {
		t.Fatal("save succeeded through permanent 500s")
	}
	f.oss.ClearFaults()
	if keys, _ := f.oss.Keys(osstest.DefaultBucket, "failed/"); len(keys) != 0 {
		t.Fatalf("failed save left objects %q", keys)
	}
	if open, _ := f.oss.OpenUploads(osstest.DefaultBucket); len(open) != 0 {
		t.Fatalf("failed save left multipart uploads %q", open)
	}

	dir := filepath.Join(t.TempDir(), "dir")
	for i := range 6 {
		writeFile(t, filepath.Join(dir, string(rune('a'+i))), randomBytes(uint64(i), 1000))
	}
	writeFile(t, filepath.Join(dir, "zbig"), randomBytes(7, 300<<10))
	f.oss.Inject(osstest.Fault{Kind: osstest.FaultStatus, Op: "CompleteMultipartUpload", Count: 1000, Status: 500})
	if err := f.client.Save(f.ctx, dir, pluginArtifact(cfg, "failed/dir")); err == nil {
		t.Fatal("directory save succeeded through permanent 500s")
	}
	f.oss.ClearFaults()
	if keys, _ := f.oss.Keys(osstest.DefaultBucket, "failed/"); len(keys) != 0 {
		t.Fatalf("failed directory save left objects %q", keys)
	}
	if open, _ := f.oss.OpenUploads(osstest.DefaultBucket); len(open) != 0 {
		t.Fatalf("failed directory save left multipart uploads %q", open)
	}
}

// TestCancelledUploadLeavesNothing cancels a slow multipart Save mid-way through Argo's client:
// the plugin aborts the upload although its request context is gone.
func TestCancelledUploadLeavesNothing(t *testing.T) {
	f := newFixture(t, osstest.Options{Remote: osstest.Remote{BytesPerSecond: 1 << 20, FirstByteLatency: -1}})
	cfg := configFor(f.oss, "partSize: 256Ki\nparallel: 2\n")
	src := filepath.Join(t.TempDir(), "in")
	writeFile(t, src, randomBytes(2, 8<<20))
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- f.client.Save(ctx, src, pluginArtifact(cfg, "cancelled/file")) }()
	deadline := time.Now().Add(10 * time.Second)
	for f.oss.Requests("UploadPart") == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if open, _ := f.oss.OpenUploads(osstest.DefaultBucket); len(open) != 1 {
		t.Fatalf("expected one open upload mid-transfer, got %q", open)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("cancelled save reported success")
	}
	for time.Now().Before(deadline) {
		if open, _ := f.oss.OpenUploads(osstest.DefaultBucket); len(open) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if open, _ := f.oss.OpenUploads(osstest.DefaultBucket); len(open) != 0 {
		t.Fatalf("cancelled save left multipart uploads %q", open)
	}
	if keys, _ := f.oss.Keys(osstest.DefaultBucket, "cancelled/"); len(keys) != 0 {
		t.Fatalf("cancelled save left objects %q", keys)
	}
}

// TestWrongSecret: the server rejects the signature; the error names the cause and does not
// contain the secret.
func TestWrongSecret(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	const wrong = "wrong-secret-ZYXW9876"
	f.env[testSecretEnv] = wrong
	cfg := configFor(f.oss, "maxAttempts: 1\n")
	src := filepath.Join(t.TempDir(), "in")
	writeFile(t, src, []byte("data"))
	err := f.client.Save(f.ctx, src, pluginArtifact(cfg, "k"))
	if err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("save with a wrong secret: %v, want SignatureDoesNotMatch", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), f.oss.AccessKeySecret()) {
		t.Fatalf("error leaks a secret: %v", err)
	}
	if keys, _ := f.oss.Keys(osstest.DefaultBucket, ""); len(keys) != 0 {
		t.Fatalf("rejected save stored %q", keys)
	}
}
