package artifacts

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/argo-eci/argo-eci/internal/osstest"
)

// writeTree writes files (relative path -> content) under a new directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	for rel, body := range files {
		writeFile(t, filepath.Join(dir, rel), []byte(body))
	}
	return dir
}

// TestResaveDirectoryKeepsPreviousVersion: a re-save of a directory to a fixed key that fails
// half-way (some files already uploaded, a big one failing) leaves the previous version
// loadable exactly as it was; a successful re-save leaves none of the old files visible.
func TestResaveDirectoryKeepsPreviousVersion(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "partSize: 100Ki\nparallel: 4\nmaxAttempts: 2\n")
	a := pluginArtifact(cfg, "models/latest")
	v1 := writeTree(t, map[string]string{"a.txt": "v1 a", "b.txt": "v1 b", "sub/c.txt": "v1 c"})
	if err := f.client.Save(f.ctx, v1, a); err != nil {
		t.Fatal(err)
	}
	v2 := writeTree(t, map[string]string{"a.txt": "v2 a", "d.txt": "v2 d", "sub/e.txt": "v2 e"})
	writeFile(t, filepath.Join(v2, "weights.bin"), randomBytes(5, 350<<10))

	f.oss.Inject(osstest.Fault{Kind: osstest.FaultStatus, Op: "CompleteMultipartUpload", Count: 1000, Status: 500})
	if err := f.client.Save(f.ctx, v2, a); err == nil {
		t.Fatal("the re-save succeeded through permanent 500s")
	}
	f.oss.ClearFaults()
	got := filepath.Join(t.TempDir(), "after-failure")
	if err := f.client.Load(f.ctx, a, got); err != nil {
		t.Fatalf("the previous version is no longer loadable: %v", err)
	}
	sameTree(t, v1, got)
	if open, _ := f.oss.OpenUploads(osstest.DefaultBucket); len(open) != 0 {
		t.Fatalf("open uploads left: %v", open)
	}

	if err := f.client.Save(f.ctx, v2, a); err != nil {
		t.Fatal(err)
	}
	got = filepath.Join(t.TempDir(), "after-success")
	if err := f.client.Load(f.ctx, a, got); err != nil {
		t.Fatal(err)
	}
	sameTree(t, v2, got)
	keys, err := f.client.ListObjects(f.ctx, a)
	if err != nil || len(keys) != 4 {
		t.Fatalf("ListObjects after the re-save = %q, %v; want the 4 files of v2", keys, err)
	}
}

