package analyze

import (
	"crypto/sha256"
	"fmt"
	"path"
	"runtime/debug"
	"sort"
	"strings"
)

// maxSymlinks bounds symlink resolution, as Linux does (MAXSYMLINKS).
const maxSymlinks = 40

// blob is one stored copy of file content: a regular-file tar entry. Paths
// that are hardlinks of each other share a blob. A blob that no path
// references once every layer is applied is wasted.
type blob struct {
	size  int64
	layer int
	refs  int
}

// node is a path in the merged filesystem.
type node struct {
	name     string
	parent   *node
	children map[string]*node // directories only

	kind     kind // kindFile, kindDir, kindSymlink or kindOther
	typeflag byte
	mode     int64
	uid, gid int
	link     string // symlink target
	layer    int    // the layer that last wrote this path

	blob       *blob // regular files
	privateKey bool
	goInfo     *debug.BuildInfo
	content    []byte
	digest     *[sha256.Size]byte
}

// filesystem is the union of the layers applied so far, following the OCI
// image-spec changeset rules: entries replace what is at their path (a
// directory over a directory merges), whiteouts and opaque markers delete
// lower paths, parent symlinks are followed inside the root.
type filesystem struct {
	root  *node
	blobs []*blob
	notes []string
}

func newFilesystem() *filesystem {
	return &filesystem{root: &node{name: "/", kind: kindDir, mode: 0o755, children: map[string]*node{}, layer: -1}}
}

// apply applies layer number index. Whiteouts and opaque markers act on
// the lower layers only, so they are applied first; then the entries in
// tar order (a later entry for the same path wins).
func (fs *filesystem) apply(index int, scan *layerScan) {
	for i := range scan.entries {
		e := &scan.entries[i]
		switch e.kind {
		case kindWhiteout:
			if n := fs.lookup(e.path); n != nil {
				fs.remove(n)
			}
		case kindOpaque:
			if n := fs.lookup(e.path); n != nil && n.kind == kindDir {
				for _, c := range n.children {
					fs.remove(c)
				}
			}
		}
	}
	for i := range scan.entries {
		e := &scan.entries[i]
		if e.kind == kindWhiteout || e.kind == kindOpaque {
			continue
		}
		fs.add(index, e)
	}
}

// add applies one non-whiteout entry of layer index.
func (fs *filesystem) add(index int, e *entry) {
	if e.path == "/" {
		fs.root.mode, fs.root.uid, fs.root.gid, fs.root.layer = e.mode, e.uid, e.gid, index
		return
	}
	dir, err := fs.dir(path.Dir(e.path), true, 0)
	if err != nil {
		fs.note("layer %d: %s: %v; entry skipped", index, e.path, err)
		return
	}
	name := path.Base(e.path)
	old := dir.children[name]
	n := &node{
		name: name, parent: dir, kind: e.kind, typeflag: e.typeflag,
		mode: e.mode, uid: e.uid, gid: e.gid, link: e.link, layer: index,
		privateKey: e.privateKey, goInfo: e.goInfo, content: e.content, digest: e.digest,
	}
	switch e.kind {
	case kindDir:
		if old != nil && old.kind == kindDir {
			old.mode, old.uid, old.gid, old.layer, old.typeflag = e.mode, e.uid, e.gid, index, e.typeflag
			return
		}
		n.children = map[string]*node{}
	case kindFile:
		n.blob = &blob{size: e.size, layer: index, refs: 1}
		fs.blobs = append(fs.blobs, n.blob)
	case kindHardlink:
		target := fs.lookup(e.link)
		if target == old && old != nil {
			return // a link to itself changes nothing
		}
		if target == nil || target.kind == kindDir {
			fs.note("layer %d: hardlink %s → %s: target missing or a directory; counted as an empty file", index, e.path, e.link)
			n.kind, n.blob = kindFile, &blob{layer: index, refs: 1}
			fs.blobs = append(fs.blobs, n.blob)
			break
		}
		// A hard link shares the target's inode: content and metadata.
		n.kind, n.typeflag, n.link = target.kind, target.typeflag, target.link
		n.mode, n.uid, n.gid = target.mode, target.uid, target.gid
		n.privateKey, n.goInfo, n.content, n.digest = target.privateKey, target.goInfo, target.content, target.digest
		n.blob = target.blob
		if n.blob != nil {
			n.blob.refs++
		}
	}
	if old != nil {
		fs.remove(old)
	}
	dir.children[name] = n
}

