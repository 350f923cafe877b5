// Command registry builds the container images of the local kubelet node from binaries on this
// machine and serves them read-only on 127.0.0.1 with the OCI distribution API, as the registry
// mirror of every host containerd pulls from (hack/cluster/up.sh configures the mirrors). No
// public registry is reachable here; serving the images (instead of importing them into
// containerd) keeps imagePullPolicy Always working, as it does for `:latest` images.
//
// Images (each one uncompressed layer):
//   - registry.k8s.io/pause:3.10: the pod sandbox, the pause program built from hack/cluster/pause;
//   - quay.io/argoproj/argoexec:v4.0.7: Argo's executor, built statically (emissary copies it into
//     main containers, which may have no C library);
//   - docker.io/argo-eci/argo-eci:latest: this repository's binary, as the Dockerfile lays it out
//     (uid 65532, entrypoint /usr/local/bin/argo-eci);
//   - docker.io/library/busybox:1.36: Debian's busybox-static with its applets. The same content
//     answers to the public names the examples use (alpine, docker/whalesay with a stand-in cowsay
//     script), so their steps really run.
//
// Usage: registry --listen 127.0.0.1:PORT --bin DIR --busybox PATH --dir DIR
package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar"
	defaultPath   = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// file is one entry of an image layer.
type file struct {
	path   string // inside the image, no leading slash
	source string // host file to copy (regular files)
	data   string // literal content when source is empty
	link   string // symlink target
	dir    bool
	mode   int64
}

// image is what one image holds and how it starts.
type image struct {
	names      []string // repository:tag, fully qualified
	files      []file
	entrypoint []string
	user       string
}

func main() {
	listen := flag.String("listen", "127.0.0.1:30500", "address to serve on (loopback)")
	bin := flag.String("bin", ".cache/bin", "directory with pause, argoexec and argo-eci (static binaries)")
	busybox := flag.String("busybox", "/bin/busybox", "a static busybox")
	dir := flag.String("dir", ".cache/state/registry", "where the built blobs are written")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*listen, *bin, *busybox, *dir, log); err != nil {
		log.Error("registry failed", "err", err)
		os.Exit(1)
	}
}

func run(listen, bin, busybox, dir string, log *slog.Logger) error {
	images, err := catalog(bin, busybox)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	store := &store{dir: filepath.Join(dir, "blobs"), manifests: map[string]string{}}
	if err := os.MkdirAll(store.dir, 0o755); err != nil {
		return err
	}
	for _, img := range images {
		digest, err := store.build(img)
		if err != nil {
			return fmt.Errorf("image %s: %w", img.names[0], err)
		}
		for _, n := range img.names {
			store.manifests[n] = digest
		}
		log.Info("image built", "names", strings.Join(img.names, ","), "manifest", digest)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: store, ReadHeaderTimeout: 10 * time.Second}
	log.Info("serving", "addr", ln.Addr().String())
	return srv.Serve(ln)
}

// catalog lists the images built from the binaries in bin and the busybox at busybox.
func catalog(bin, busybox string) ([]image, error) {
	applets, err := busyboxApplets(busybox)
	if err != nil {
		return nil, err
	}
	base := []file{
		{path: "tmp", dir: true, mode: 0o1777},
		{path: "etc", dir: true, mode: 0o755},
		{path: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\nargo:x:8737:0:argo:/tmp:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n", mode: 0o644},
		{path: "etc/group", data: "root:x:0:\nnonroot:x:65532:\n", mode: 0o644},
	}
	shell := append(append([]file{}, base...), file{path: "bin", dir: true, mode: 0o755},
		file{path: "bin/busybox", source: busybox, mode: 0o755})
	for _, a := range applets {
		if a != "busybox" {
			shell = append(shell, file{path: "bin/" + a, link: "busybox"})
		}
	}
	whalesay := append(append([]file{}, shell...), file{path: "usr", dir: true, mode: 0o755},
		file{path: "usr/local", dir: true, mode: 0o755}, file{path: "usr/local/bin", dir: true, mode: 0o755},
		file{path: "usr/local/bin/cowsay", mode: 0o755, data: "#!/bin/sh\n# Stand-in for docker/whalesay's cowsay: the message in a speech bubble.\nmsg=\"$*\"\necho \" _${msg//?/_}_\"\necho \"< $msg >\"\necho \" -${msg//?/-}-\"\n"})
	return []image{
		{names: []string{"registry.k8s.io/pause:3.10"}, entrypoint: []string{"/pause"},
			files: []file{{path: "pause", source: filepath.Join(bin, "pause"), mode: 0o755}}},
		{names: []string{"quay.io/argoproj/argoexec:v4.0.7"}, entrypoint: []string{"argoexec"}, user: "8737",
			files: append(append([]file{}, base...), file{path: "bin", dir: true, mode: 0o755},
				file{path: "bin/argoexec", source: filepath.Join(bin, "argoexec"), mode: 0o755})},
		{names: []string{"docker.io/argo-eci/argo-eci:latest"}, entrypoint: []string{"/usr/local/bin/argo-eci"}, user: "65532:65532",
			files: append(append([]file{}, base...), file{path: "usr", dir: true, mode: 0o755},
				file{path: "usr/local", dir: true, mode: 0o755}, file{path: "usr/local/bin", dir: true, mode: 0o755},
				file{path: "usr/local/bin/argo-eci", source: filepath.Join(bin, "argo-eci"), mode: 0o755})},
		{names: []string{"docker.io/library/busybox:1.36", "docker.io/library/busybox:latest",
			"docker.io/library/alpine:3.20", "docker.io/library/alpine:latest"},
			entrypoint: []string{"/bin/sh"}, files: shell},
		{names: []string{"docker.io/docker/whalesay:latest"}, entrypoint: []string{"/bin/sh"}, files: whalesay},
	}, nil
}

func busyboxApplets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	return applets, nil
}