// TestDeleteRemovesExactlyTheArtifact: deleting a file artifact leaves other artifacts stored
// under key + "/"; deleting a directory artifact removes its prefix and nothing beside it.
func TestDeleteRemovesExactlyTheArtifact(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "")
	file := filepath.Join(t.TempDir(), "f")
	writeFile(t, file, []byte("file artifact"))
	for _, key := range []string{"wf/out", "wf/out/inner", "wf/out-sibling"} {
		if err := f.client.Save(f.ctx, file, pluginArtifact(cfg, key)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.client.Delete(f.ctx, pluginArtifact(cfg, "wf/out")); err != nil {
		t.Fatal(err)
	}
	left, _ := f.oss.Keys(osstest.DefaultBucket, "wf/")
	if strings.Join(left, ",") != "wf/out-sibling,wf/out/inner" {
		t.Fatalf("after deleting the file artifact wf/out: %q", left)
	}
	dir := writeTree(t, map[string]string{"x": "1", "y/z": "2"})
	if err := f.client.Save(f.ctx, dir, pluginArtifact(cfg, "wf/dir")); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Delete(f.ctx, pluginArtifact(cfg, "wf/dir")); err != nil {
		t.Fatal(err)
	}
	if left, _ := f.oss.Keys(osstest.DefaultBucket, "wf/dir"); len(left) != 0 {
		t.Fatalf("after deleting the directory artifact: %q", left)
	}
}

// TestUnverifiedSaveIsRemoved: a Save whose bytes do not verify (body corrupted on the way, or
// OSS reporting another CRC-64 after the commit) fails, leaves nothing unverified visible, and
// leaves the previous version of a file intact when the corruption is caught before commit.
func TestUnverifiedSaveIsRemoved(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "partSize: 100Ki\nmaxAttempts: 1\n")
	previous := []byte("the previous version")
	cases := []struct {
		name, op   string
		kind       osstest.FaultKind
		size       int
		keepsOld   bool // corruption caught before the commit
		isDir      bool
		wantAbsent bool
	}{
		{"single PUT corrupted on the way", "PutObject", osstest.FaultCorruptRequest, 50 << 10, true, false, false},
		{"single PUT stored other bytes", "PutObject", osstest.FaultWrongCRC, 50 << 10, false, false, true},
		{"part corrupted on the way", "UploadPart", osstest.FaultCorruptRequest, 350 << 10, true, false, false},
		{"complete stored other bytes", "CompleteMultipartUpload", osstest.FaultWrongCRC, 350 << 10, false, false, true},
		{"directory file stored other bytes", "PutObject", osstest.FaultWrongCRC, 10 << 10, true, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := "verify/" + strings.ReplaceAll(tc.name, " ", "-")
			a := pluginArtifact(cfg, key)
			src := filepath.Join(t.TempDir(), "src")
			prevSrc := filepath.Join(t.TempDir(), "prev")
			if tc.isDir {
				writeFile(t, filepath.Join(src, "f"), randomBytes(1, tc.size))
				writeFile(t, filepath.Join(prevSrc, "f"), previous)
			} else {
				writeFile(t, src, randomBytes(1, tc.size))
				writeFile(t, prevSrc, previous)
			}
			if !tc.wantAbsent {
				if err := f.client.Save(f.ctx, prevSrc, a); err != nil {
					t.Fatal(err)
				}
			}
			f.oss.Inject(osstest.Fault{Kind: tc.kind, Op: tc.op})
			err := f.client.Save(f.ctx, src, a)
			f.oss.ClearFaults()
			if err == nil || !strings.Contains(err.Error(), "integrity check failed") {
				t.Fatalf("save: %v, want an integrity failure", err)
			}
			out := filepath.Join(t.TempDir(), "out")
			lerr := f.client.Load(f.ctx, a, out)
			switch {
			case tc.wantAbsent && lerr == nil:
				t.Fatal("an object whose CRC-64 did not verify is still visible")
			case tc.keepsOld && lerr != nil:
				t.Fatalf("the previous version is gone: %v", lerr)
			case tc.keepsOld && !tc.isDir:
				if got, _ := os.ReadFile(out); !bytes.Equal(got, previous) {
					t.Fatalf("loaded %q, want the previous version", got)
				}
			case tc.keepsOld:
				if got, _ := os.ReadFile(filepath.Join(out, "f")); !bytes.Equal(got, previous) {
					t.Fatalf("loaded %q, want the previous version", got)
				}
			}
			if open, _ := f.oss.OpenUploads(osstest.DefaultBucket); len(open) != 0 {
				t.Fatalf("open uploads left: %v", open)
			}
		})
	}
}

// TestOpenStreamChecksCRCHeaderFirst: without a CRC header OpenStream fails before sending a
// single byte, even for a file larger than one stream message.
func TestOpenStreamChecksCRCHeaderFirst(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "partSize: 4Mi\n")
	saveInput(t, f, cfg, "nocrc/stream", 600<<10)
	f.oss.Inject(osstest.Fault{Kind: osstest.FaultDropCRC, Op: "GetObject", Count: 10})
	f.oss.Inject(osstest.Fault{Kind: osstest.FaultDropCRC, Op: "HeadObject", Count: 10})
	rc, err := f.client.OpenStream(f.ctx, pluginArtifact(cfg, "nocrc/stream"))
	if err != nil {
		return // refused up front: nothing was sent
	}
	got, err := readAll(t, rc)
	if err == nil {
		t.Fatal("stream without a CRC header succeeded")
	}
	if len(got) != 0 {
		t.Fatalf("%d unverifiable bytes were sent before the error", len(got))
	}
}

