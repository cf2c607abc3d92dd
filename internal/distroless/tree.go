package distroless

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"slices"
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
	// order is the nodes in tar order with their sort keys, from the first
	// call of sorted on; add keeps it in order. A package's tree is listed
	// for its facts and then grows by its status.d entries before it is
	// written: it is sorted once for both.
	order []keyedNode
}

// keyedNode is a node with its sort key, computed once.
type keyedNode struct {
	key  string
	node *node
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
	if t.order == nil {
		return
	}
	k := sortKey(n.name)
	i, found := slices.BinarySearchFunc(t.order, k, func(e keyedNode, k string) int { return strings.Compare(e.key, k) })
	if found {
		t.order[i].node = n
		return
	}
	t.order = slices.Insert(t.order, i, keyedNode{key: k, node: n})
}

// get returns the node at name, or nil.
func (t *tree) get(name string) *node { return t.nodes[name] }

// addParents adds the missing parent directories of every node (mode 0755,
// root, mtime), except those that lower, when not nil, reports: a lower
// layer has them, so this one needs no entry (their own parents are still
// added when missing).
func (t *tree) addParents(mtime time.Time, lower func(dir string) bool) {
	var missing []string
	for name := range t.nodes {
		for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := t.nodes[d]; ok {
				break
			}
			if lower != nil && lower(d) {
				continue
			}
			missing = append(missing, d)
			t.nodes[d] = nil // placeholder, filled below
		}
	}
	for _, d := range missing {
		t.add(&node{name: d, typeflag: tar.TypeDir, mode: 0o755, mtime: mtime})
	}
}

// sortKey orders paths depth first, names in byte order: '/' sorts before
// every byte a name may hold.
func sortKey(p string) string { return strings.ReplaceAll(p, "/", "\x00") }

// sorted returns the nodes in tar order. The first call sorts them, each
// key made once; later calls reuse the order that add keeps.
func (t *tree) sorted() []*node {
	if t.order == nil {
		t.order = make([]keyedNode, 0, len(t.nodes))
		for _, n := range t.nodes {
			t.order = append(t.order, keyedNode{key: sortKey(n.name), node: n})
		}
		slices.SortFunc(t.order, func(a, b keyedNode) int { return strings.Compare(a.key, b.key) })
	}
	out := make([]*node, len(t.order))
	for i, e := range t.order {
		out[i] = e.node
	}
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
	}
	// nodes are in tar order, so the first of a group met is its holder.
	for _, n := range nodes {
		target := n.name
		if n.typeflag == tar.TypeLink {
			target = n.linkname
		}
		if _, ok := groups[target]; !ok {
			continue
		}
		if _, ok := holder[target]; !ok {
			holder[target] = n.name
		}
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
