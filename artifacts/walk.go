package artifacts

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unicode/utf8"
)

// maxKeyLen is OSS's limit on an object key, in bytes.
const maxKeyLen = 1023

// entry is one thing a directory Save stores: a file (path set) or an empty directory.
type entry struct {
	path string // local file; "" for an empty directory
	rel  string // slash-separated path below the root; empty directories end with "/"
	size int64
}

// walkTree lists what a directory Save stores. Symbolic links are followed, to files and to
// directories alike (a directory reached twice through links is stored twice; a link that
// loops is an error). Anything Load could not recreate fails the walk with
// ErrUnsupportedFile, naming the path: sockets, devices and pipes, broken links, and names
// Load refuses (backslashes, invalid UTF-8, keys longer than OSS allows). Nothing is silently
// left out.
func walkTree(root string) ([]entry, error) {
	var out []entry
	w := walker{out: &out, onPath: map[fileID]bool{}}
	if err := w.dir(root, ""); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out, nil
}

type fileID struct{ dev, ino uint64 }

type walker struct {
	out    *[]entry
	onPath map[fileID]bool // directories on the current path, to detect loops
}

func idOf(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true
}

func (w *walker) dir(path, rel string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w: %w", path, ErrUnsupportedFile, err)
	}
	id, ok := idOf(fi)
	if ok && w.onPath[id] {
		return fmt.Errorf("%s: %w: a symbolic link loops back to a directory above it", path, ErrUnsupportedFile)
	}
	if ok {
		w.onPath[id] = true
		defer delete(w.onPath, id)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if len(entries) == 0 && rel != "" {
		*w.out = append(*w.out, entry{rel: rel + "/"})
	}
	for _, e := range entries {
		if err := w.visit(filepath.Join(path, e.Name()), joinRel(rel, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func joinRel(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

func (w *walker) visit(path, rel string) error {
	if err := checkName(rel); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fi, err := os.Stat(path) // follows symbolic links
	if err != nil {
		return fmt.Errorf("%s: %w: %w", path, ErrUnsupportedFile, err)
	}
	switch {
	case fi.IsDir():
		return w.dir(path, rel)
	case fi.Mode().IsRegular():
		*w.out = append(*w.out, entry{path: path, rel: rel, size: fi.Size()})
		return nil
	default:
		return fmt.Errorf("%s: %w: %s is neither a regular file nor a directory", path, ErrUnsupportedFile, fi.Mode().Type())
	}
}

// checkName refuses a relative path that Load would refuse or OSS cannot store.
func checkName(rel string) error {
	switch {
	case !utf8.ValidString(rel):
		return fmt.Errorf("%w: the name is not valid UTF-8, which OSS keys must be", ErrUnsupportedFile)
	case strings.ContainsAny(rel, "\\\x00"):
		return fmt.Errorf("%w: the name contains a backslash, which Load refuses as a path separator", ErrUnsupportedFile)
	case len(rel) > maxKeyLen:
		return fmt.Errorf("%w: the path is longer than an OSS key may be (%d bytes)", ErrUnsupportedFile, maxKeyLen)
	}
	return nil
}
