package compat

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// inode is what a path of a flattened image holds. Hard links share one.
type inode struct {
	typ      string // dir, file, symlink, char, block, fifo
	mode     int64  // permission bits with setuid, setgid and sticky
	uid, gid int
	link     string // a symlink's target
	size     int64
	digest   string // sha256 of a file's content
	mtime    time.Time
	xattrs   map[string]string
	device   string // major:minor of char and block devices
}

// tree is an image's final filesystem: absolute clean path → inode.
type tree map[string]*inode

// flatten applies the layers of img in order, as a runtime would: OCI
// whiteouts delete from the layers below, opaque markers empty a directory
// of what the layers below put there, a non-directory replaces a directory
// and its children, and a hard link shares the inode of its target.
func flatten(img v1.Image) (tree, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	t := tree{}
	for i, l := range layers {
		if err := t.apply(l); err != nil {
			return nil, fmt.Errorf("applying layer %d: %w", i, err)
		}
	}
	return t, nil
}

// layerEntry is one tar entry of a layer, read before it is applied.
type layerEntry struct {
	name     string
	hardlink string // target path of a hard link
	node     *inode
}

func (t tree) apply(l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("opening: %w", err)
	}
	defer rc.Close()
	var (
		adds    []layerEntry
		deletes []string // paths whose subtree goes, lower layers only
		opaque  []string // directories whose children go, lower layers only
	)
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		name := cleanPath(h.Name)
		dir, base := path.Split(name)
		dir = cleanPath(dir)
		switch {
		case base == ".wh..wh..opq":
			opaque = append(opaque, dir)
			continue
		case strings.HasPrefix(base, ".wh."):
			deletes = append(deletes, path.Join(dir, strings.TrimPrefix(base, ".wh.")))
			continue
		}
		e := layerEntry{name: name}
		if h.Typeflag == tar.TypeLink {
			e.hardlink = cleanPath(h.Linkname)
			adds = append(adds, e)
			continue
		}
		n, err := newInode(h, tr)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		e.node = n
		adds = append(adds, e)
	}
	// Drain to the end so that the layer's digest is verified.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	for _, d := range opaque {
		t.removeChildren(d)
	}
	for _, d := range deletes {
		t.removeChildren(d)
		delete(t, d)
	}
	for _, e := range adds {
		n := e.node
		if e.hardlink != "" {
			n = t[e.hardlink]
			if n == nil {
				return fmt.Errorf("%s: hard link to %s, which is not there", e.name, e.hardlink)
			}
		}
		if old := t[e.name]; old != nil && old.typ == "dir" && n.typ != "dir" {
			t.removeChildren(e.name)
		}
		t[e.name] = n
	}
	return nil
}

func newInode(h *tar.Header, r io.Reader) (*inode, error) {
	n := &inode{
		mode:  h.Mode & 0o7777,
		uid:   h.Uid,
		gid:   h.Gid,
		mtime: h.ModTime.UTC(),
	}
	for k, v := range h.PAXRecords {
		if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if n.xattrs == nil {
				n.xattrs = map[string]string{}
			}
			n.xattrs[x] = v
		}
	}
	switch h.Typeflag {
	case tar.TypeDir:
		n.typ = "dir"
	case tar.TypeReg: // archive/tar reads the old TypeRegA as TypeReg
		n.typ = "file"
		sum := sha256.New()
		size, err := io.Copy(sum, r)
		if err != nil {
			return nil, fmt.Errorf("reading content: %w", err)
		}
		n.size = size
		n.digest = hex.EncodeToString(sum.Sum(nil))
	case tar.TypeSymlink:
		n.typ = "symlink"
		n.link = h.Linkname
	case tar.TypeChar:
		n.typ = "char"
		n.device = fmt.Sprintf("%d:%d", h.Devmajor, h.Devminor)
	case tar.TypeBlock:
		n.typ = "block"
		n.device = fmt.Sprintf("%d:%d", h.Devmajor, h.Devminor)
	case tar.TypeFifo:
		n.typ = "fifo"
	default:
		return nil, fmt.Errorf("tar entry type %q", h.Typeflag)
	}
	return n, nil
}

// removeChildren deletes everything below dir.
func (t tree) removeChildren(dir string) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for p := range t {
		if strings.HasPrefix(p, prefix) {
			delete(t, p)
		}
	}
}

// cleanPath turns a tar name ("./a/b/", "a/b") into an absolute clean path.
func cleanPath(name string) string {
	return path.Clean("/" + name)
}

// hardlinks returns, for each path whose inode more paths share, the others.
func (t tree) hardlinks() map[string][]string {
	byInode := map[*inode][]string{}
	for p, n := range t {
		if n.typ == "file" {
			byInode[n] = append(byInode[n], p)
		}
	}
	out := map[string][]string{}
	for _, ps := range byInode {
		if len(ps) < 2 {
			continue
		}
		sort.Strings(ps)
		for i, p := range ps {
			out[p] = append(append([]string{}, ps[:i]...), ps[i+1:]...)
		}
	}
	return out
}
