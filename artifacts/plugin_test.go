package artifacts

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/argo-eci/argo-eci/internal/osstest"
)

// TestPluginFiles drives every RPC for single files through Argo's own plugin client.
func TestPluginFiles(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "partSize: 100Ki\nparallel: 4\n")
	cases := []struct {
		name, key string
		size      int
	}{
		{"small", "wf/pod/out.txt", 1234},
		{"empty", "wf/pod/empty", 0},
		{"multipart", "wf/pod/big.bin", 100<<10*5 + 333},
		{"space and unicode", "wf/目录 with space/数据 ü+%.bin", 4096},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			data := randomBytes(uint64(tc.size), tc.size)
			writeFile(t, src, data)
			a := pluginArtifact(cfg, tc.key)
			if err := f.client.Save(f.ctx, src, a); err != nil {
				t.Fatalf("save: %v", err)
			}
			stored, err := f.oss.Object(osstest.DefaultBucket, tc.key)
			if err != nil || !bytes.Equal(stored, data) {
				t.Fatalf("stored object: %d bytes, %v", len(stored), err)
			}
			isDir, err := f.client.IsDirectory(f.ctx, a)
			if err != nil || isDir {
				t.Fatalf("IsDirectory = %v, %v; want false", isDir, err)
			}
			keys, err := f.client.ListObjects(f.ctx, a)
			if err != nil || !slices.Equal(keys, []string{tc.key}) {
				t.Fatalf("ListObjects = %q, %v", keys, err)
			}
			dst := filepath.Join(dir, "out", "nested", "file")
			if err := f.client.Load(f.ctx, a, dst); err != nil {
				t.Fatalf("load: %v", err)
			}
			if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
				t.Fatalf("loaded %d bytes, want %d", len(got), len(data))
			}
			rc, err := f.client.OpenStream(f.ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, rc)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("stream: %d bytes, %v", len(got), err)
			}
			if err := f.client.Delete(f.ctx, a); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, err := f.oss.Object(osstest.DefaultBucket, tc.key); err == nil {
				t.Fatal("object still exists after Delete")
			}
			if err := f.client.Load(f.ctx, a, filepath.Join(dir, "gone")); err == nil || !strings.Contains(err.Error(), "not found") {
				t.Fatalf("load after delete: %v, want not found", err)
			}
		})
	}
	if open, _ := f.oss.OpenUploads(osstest.DefaultBucket); len(open) != 0 {
		t.Fatalf("open multipart uploads left: %v", open)
	}
}