// TestMultipartCleanupIsExact: a file of exactly partSize bytes that is cancelled mid-upload
// leaves no upload open; a cancelled Save never aborts the upload of another Save of the same
// key, which completes.
func TestMultipartCleanupIsExact(t *testing.T) {
	f := newFixture(t, osstest.Options{Remote: osstest.Remote{BytesPerSecond: 512 << 10, FirstByteLatency: -1, AggregateBytesPerSecond: -1}})
	cfg := configFor(f.oss, "partSize: 256Ki\nparallel: 2\n")
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	open := func() int { o, _ := f.oss.OpenUploads(osstest.DefaultBucket); return len(o) }

	exact := filepath.Join(t.TempDir(), "exact")
	writeFile(t, exact, randomBytes(3, 256<<10))
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- f.client.Save(ctx, exact, pluginArtifact(cfg, "exact/file")) }()
	waitFor("the part upload", func() bool { return f.oss.Requests("UploadPart") > 0 })
	cancel()
	<-done
	waitFor("no open uploads after cancelling the exact-part-size save", func() bool { return open() == 0 })

	dataA := randomBytes(4, 1536<<10)
	srcA := filepath.Join(t.TempDir(), "a")
	writeFile(t, srcA, dataA)
	srcB := filepath.Join(t.TempDir(), "b")
	writeFile(t, srcB, randomBytes(5, 1536<<10))
	doneA := make(chan error, 1)
	go func() { doneA <- f.client.Save(f.ctx, srcA, pluginArtifact(cfg, "shared/key")) }()
	waitFor("the first upload", func() bool { return open() == 1 })
	ctxB, cancelB := context.WithCancel(f.ctx)
	doneB := make(chan error, 1)
	go func() { doneB <- f.client.Save(ctxB, srcB, pluginArtifact(cfg, "shared/key")) }()
	waitFor("the second upload", func() bool { return open() == 2 })
	cancelB()
	<-doneB
	if err := <-doneA; err != nil {
		t.Fatalf("the other Save of the same key was broken by the cancelled one: %v", err)
	}
	if got, _ := f.oss.Object(osstest.DefaultBucket, "shared/key"); !bytes.Equal(got, dataA) {
		t.Fatal("the stored object is not the completed Save's")
	}
	waitFor("no open uploads", func() bool { return open() == 0 })
}

// TestStalledGetStops: a GET whose body breaks before its first byte, every time, stops after
// maxAttempts with a backoff, for a single GET, a ranged download and OpenStream.
func TestStalledGetStops(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "partSize: 100Ki\nmaxAttempts: 3\n")
	saveInput(t, f, cfg, "stall/small", 20<<10)
	saveInput(t, f, cfg, "stall/big", 350<<10)
	for _, tc := range []struct{ name, key string }{{"single GET", "stall/small"}, {"ranged", "stall/big"}, {"stream", "stall/small"}} {
		t.Run(tc.name, func(t *testing.T) {
			f.oss.Inject(osstest.Fault{Kind: osstest.FaultCutBody, Op: "GetObject", Count: 100000})
			defer f.oss.ClearFaults()
			f.oss.ResetCounts()
			done := make(chan error, 1)
			go func() {
				if tc.name == "stream" {
					rc, err := f.client.OpenStream(f.ctx, pluginArtifact(cfg, tc.key))
					if err == nil {
						_, err = readAll(t, rc)
					}
					done <- err
					return
				}
				done <- f.client.Load(f.ctx, pluginArtifact(cfg, tc.key), filepath.Join(t.TempDir(), "out"))
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("a download that never received a byte succeeded")
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("still retrying after 20 s (%d GETs)", f.oss.Requests("GetObject"))
			}
			// Each range may be asked for maxAttempts times; the ranged downloader asks for
			// up to parallel ranges before it stops.
			if n := f.oss.Requests("GetObject"); n > 3*4 {
				t.Errorf("%d GETs, want at most maxAttempts per range", n)
			}
		})
	}
}

// TestSaveFollowsLinksAndRefusesWhatLoadCannot: symbolic links are followed (also a root that
// is one); what Load could not recreate fails the Save instead of vanishing.
func TestSaveFollowsLinksAndRefusesWhatLoadCannot(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "")
	base := t.TempDir()
	real := writeTree(t, map[string]string{"data/x.txt": "x", "y.txt": "y"})
	if err := os.Symlink(filepath.Join(real, "y.txt"), filepath.Join(real, "link-to-file")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(real, "data"), filepath.Join(real, "link-to-dir")); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "root-link")
	if err := os.Symlink(real, root); err != nil {
		t.Fatal(err)
	}
	a := pluginArtifact(cfg, "links/tree")
	if err := f.client.Save(f.ctx, root, a); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(base, "out")
	if err := f.client.Load(f.ctx, a, out); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{"y.txt": "y", "link-to-file": "y", "data/x.txt": "x", "link-to-dir/x.txt": "x"} {
		if got, err := os.ReadFile(filepath.Join(out, rel)); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", rel, got, err, want)
		}
	}

	bad := map[string]func(dir string) error{
		"backslash in a name": func(dir string) error { return os.WriteFile(filepath.Join(dir, `a\b`), []byte("x"), 0o644) },
		"named pipe":          func(dir string) error { return syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644) },
		"broken link": func(dir string) error {
			return os.Symlink(filepath.Join(dir, "missing"), filepath.Join(dir, "dangling"))
		},
		"link loop": func(dir string) error { return os.Symlink(dir, filepath.Join(dir, "loop")) },
	}
	for name, plant := range bad {
		t.Run(name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"ok.txt": "fine"})
			if err := plant(dir); err != nil {
				t.Fatal(err)
			}
			key := "refused/" + strings.ReplaceAll(name, " ", "-")
			if err := f.client.Save(f.ctx, dir, pluginArtifact(cfg, key)); err == nil || !strings.Contains(err.Error(), "unsupported file") {
				t.Fatalf("save: %v, want an unsupported file error", err)
			}
			if left, _ := f.oss.Keys(osstest.DefaultBucket, key); len(left) != 0 {
				t.Fatalf("a refused save stored %q", left)
			}
		})
	}
}

