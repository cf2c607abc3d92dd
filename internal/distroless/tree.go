package distroless

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// A tree is the content of one layer, built in memory (file bodies are
// bytes or sections of a spool file) and written as a deterministic tar
// with the rules of archive.WriteDir: entries depth first with each
// directory's names in byte order, relative names, directories ending in
// "/", numeric owners only, whole-second mtimes clamped to the epoch, USTAR
// headers with PAX records only where needed (long names, extended
// attributes). Hard links point at the first name of their file in that
// order.
type tree struct {
	nodes map[string]*node
}

// node is one entry of a tree.
type node struct {
	// name is the clean relative path ("usr/bin/env").
	name     string
	typeflag byte // tar.TypeReg, TypeDir, TypeSymlink, TypeLink, TypeChar, TypeBlock, TypeFifo
	mode     int64
	uid, gid int
	mtime    time.Time
	// linkname is a symlink's target, or a hard link's target path (clean,
	// relative).
	linkname         string
	devmajor, devmin int64
	xattrs           map[string]string
	// size and the body: data, or size bytes at off in the tree's spool.
	size  int64
	data  []byte
	off   int64
	spool bool
}

func newTree() *tree { return &tree{nodes: map[string]*node{}} }

// add puts n in the tree. A directory already there keeps its place and
// takes n's metadata when n is a directory too; anything else is replaced.
func (t *tree) add(n *node) {
	t.nodes[n.name] = n
}

// get returns the node at name, or nil.
func (t *tree) get(name string) *node { return t.nodes[name] }

// addParents adds the missing parent directories of every node (mode 0755,
// root, mtime epoch).
func (t *tree) addParents(mtime time.Time) {
	var missing []string
	for name := range t.nodes {
		for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := t.nodes[d]; ok {
				break
			}
			missing = append(missing, d)
			t.nodes[d] = nil // placeholder, filled below
		}
	}
	for _, d := range missing {
		t.nodes[d] = &node{name: d, typeflag: tar.TypeDir, mode: 0o755, mtime: mtime}
	}
}

// sortKey orders paths depth first, names in byte order: '/' sorts before
// every byte a name may hold.
func sortKey(p string) string { return strings.ReplaceAll(p, "/", "\x00") }

// sorted returns the nodes in tar order.
func (t *tree) sorted() []*node {
	out := make([]*node, 0, len(t.nodes))
	for _, n := range t.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return sortKey(out[i].name) < sortKey(out[j].name) })
	return out
}

// write writes the tree as an uncompressed tar to w, reading spooled bodies
// from spool. Times later than epoch are written as epoch (when not nil).
func (t *tree) write(w io.Writer, spool io.ReaderAt, epoch *time.Time) error {
	nodes := t.sorted()
	// Hard links: the first name in order holds the content.
	holder := map[string]string{} // target → first name of its group
	groups := map[string][]*node{}
	for _, n := range nodes {
		if n.typeflag == tar.TypeLink {
			groups[n.linkname] = append(groups[n.linkname], n)
		}
	}
	for target, links := range groups {
		tn, ok := t.nodes[target]
		if !ok || tn.typeflag != tar.TypeReg {
			return fmt.Errorf("hard link %s: target %s is not a regular file of the layer", links[0].name, target)
		}
		first := target
		for _, l := range links {
			if sortKey(l.name) < sortKey(first) {
				first = l.name
			}
		}
		holder[target] = first
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	tw := tar.NewWriter(bw)
	for _, n := range nodes {
		hdr := &tar.Header{
			Name:     n.name,
			Typeflag: n.typeflag,
			Mode:     n.mode,
			Uid:      n.uid,
			Gid:      n.gid,
			ModTime:  clampTime(n.mtime, epoch),
			Format:   tar.FormatPAX,
		}
		body := n
		switch n.typeflag {
		case tar.TypeDir:
			hdr.Name += "/"
		case tar.TypeSymlink:
			hdr.Linkname = n.linkname
		case tar.TypeChar, tar.TypeBlock:
			hdr.Devmajor, hdr.Devminor = n.devmajor, n.devmin
		case tar.TypeReg, tar.TypeLink:
			target := n.name
			if n.typeflag == tar.TypeLink {
				target = n.linkname
				body = t.nodes[target]
				hdr.Mode, hdr.Uid, hdr.Gid = body.mode, body.uid, body.gid
			}
			if first, ok := holder[target]; ok && first != n.name {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				body = nil
				break
			}
			hdr.Typeflag, hdr.Size = tar.TypeReg, body.size
		}
		for k, v := range n.xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing %s: %w", n.name, err)
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
			continue
		}
		var r io.Reader
		if body.spool {
			r = io.NewSectionReader(spool, body.off, body.size)
		} else {
			r = bytes.NewReader(body.data)
		}
		if n, err := io.Copy(tw, r); err != nil {
			return fmt.Errorf("writing %s: %w", hdr.Name, err)
		} else if n != hdr.Size {
			return fmt.Errorf("writing %s: %d of %d bytes", hdr.Name, n, hdr.Size)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// clampTime returns t in whole seconds, at most epoch.
func clampTime(t time.Time, epoch *time.Time) time.Time {
	t = time.Unix(t.Unix(), 0).UTC()
	if epoch != nil && t.After(*epoch) {
		return time.Unix(epoch.Unix(), 0).UTC()
	}
	return t
}