// TestPluginDirectories drives every RPC for nested directories with empty files, empty
// directories, spaces and unicode.
func TestPluginDirectories(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "partSize: 100Ki\nparallel: 3\n")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := map[string]int{
		"a.txt":                  10,
		"empty.txt":              0,
		"sub/b.bin":              300 << 10, // multipart inside a directory
		"sub/deeper/c d.txt":     77,
		"数据/ü é/文件 名.json":       1500,
		"many/1":                 1,
		"many/2":                 2,
		"many/3":                 3,
		"plus+and%percent/x y z": 5,
	}
	for rel, n := range files {
		writeFile(t, filepath.Join(src, rel), randomBytes(uint64(len(rel)), n))
	}
	for _, d := range []string{"emptydir", "sub/empty inner", "空"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const key = "wf-1/pod-2/outputs dir"
	a := pluginArtifact(cfg, key)
	if err := f.client.Save(f.ctx, src, a); err != nil {
		t.Fatalf("save: %v", err)
	}
	isDir, err := f.client.IsDirectory(f.ctx, a)
	if err != nil || !isDir {
		t.Fatalf("IsDirectory = %v, %v; want true", isDir, err)
	}
	keys, err := f.client.ListObjects(f.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for rel := range files {
		want = append(want, key+"/"+rel)
	}
	sort.Strings(want)
	sort.Strings(keys)
	if !slices.Equal(keys, want) {
		t.Fatalf("ListObjects:\n got %q\nwant %q", keys, want)
	}
	dst := filepath.Join(dir, "dst")
	if err := f.client.Load(f.ctx, a, dst); err != nil {
		t.Fatalf("load: %v", err)
	}
	sameTree(t, src, dst)

	rc, err := f.client.OpenStream(f.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	archive, err := readAll(t, rc)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(archive))
	seen := map[string]int{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			body, _ := io.ReadAll(tr)
			seen[h.Name] = len(body)
		}
	}
	for rel, n := range files {
		if seen[rel] != n {
			t.Errorf("tar stream: %q has %d bytes, want %d", rel, seen[rel], n)
		}
	}

	// An empty directory alone is still a directory artifact.
	empty := filepath.Join(dir, "only-empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	ea := pluginArtifact(cfg, "wf-1/empty")
	if err := f.client.Save(f.ctx, empty, ea); err != nil {
		t.Fatal(err)
	}
	if d, err := f.client.IsDirectory(f.ctx, ea); err != nil || !d {
		t.Fatalf("empty dir IsDirectory = %v, %v", d, err)
	}
	if err := f.client.Load(f.ctx, ea, filepath.Join(dir, "empty-out")); err != nil {
		t.Fatal(err)
	}
	sameTree(t, empty, filepath.Join(dir, "empty-out"))

	// Delete removes the whole prefix, not just one key, and leaves neighbours alone.
	writeFile(t, filepath.Join(dir, "neighbour"), []byte("keep"))
	na := pluginArtifact(cfg, key+"-neighbour")
	if err := f.client.Save(f.ctx, filepath.Join(dir, "neighbour"), na); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Delete(f.ctx, a); err != nil {
		t.Fatal(err)
	}
	left, _ := f.oss.Keys(osstest.DefaultBucket, key)
	if !slices.Equal(left, []string{key + "-neighbour"}) {
		t.Fatalf("after Delete: %q", left)
	}
}

// TestPluginManyFilesDeleteBatches checks Delete across more than one 1000-key batch and
// listings across pages.
func TestPluginManyFilesDeleteBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("2,100 objects")
	}
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "parallel: 16\n")
	src := filepath.Join(t.TempDir(), "src")
	for i := range 2100 {
		writeFile(t, filepath.Join(src, "d", string(rune('a'+i%26)), strings.Repeat("x", 1+i/26)), []byte{byte(i)})
	}
	a := pluginArtifact(cfg, "many")
	if err := f.client.Save(f.ctx, src, a); err != nil {
		t.Fatal(err)
	}
	keys, err := f.client.ListObjects(f.ctx, a)
	if err != nil || len(keys) != 2100 {
		t.Fatalf("listed %d keys, %v", len(keys), err)
	}
	before := f.oss.Requests("DeleteMultipleObjects")
	if err := f.client.Delete(f.ctx, a); err != nil {
		t.Fatal(err)
	}
	if n := f.oss.Requests("DeleteMultipleObjects") - before; n != 3 {
		t.Errorf("DeleteMultipleObjects calls = %d, want 3 batches", n)
	}
	if left, _ := f.oss.Keys(osstest.DefaultBucket, "many"); len(left) != 0 {
		t.Fatalf("%d objects left after Delete", len(left))
	}
}

// TestPluginRejectsEscapingKeys plants object keys that would leave the target directory.
func TestPluginRejectsEscapingKeys(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	cfg := configFor(f.oss, "")
	b, err := mapDriver(f.env).Bucket(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, evil := range []string{"evil/../../escape.txt", "evil//abs", "evil/./dot"} {
		if err := b.putEmpty(t.Context(), evil); err != nil {
			t.Fatal(err)
		}
	}
	base := t.TempDir()
	dst := filepath.Join(base, "inner", "dst")
	err = f.client.Load(f.ctx, pluginArtifact(cfg, "evil"), dst)
	if err == nil || !strings.Contains(err.Error(), "unsafe object key") {
		t.Fatalf("load: %v, want unsafe object key", err)
	}
	if _, err := os.Stat(filepath.Join(base, "escape.txt")); err == nil {
		t.Fatal("a file escaped the target directory")
	}
	if _, err := os.Stat(dst); err == nil {
		t.Fatal("the load wrote into the target despite unsafe keys")
	}
}

// TestPluginConfigurationErrors checks that a bad configuration reaches Argo as an error naming
// the field.
func TestPluginConfigurationErrors(t *testing.T) {
	f := newFixture(t, osstest.Options{})
	for cfg, field := range map[string]string{
		configFor(f.oss, "parallel: 0.5\n"):   "parallel",
		configFor(f.oss, "colour: blue\n"):    "colour",
		configFor(f.oss, "partSize: 1Ki\n"):   "partSize",
		"endpoint: x\nbucket: B\nregion: r\n": "bucket",
	} {
		err := f.client.Save(f.ctx, "/nonexistent", pluginArtifact(cfg, "k"))
		if err == nil || !strings.Contains(err.Error(), "invalid artifact configuration") || !strings.Contains(err.Error(), field) {
			t.Errorf("config %q: error %v, want it to name %q", cfg, err, field)
		}
	}
	f.env[testSecretEnv] = ""
	err := f.client.Save(f.ctx, "/nonexistent", pluginArtifact(configFor(f.oss, "maxAttempts: 2\n"), "k"))
	if err == nil || !strings.Contains(err.Error(), testSecretEnv) {
		t.Errorf("empty secret variable: %v, want it named", err)
	}
}