// TestListObjectsBeyondGRPCLimit: a listing larger than the 4 MiB Argo's client accepts is a
// clear error, not a gRPC ResourceExhausted.
func TestListObjectsBeyondGRPCLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("plants 4,500 objects")
	}
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "")
	long := strings.Repeat("n", 960)
	for i := range 4500 {
		if err := f.oss.PutObject(osstest.DefaultBucket, "huge/"+long+"/"+string(rune('a'+i%26))+strings.Repeat("x", i/26), []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.client.ListObjects(f.ctx, pluginArtifact(cfg, "huge"))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("ListObjects: %v, want a too-large error", err)
	}
}

// TestConfigurationCannotExfiltrate: a configuration naming a variable outside the allowed
// prefix, or an endpoint outside the allow-list, is refused before any request leaves.
func TestConfigurationCannotExfiltrate(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	f.env["SECRET_TOKEN"] = "topsecret-4711"
	var hits atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skip("no 127.0.0.2 on this machine:", err)
	}
	attacker := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = attacker.Serve(ln) }()
	t.Cleanup(func() { _ = attacker.Close() })
	src := filepath.Join(t.TempDir(), "in")
	writeFile(t, src, []byte("data"))
	cases := map[string]string{
		"credential outside the prefix": "endpoint: " + f.oss.URL + "\nbucket: " + osstest.DefaultBucket + "\nregion: " + f.oss.Region() +
			"\npathStyle: true\ncredentials: {accessKeyIdEnv: SECRET_TOKEN, accessKeySecretEnv: " + testSecretEnv + "}\n",
		"endpoint outside the allow-list": "endpoint: http://" + ln.Addr().String() + "\nbucket: b-1\nregion: cn-hangzhou\npathStyle: true\n" +
			"credentials: {accessKeyIdEnv: " + testIDEnv + ", accessKeySecretEnv: " + testSecretEnv + "}\n",
	}
	for name, cfg := range cases {
		f.oss.ResetCounts()
		err := f.client.Save(f.ctx, src, pluginArtifact(cfg, "exfil"))
		if err == nil || !strings.Contains(err.Error(), "invalid artifact configuration") {
			t.Errorf("%s: %v, want it refused as an invalid configuration", name, err)
		}
		if n := f.oss.Requests("PutObject"); n != 0 {
			t.Errorf("%s: %d PUTs reached OSS", name, n)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the endpoint outside the allow-list", n)
	}
}

func TestPartSizeFitsMaxParts(t *testing.T) {
	const ki = 1 << 10
	cases := []struct {
		size, configured int64
		maxParts         int
		want             int64
	}{
		{0, 100 * ki, MaxParts, 100 * ki},
		{100 * ki * MaxParts, 100 * ki, MaxParts, 100 * ki},          // exactly 10,000 parts
		{100*ki*MaxParts + 1, 100 * ki, MaxParts, 200 * ki},          // one byte more: 10,001 parts
		{5 << 40, 8 << 20, MaxParts, 8 << 20 * 66},                   // 5 TiB at 8 MiB: 66 × 8 MiB parts
		{16*100*ki + 1, 100 * ki, 10, 200 * ki},                      // the test server's lowered limit
		{16 * 100 * ki, 100 * ki, 16, 100 * ki},                      // fits
		{1<<40 + 7, 5 << 30, MaxParts, 5 << 30},                      // large parts already fit
		{100*ki*MaxParts*3 + 1, 100 * ki, MaxParts, 400 * ki},        // needs a fourfold part
		{int64(MaxParts) * (200 * ki), 100 * ki, MaxParts, 200 * ki}, // exactly twice
	}
	for _, tc := range cases {
		got := partSize(tc.size, tc.configured, tc.maxParts)
		if got != tc.want {
			t.Errorf("partSize(%d, %d, %d) = %d, want %d", tc.size, tc.configured, tc.maxParts, got, tc.want)
		}
		if parts := (tc.size + got - 1) / got; parts > int64(tc.maxParts) {
			t.Errorf("partSize(%d, %d, %d) = %d gives %d parts", tc.size, tc.configured, tc.maxParts, got, parts)
		}
	}
}

