package artifacts

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/argo-eci/argo-eci/internal/osstest"
)

// TestCheckpointedTransfers runs multipart transfers with checkpoints on: they succeed, and a
// finished transfer leaves no checkpoint behind.
func TestCheckpointedTransfers(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cp := t.TempDir()
	cfg := configFor(f.oss, "partSize: 100Ki\nparallel: 3\ncheckpointDir: "+cp+"\n")
	data := randomBytes(21, 700<<10)
	src := filepath.Join(t.TempDir(), "in")
	writeFile(t, src, data)
	a := pluginArtifact(cfg, "cp/file")
	if err := f.client.Save(f.ctx, src, a); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if err := f.client.Load(f.ctx, a, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("round trip differs")
	}
	left, _ := os.ReadDir(cp)
	if len(left) != 0 {
		t.Fatalf("checkpoint directory not cleaned: %v", left)
	}
	// A failed checkpointed upload still aborts its multipart upload.
	f.oss.Inject(osstest.Fault{Kind: osstest.FaultStatus, Op: "UploadPart", Count: 1000, Status: 500})
	if err := f.client.Save(f.ctx, src, pluginArtifact(cfg+"maxAttempts: 1\n", "cp/failed")); err == nil {
		t.Fatal("save succeeded through permanent 500s")
	}
	f.oss.ClearFaults()
	if open, _ := f.oss.OpenUploads(osstest.DefaultBucket); len(open) != 0 {
		t.Fatalf("open uploads left: %v", open)
	}
}
