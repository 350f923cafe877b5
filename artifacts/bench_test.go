package artifacts

// Benchmarks against Argo v4.0.7's built-in OSS driver (workflow/artifacts/oss, old SDK),
// same process, same test server, same input. Each benchmark iteration runs both drivers, the
// order alternating between iterations so that neither always meets a warm or a cold machine
// (use -benchtime 2x or more), and with the remote emulation off also a raw single-stream SDK
// PUT/GET. It reports:
//
//	argo-eci-MB/s, argo-MB/s, speedup-x     throughput and the ratio argo-eci / Argo
//	heap-MiB, argo-heap-MiB                 peak growth of the Go heap during each driver's run
//	rss-MiB, argo-rss-MiB                   peak RSS of this process during each driver's run
//	of-link                                 (remote) argo-eci's throughput as a fraction of
//	                                        the emulated link's aggregate capacity
//	raw-MB/s, fraction-of-raw               (emulation off) single-stream SDK throughput and
//	                                        argo-eci's throughput as a fraction of it
//
// The OSS test server runs in a child process (this test binary re-executed) so that the
// peak-memory figure is the driver's, not the in-memory bucket's.
//
// Sizes: ARGO_ECI_BENCH_FILE (default 64Mi; the figure is 1Gi) and
// ARGO_ECI_BENCH_FILES (default 2000 files of 64 KiB). Run:
//
//	go test ./artifacts/ -run '^$' -bench . -benchtime 2x
//	ARGO_ECI_BENCH_FILE=1Gi go test ./artifacts/ -run '^$' -bench 'File/remote' -benchtime 2x -timeout 30m
//
// The remote emulation caps each connection at 100 MB/s and all of them together at 250 MB/s
// (a pod's network interface is shared by all its connections), with 10 ms before each reply.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	argooss "github.com/argoproj/argo-workflows/v4/workflow/artifacts/oss"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/argo-eci/argo-eci/internal/osstest"
)

const childEnv = "ARGO_ECI_OSSTEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		runChildServer(mode)
		return
	}
	if socket := os.Getenv(dialEnv); socket != "" {
		dialAndExit(socket)
	}
	code := m.Run()
	inputMu.Lock()
	for _, d := range inputDirs {
		_ = os.RemoveAll(d)
	}
	inputMu.Unlock()
	os.Exit(code)
}

// runChildServer serves OSS until stdin closes (the parent exited) or SIGTERM.
func runChildServer(mode string) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	opts := osstest.Options{AcceptV1: true, Remote: osstest.Remote{Off: mode == "raw"}}
	err := osstest.Serve(ctx, opts, func(url string) { fmt.Println(url) })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// childServer is an OSS test server in a child process.
type childServer struct {
	URL string
	cmd *exec.Cmd
}

func startChildServer(b *testing.B, remote bool) *childServer {
	b.Helper()
	mode := "remote"
	if !remote {
		mode = "raw"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("child server: %v", err)
	}
	return &childServer{URL: strings.TrimSpace(line), cmd: cmd}
}

func envSize(b *testing.B, name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return q.Value()
}

// rssMiB reads this process's resident set size.
func rssMiB() float64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseFloat(f[1], 64)
	return pages * float64(os.Getpagesize()) / (1 << 20)
}

// heapMiB reads the bytes of heap objects, live or not yet swept.
func heapMiB() float64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return float64(s[0].Value.Uint64()) / (1 << 20)
}

// usage is what one measured run took.
type usage struct {
	d          time.Duration
	heap, rss  float64 // peaks, MiB
	heapBefore float64
}

// measure runs fn and returns its duration and the peaks of heap and RSS sampled every 5 ms.
// The heap figure is the driver's (the heap before the run is subtracted); RSS is the whole
// process's, reported apart because the Go runtime returns freed memory to the OS lazily.
func measure(b *testing.B, fn func() error) usage {
	b.Helper()
	debug.FreeOSMemory()
	u := usage{heapBefore: heapMiB()}
	var heapPeak, rssPeak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if v := uint64(rssMiB() * 1024); v > rssPeak.Load() {
				rssPeak.Store(v)
			}
			if v := uint64(heapMiB() * 1024); v > heapPeak.Load() {
				heapPeak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	err := fn()
	u.d = time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	u.heap = max(0, float64(heapPeak.Load())/1024-u.heapBefore)
	u.rss = float64(rssPeak.Load()) / 1024
	return u
}

var (
	inputMu    sync.Mutex
	inputFiles = map[string]string{}
	inputDirs  []string // removed when the test binary exits
)

// inputFile writes (once per size) a file of pseudo-random bytes.
func inputFile(b *testing.B, size int64) string {
	inputMu.Lock()
	defer inputMu.Unlock()
	name := fmt.Sprintf("file-%d", size)
	if p, ok := inputFiles[name]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "argo-eci-bench")
	if err != nil {
		b.Fatal(err)
	}
	inputDirs = append(inputDirs, dir)
	p := filepath.Join(dir, "input.bin")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	if _, err := io.CopyN(f, r, size); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	inputFiles[name] = p
	return p
}