// store holds blobs as files named by digest and manifests by image name.
type store struct {
	dir       string
	manifests map[string]string // name:tag -> manifest digest
}

func (s *store) build(img image) (string, error) {
	layer, err := s.writeBlob(func(w io.Writer) error { return writeLayer(w, img.files) })
	if err != nil {
		return "", err
	}
	cfg := map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Entrypoint": img.entrypoint, "Env": []string{defaultPath}, "User": img.user, "WorkingDir": "/"},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layer.digest}},
	}
	config, err := s.writeJSON(cfg)
	if err != nil {
		return "", err
	}
	manifest, err := s.writeJSON(map[string]any{
		"schemaVersion": 2, "mediaType": mediaManifest,
		"config": map[string]any{"mediaType": mediaConfig, "digest": config.digest, "size": config.size},
		"layers": []any{map[string]any{"mediaType": mediaLayer, "digest": layer.digest, "size": layer.size}},
	})
	return manifest.digest, err
}

type blob struct {
	digest string
	size   int64
}

func (s *store) writeJSON(v any) (blob, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return blob{}, err
	}
	return s.writeBlob(func(w io.Writer) error { _, err := w.Write(data); return err })
}

// writeBlob stores what write produces under its sha256 digest.
func (s *store) writeBlob(write func(io.Writer) error) (blob, error) {
	tmp, err := os.CreateTemp(s.dir, ".blob-")
	if err != nil {
		return blob{}, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(tmp, h)}
	if err := write(cw); err != nil {
		tmp.Close()
		return blob{}, err
	}
	if err := tmp.Close(); err != nil {
		return blob{}, err
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	return blob{digest: digest, size: cw.n}, os.Rename(tmp.Name(), filepath.Join(s.dir, digest))
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeLayer writes files as a tar stream, owned by root, with a fixed time (reproducible digests).
func writeLayer(w io.Writer, files []file) error {
	tw := tar.NewWriter(w)
	mtime := time.Unix(0, 0)
	for _, f := range files {
		hdr := &tar.Header{Name: f.path, Mode: f.mode, ModTime: mtime, Format: tar.FormatPAX}
		switch {
		case f.dir:
			hdr.Typeflag, hdr.Name = tar.TypeDir, f.path+"/"
		case f.link != "":
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, f.link, 0o777
		default:
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(f.data))
			if f.source != "" {
				st, err := os.Stat(f.source)
				if err != nil {
					return err
				}
				hdr.Size = st.Size()
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := copyContent(tw, f); err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
	}
	return tw.Close()
}

func copyContent(w io.Writer, f file) error {
	if f.source == "" {
		_, err := io.WriteString(w, f.data)
		return err
	}
	in, err := os.Open(f.source)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.Copy(w, in)
	return err
}

// ServeHTTP answers the read-only part of the OCI distribution API: GET/HEAD /v2/,
// /v2/<name>/manifests/<tag|digest> and /v2/<name>/blobs/<digest>. containerd asks a mirror with
// ?ns=<registry host>; without it the name is looked up on docker.io.
func (s *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "read-only registry", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	if path == "" || path == r.URL.Path {
		w.WriteHeader(http.StatusOK)
		return
	}
	name, ref, kind, err := splitPath(path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	digest := ref
	if kind == "manifests" && !strings.HasPrefix(ref, "sha256:") {
		host := r.URL.Query().Get("ns")
		if host == "" {
			host = "docker.io"
		}
		var ok bool
		if digest, ok = s.manifests[host+"/"+name+":"+ref]; !ok {
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
	}
	f, err := os.Open(filepath.Join(s.dir, filepath.Base(digest)))
	if err != nil {
		http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, http.StatusNotFound)
		return
	}
	defer f.Close()
	if kind == "manifests" {
		w.Header().Set("Content-Type", mediaManifest)
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Docker-Content-Digest", digest)
	http.ServeContent(w, r, "", time.Unix(0, 0), f)
}

// splitPath splits "<name>/manifests/<ref>" or "<name>/blobs/<digest>".
func splitPath(p string) (name, ref, kind string, err error) {
	for _, k := range []string{"/manifests/", "/blobs/"} {
		if i := strings.LastIndex(p, k); i > 0 {
			name, ref, kind = p[:i], p[i+len(k):], strings.Trim(k, "/")
			if kind == "blobs" && !strings.HasPrefix(ref, "sha256:") {
				return "", "", "", errors.New("blob references must be sha256 digests")
			}
			return name, ref, kind, nil
		}
	}
	return "", "", "", fmt.Errorf("unknown path %q", p)
}