// remove detaches n and everything under it, releasing their blobs.
func (fs *filesystem) remove(n *node) {
	if n == fs.root {
		for _, c := range n.children {
			fs.remove(c)
		}
		return
	}
	var release func(*node)
	release = func(n *node) {
		if n.blob != nil {
			n.blob.refs--
		}
		for _, c := range n.children {
			release(c)
		}
	}
	release(n)
	if n.parent != nil && n.parent.children[n.name] == n {
		delete(n.parent.children, n.name)
	}
}

// dir returns the directory at p, following symlinks in every component.
// With create, missing directories are made (as extraction does) and a
// non-directory in the way is replaced.
func (fs *filesystem) dir(p string, create bool, depth int) (*node, error) {
	if depth > maxSymlinks {
		return nil, fmt.Errorf("too many levels of symbolic links")
	}
	cur, curPath := fs.root, "/"
	for _, c := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if c == "" {
			continue
		}
		child := cur.children[c]
		if child == nil {
			if !create {
				return nil, nil
			}
			child = &node{name: c, parent: cur, kind: kindDir, mode: 0o755, children: map[string]*node{}, layer: -1}
			cur.children[c] = child
		}
		childPath := path.Join(curPath, c)
		if child.kind == kindSymlink {
			target := child.link
			if !path.IsAbs(target) {
				target = path.Join(curPath, target)
			}
			resolved, err := fs.dir(path.Clean(target), create, depth+1)
			if err != nil || resolved == nil {
				return nil, err
			}
			child, childPath = resolved, fs.pathOf(resolved)
		}
		if child.kind != kindDir {
			if !create {
				return nil, nil
			}
			fs.note("%s: a %s stood where a directory is needed; replaced", childPath, kindName(child.kind))
			fs.remove(child)
			child = &node{name: c, parent: cur, kind: kindDir, mode: 0o755, children: map[string]*node{}, layer: -1}
			cur.children[c] = child
		}
		cur, curPath = child, childPath
	}
	return cur, nil
}

// lookup returns the node at p without following a final symlink, or nil.
func (fs *filesystem) lookup(p string) *node {
	if p == "/" {
		return fs.root
	}
	dir, err := fs.dir(path.Dir(p), false, 0)
	if err != nil || dir == nil {
		return nil
	}
	return dir.children[path.Base(p)]
}

// open returns the node at p following symlinks, as open(2) would.
func (fs *filesystem) open(p string) *node {
	for range maxSymlinks {
		n := fs.lookup(p)
		if n == nil || n.kind != kindSymlink {
			return n
		}
		target := n.link
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(fs.pathOf(n)), target)
		}
		p = path.Clean(target)
	}
	return nil
}

// pathOf returns n's absolute path.
func (fs *filesystem) pathOf(n *node) string {
	if n == fs.root || n.parent == nil {
		return "/"
	}
	var parts []string
	for ; n != fs.root && n != nil; n = n.parent {
		parts = append(parts, n.name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}

// walk calls fn for every path under the root in depth-first order,
// children sorted by name; the root itself is not visited.
func (fs *filesystem) walk(fn func(p string, n *node)) {
	var visit func(dir *node, dirPath string)
	visit = func(dir *node, dirPath string) {
		names := make([]string, 0, len(dir.children))
		for name := range dir.children {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			c := dir.children[name]
			p := dirPath + "/" + name
			fn(p, c)
			if c.kind == kindDir {
				visit(c, p)
			}
		}
	}
	visit(fs.root, "")
}

func (fs *filesystem) note(format string, args ...any) {
	const maxNotes = 50
	if len(fs.notes) < maxNotes {
		fs.notes = append(fs.notes, fmt.Sprintf(format, args...))
	} else if len(fs.notes) == maxNotes {
		fs.notes = append(fs.notes, "more filesystem notes left out")
	}
}

// kindName names a kind for people.
func kindName(k kind) string {
	switch k {
	case kindFile:
		return "file"
	case kindDir:
		return "directory"
	case kindSymlink:
		return "symlink"
	default:
		return "special file"
	}
}