// TestSaveBeyondMaxParts saves a file whose part count at the configured part size exceeds
// the server's part limit (lowered to 10 so the test stays small; OSS's is 10,000): the part
// size grows to fit, and the server's multipart rules (limit, minimum part size) hold.
func TestSaveBeyondMaxParts(t *testing.T) {
	f := newFixture(t, osstest.Options{MaxParts: 10})
	cfg := configFor(f.oss, "partSize: 100Ki\nparallel: 4\n")
	b := f.bucket(t, cfg)
	b.maxParts = 10
	data := randomBytes(8, 16*100<<10+1) // 17 parts of 100 KiB
	src := filepath.Join(t.TempDir(), "big")
	writeFile(t, src, data)
	f.oss.ResetCounts()
	if err := b.Save(t.Context(), src, "parts/big"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.oss.Object(osstest.DefaultBucket, "parts/big"); !bytes.Equal(got, data) {
		t.Fatal("stored object differs")
	}
	if n := f.oss.Requests("UploadPart"); n > 10 {
		t.Fatalf("%d parts uploaded, limit 10", n)
	}
}

// FuzzParseManifest: a manifest read from OSS is untrusted; whatever it holds, the generation
// it yields stays one path segment under the directory's data prefix. Seeds in testdata.
func FuzzParseManifest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		gen, err := parseManifest(data)
		if err != nil {
			return
		}
		p := generationPrefix("k", gen)
		rel, rerr := relativeKey("k/", p)
		if rerr != nil || rel != dataDir+gen+"/" || strings.Count(gen, "/") != 0 || gen == "." || gen == ".." {
			t.Fatalf("generation %q escapes: prefix %q", gen, p)
		}
	})
}

// TestBrowseInsideDirectory: argo-server addresses the files of a directory artifact as
// key + "/" + path (IsDirectory, ListObjects, OpenStream); they resolve through the manifest.
func TestBrowseInsideDirectory(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "")
	dir := writeTree(t, map[string]string{"index.txt": "top", "sub/b.txt": "inner", "sub/deeper/c.txt": "deep"})
	if err := f.client.Save(f.ctx, dir, pluginArtifact(cfg, "browse/out")); err != nil {
		t.Fatal(err)
	}
	if d, err := f.client.IsDirectory(f.ctx, pluginArtifact(cfg, "browse/out/sub")); err != nil || !d {
		t.Fatalf("IsDirectory(sub) = %v, %v", d, err)
	}
	if d, err := f.client.IsDirectory(f.ctx, pluginArtifact(cfg, "browse/out/sub/b.txt")); err != nil || d {
		t.Fatalf("IsDirectory(sub/b.txt) = %v, %v", d, err)
	}
	keys, err := f.client.ListObjects(f.ctx, pluginArtifact(cfg, "browse/out/sub"))
	if err != nil || strings.Join(keys, ",") != "browse/out/sub/b.txt,browse/out/sub/deeper/c.txt" {
		t.Fatalf("ListObjects(sub) = %q, %v", keys, err)
	}
	rc, err := f.client.OpenStream(f.ctx, pluginArtifact(cfg, "browse/out/sub/deeper/c.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(t, rc); err != nil || string(got) != "deep" {
		t.Fatalf("OpenStream(sub/deeper/c.txt) = %q, %v", got, err)
	}
}

// TestDirectoryReplacesFile: a directory saved to a key that held a file is what Load returns
// afterwards.
func TestDirectoryReplacesFile(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "")
	a := pluginArtifact(cfg, "kind/changes")
	file := filepath.Join(t.TempDir(), "f")
	writeFile(t, file, []byte("was a file"))
	if err := f.client.Save(f.ctx, file, a); err != nil {
		t.Fatal(err)
	}
	dir := writeTree(t, map[string]string{"now/a.txt": "a directory"})
	if err := f.client.Save(f.ctx, dir, a); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := f.client.Load(f.ctx, a, out); err != nil {
		t.Fatal(err)
	}
	sameTree(t, dir, out)
}