// inputDir writes (once) a directory of n files of size bytes in 20 sub-directories.
func inputDir(b *testing.B, n int, size int64) string {
	inputMu.Lock()
	defer inputMu.Unlock()
	name := fmt.Sprintf("dir-%d-%d", n, size)
	if p, ok := inputFiles[name]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "argo-eci-bench")
	if err != nil {
		b.Fatal(err)
	}
	inputDirs = append(inputDirs, dir)
	r := rand.NewChaCha8([32]byte{4, 5, 6})
	buf := make([]byte, size)
	for i := range n {
		p := filepath.Join(dir, "in", fmt.Sprintf("part-%02d", i%20), fmt.Sprintf("file-%05d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		_, _ = r.Read(buf)
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	p := filepath.Join(dir, "in")
	inputFiles[name] = p
	return p
}

// peers holds both drivers pointed at one server.
type peers struct {
	ours   *Bucket
	argo   *argooss.ArtifactDriver
	url    string
	ctx    context.Context
	sdk    *oss.Client
	bucket string
}

func newPeers(b *testing.B, url string) *peers {
	env := map[string]string{testIDEnv: osstest.DefaultAccessKeyID, testSecretEnv: osstest.DefaultAccessKeySecret}
	d := mapDriver(env)
	cfg := fmt.Sprintf("endpoint: %s\nbucket: %s\nregion: %s\npathStyle: true\ncredentials: {accessKeyIdEnv: %s, accessKeySecretEnv: %s}\n",
		url, osstest.DefaultBucket, osstest.DefaultRegion, testIDEnv, testSecretEnv)
	ours, err := d.Bucket(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sdk := oss.NewClient(oss.LoadDefaultConfig().
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(osstest.DefaultAccessKeyID, osstest.DefaultAccessKeySecret)).
		WithRegion(osstest.DefaultRegion).WithEndpoint(url).WithUsePathStyle(true))
	return &peers{
		ours:   ours,
		argo:   &argooss.ArtifactDriver{Endpoint: url, AccessKey: osstest.DefaultAccessKeyID, SecretKey: osstest.DefaultAccessKeySecret},
		url:    url,
		ctx:    argoContext(),
		sdk:    sdk,
		bucket: osstest.DefaultBucket,
	}
}

func (p *peers) argoArtifact(key string) *wfv1.Artifact {
	return &wfv1.Artifact{Name: "bench", ArtifactLocation: wfv1.ArtifactLocation{OSS: &wfv1.OSSArtifact{
		OSSBucket: wfv1.OSSBucket{Endpoint: p.url, Bucket: p.bucket}, Key: key,
	}}}
}

// rawPut and rawGet are single-stream SDK transfers: the server's raw throughput.
func (p *peers) rawPut(path, key string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = p.sdk.PutObject(context.Background(), &oss.PutObjectRequest{Bucket: &p.bucket, Key: &key, Body: f})
	return err
}

func (p *peers) rawGet(key string) error {
	res, err := p.sdk.GetObject(context.Background(), &oss.GetObjectRequest{Bucket: &p.bucket, Key: &key})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, res.Body)
	return err
}

// pair measures both drivers once each, alternating which goes first between iterations so
// that drifting background load does not favour one of them, and accumulates the totals.
type pair struct {
	bytes           int64
	ours, argo, raw time.Duration
	ourHeap, ourRSS float64
	argoHeap        float64
	argoRSS         float64
	// link is the emulated link's aggregate capacity in MB/s (0: no cap).
	link float64
}

func (p *pair) run(b *testing.B, i int, ours, argo func() error) {
	var o, a usage
	if i%2 == 0 {
		o = measure(b, ours)
		a = measure(b, argo)
	} else {
		a = measure(b, argo)
		o = measure(b, ours)
	}
	p.ours += o.d
	p.argo += a.d
	p.ourHeap, p.ourRSS = max(p.ourHeap, o.heap), max(p.ourRSS, o.rss)
	p.argoHeap, p.argoRSS = max(p.argoHeap, a.heap), max(p.argoRSS, a.rss)
}

func (p *pair) report(b *testing.B) {
	n := float64(b.N)
	ours := float64(p.bytes) * n / 1e6 / p.ours.Seconds()
	b.ReportMetric(ours, "argo-eci-MB/s")
	b.ReportMetric(float64(p.bytes)*n/1e6/p.argo.Seconds(), "argo-MB/s")
	b.ReportMetric(p.argo.Seconds()/p.ours.Seconds(), "speedup-x")
	b.ReportMetric(p.ourHeap, "heap-MiB")
	b.ReportMetric(p.argoHeap, "argo-heap-MiB")
	b.ReportMetric(p.ourRSS, "rss-MiB")
	b.ReportMetric(p.argoRSS, "argo-rss-MiB")
	if p.link > 0 {
		b.ReportMetric(ours/p.link, "of-link")
	}
	if p.raw > 0 {
		b.ReportMetric(float64(p.bytes)*n/1e6/p.raw.Seconds(), "raw-MB/s")
		b.ReportMetric(p.raw.Seconds()/p.ours.Seconds(), "fraction-of-raw")
	}
}

// linkMBps is the aggregate capacity of the emulated link in a mode, MB/s.
func linkMBps(remote bool) float64 {
	if !remote {
		return 0
	}
	return float64(osstest.Remote{}.AggregateRate()) / 1e6
}

func modes() []struct {
	name   string
	remote bool
} {
	return []struct {
		name   string
		remote bool
	}{{"remote", true}, {"raw-loopback", false}}
}

func BenchmarkFile(b *testing.B) {
	size := envSize(b, "ARGO_ECI_BENCH_FILE", 64<<20)
	for _, m := range modes() {
		b.Run(m.name, func(b *testing.B) {
			srv := startChildServer(b, m.remote)
			p := newPeers(b, srv.URL)
			in := inputFile(b, size)
			out := b.TempDir()
			b.Run("save", func(b *testing.B) {
				b.SetBytes(size)
				res := &pair{bytes: size, link: linkMBps(m.remote)}
				for i := range b.N {
					ok, ak := fmt.Sprintf("save/ours-%d", i), fmt.Sprintf("save/argo-%d", i)
					res.run(b, i,
						func() error { return p.ours.Save(p.ctx, in, ok) },
						func() error { return p.argo.Save(p.ctx, in, p.argoArtifact(ak)) })
					_ = p.ours.Delete(p.ctx, ok)
					_ = p.ours.Delete(p.ctx, ak)
					if !m.remote {
						res.raw += measure(b, func() error { return p.rawPut(in, "save/raw") }).d
						_ = p.ours.Delete(p.ctx, "save/raw")
					}
				}
				res.report(b)
			})
			b.Run("load", func(b *testing.B) {
				if err := p.ours.Save(p.ctx, in, "load/input"); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(size)
				res := &pair{bytes: size, link: linkMBps(m.remote)}
				for i := range b.N {
					res.run(b, i,
						func() error { return p.ours.Load(p.ctx, "load/input", filepath.Join(out, "ours")) },
						func() error { return p.argo.Load(p.ctx, p.argoArtifact("load/input"), filepath.Join(out, "argo")) })
					if !m.remote {
						res.raw += measure(b, func() error { return p.rawGet("load/input") }).d
					}
					_ = os.Remove(filepath.Join(out, "ours"))
					_ = os.Remove(filepath.Join(out, "argo"))
				}
				res.report(b)
			})
		})
	}
}

func BenchmarkDirectory(b *testing.B) {
	n := int(envSize(b, "ARGO_ECI_BENCH_FILES", 2000))
	const fileSize = 64 << 10
	total := int64(n) * fileSize
	for _, m := range modes() {
		b.Run(m.name, func(b *testing.B) {
			srv := startChildServer(b, m.remote)
			p := newPeers(b, srv.URL)
			in := inputDir(b, n, fileSize)
			out := b.TempDir()
			b.Run("save", func(b *testing.B) {
				b.SetBytes(total)
				res := &pair{bytes: total, link: linkMBps(m.remote)}
				for i := range b.N {
					ok, ak := fmt.Sprintf("dsave/ours-%d", i), fmt.Sprintf("dsave/argo-%d", i)
					res.run(b, i,
						func() error { return p.ours.Save(p.ctx, in, ok) },
						func() error { return p.argo.Save(p.ctx, in, p.argoArtifact(ak)) })
					_ = p.ours.Delete(p.ctx, ok)
					_ = p.ours.Delete(p.ctx, ak)
					if !m.remote {
						blob := inputFile(b, total)
						res.raw += measure(b, func() error { return p.rawPut(blob, "dsave/raw") }).d
						_ = p.ours.Delete(p.ctx, "dsave/raw")
					}
				}
				res.report(b)
			})
			b.Run("load", func(b *testing.B) {
				if err := p.ours.Save(p.ctx, in, "dload/input"); err != nil {
					b.Fatal(err)
				}
				if !m.remote {
					if err := p.rawPut(inputFile(b, total), "dload/raw"); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(total)
				res := &pair{bytes: total, link: linkMBps(m.remote)}
				for i := range b.N {
					res.run(b, i,
						func() error { return p.ours.Load(p.ctx, "dload/input", filepath.Join(out, "ours")) },
						func() error { return p.argo.Load(p.ctx, p.argoArtifact("dload/input"), filepath.Join(out, "argo")) })
					if !m.remote {
						res.raw += measure(b, func() error { return p.rawGet("dload/raw") }).d
					}
					_ = os.RemoveAll(filepath.Join(out, "ours"))
					_ = os.RemoveAll(filepath.Join(out, "argo"))
				}
				res.report(b)
			})
		})
	}
}

// registerInputDir removes dir when the test binary exits.
func registerInputDir(dir string) {
	inputMu.Lock()
	defer inputMu.Unlock()
	inputDirs = append(inputDirs, dir)
}
