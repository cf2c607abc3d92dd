package distroless

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/debian"
)

// statusDir is where distroless images keep one dpkg status stanza per
// package (status.d/<package>) and its md5sums (status.d/<package>.md5sums),
// which scanners (Trivy, Grype, syft) read.
const statusDir = "var/lib/dpkg/status.d/"

// shipRules say what of a package goes into its layer.
type shipRules struct {
	// merge, when set, moves /bin, /sbin and /lib* into /usr.
	merge *usrMerge
	// keep, when not nil, limits the files shipped (parents are added).
	keep func(p string) bool
	// move relocates a kept path (after keep, before merge); nil keeps it.
	move func(p string) string
	// links are symbolic links added to the layer (path → target).
	links map[string]string
	// capture says which files' contents to record in the facts, shipped
	// or not.
	capture func(p string) bool
	// md5sums says whether status.d gets the package's md5sums: only when
	// every file ships where the package put it.
	md5sums bool
}

// layerFacts is what the rest of a build needs to know about a package
// layer without reading the .deb again: it is kept in the layer's cache
// record.
type layerFacts struct {
	// Control is the package's control file (its status.d stanza).
	Control []byte `json:"control"`
	// MaxMTime is the newest modification time in the package's data, in
	// seconds since 1970.
	MaxMTime int64 `json:"maxMTime"`
	// Paths lists what the layer holds (not its status.d entries).
	Paths []pathFact `json:"paths"`
	// Captured holds the contents of files the rules asked for.
	Captured map[string][]byte `json:"captured,omitempty"`
	// Moved counts the paths that merging /usr moved.
	Moved int `json:"moved,omitempty"`
}

// pathFact is one path of a layer: its type ('f' file, 'd' directory, 'l'
// symlink, 'h' hard link, 'o' other) and link target.
type pathFact struct {
	Path   string `json:"p"`
	Type   byte   `json:"t"`
	Target string `json:"l,omitempty"`
}

// debLayer is a package read into a tree, its file bodies in a spool file.
type debLayer struct {
	tree  *tree
	spool *os.File
	facts layerFacts
	name  string
}

// close removes the spool.
func (d *debLayer) close() {
	if d.spool != nil {
		d.spool.Close()
		os.Remove(d.spool.Name())
	}
}

// maxCapture bounds a captured file.
const maxCapture = 4 << 20

// readDeb reads the .deb at file into a tree by rules, spooling file bodies
// under tmpDir. The tree also holds the package's status.d entries.
func readDeb(ctx context.Context, file, tmpDir string, rules shipRules) (_ *debLayer, err error) {
	d, err := debian.OpenDebFile(file)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	name := d.Package.Name
	spool, err := os.CreateTemp(tmpDir, "deb-*")
	if err != nil {
		return nil, err
	}
	out := &debLayer{tree: newTree(), spool: spool, name: name}
	defer func() {
		if err != nil {
			out.close()
		}
	}()
	out.facts.Control = d.Control
	var off int64
	// spooled remembers where each regular file's body went, shipped or
	// not, for hard links whose target was left out.
	type section struct {
		off, size int64
		node      *node
	}
	spooled := map[string]section{}
	moved := map[string]string{} // original path → shipped path
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := d.Data.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		p, err := archive.CleanPath(hdr.Name)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if p == "" {
			continue
		}
		if t := hdr.ModTime.Unix(); t > out.facts.MaxMTime {
			out.facts.MaxMTime = t
		}
		n := &node{
			name: p, mode: hdr.Mode & 0o7777, uid: hdr.Uid, gid: hdr.Gid,
			mtime: hdr.ModTime, typeflag: hdr.Typeflag,
		}
		for k, v := range hdr.PAXRecords {
			if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				if n.xattrs == nil {
					n.xattrs = map[string]string{}
				}
				n.xattrs[x] = v
			}
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			n.size, n.off, n.spool = hdr.Size, off, true
			w, err := io.Copy(spool, d.Data)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %s: %w", name, p, err)
			}
			if w != hdr.Size {
				return nil, fmt.Errorf("reading %s: %s: %d of %d bytes", name, p, w, hdr.Size)
			}
			spooled[p] = section{off: off, size: hdr.Size, node: n}
			off += w
			if rules.capture != nil && rules.capture(p) && hdr.Size <= maxCapture {
				b := make([]byte, hdr.Size)
				if _, err := spool.ReadAt(b, n.off); err != nil {
					return nil, fmt.Errorf("reading %s: %s: %w", name, p, err)
				}
				if out.facts.Captured == nil {
					out.facts.Captured = map[string][]byte{}
				}
				out.facts.Captured[p] = b
			}
		case tar.TypeLink:
			target, err := archive.CleanPath(hdr.Linkname)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %s: %w", name, p, err)
			}
			n.linkname = target
		case tar.TypeSymlink:
			n.linkname = hdr.Linkname
		case tar.TypeDir:
		case tar.TypeChar, tar.TypeBlock:
			n.devmajor, n.devmin = hdr.Devmajor, hdr.Devminor
		case tar.TypeFifo:
		default:
			return nil, fmt.Errorf("reading %s: %s: unsupported tar entry type %q", name, p, hdr.Typeflag)
		}

		if rules.keep != nil && !rules.keep(p) {
			continue
		}
		orig := p
		if rules.move != nil {
			p = rules.move(p)
		}
		if rules.merge != nil {
			np, ok := rules.merge.path(p)
			if !ok {
				if n.typeflag == tar.TypeDir || n.typeflag == tar.TypeSymlink {
					continue // the merged directory itself: a link in the image
				}
				return nil, fmt.Errorf("reading %s: /%s is not a directory, cannot merge it into /usr", name, p)
			}
			if n.typeflag == tar.TypeSymlink {
				n.linkname = rules.merge.symlink(p, np, n.linkname)
			}
			p = np
		}
		if p != orig {
			moved[orig] = p
			out.facts.Moved++
		}
		n.name = p
		if prev := out.tree.get(p); prev != nil {
			if prev.typeflag == tar.TypeDir && n.typeflag == tar.TypeDir {
				continue
			}
			return nil, fmt.Errorf("reading %s: /%s and /%s both become /%s when merging /usr", name, firstKey(moved, p, orig), orig, p)
		}
		out.tree.add(n)
	}
	// Hard links follow moved targets; a link whose target was left out
	// becomes a copy of it.
	for _, n := range out.tree.nodes {
		if n.typeflag != tar.TypeLink {
			continue
		}
		if np, ok := moved[n.linkname]; ok {
			n.linkname = np
		}
		if out.tree.get(n.linkname) != nil {
			continue
		}
		orig := n.linkname
		for o, np := range moved {
			if np == n.linkname {
				orig = o
			}
		}
		s, ok := spooled[orig]
		if !ok {
			return nil, fmt.Errorf("reading %s: hard link /%s to /%s, which the package does not hold", name, n.name, n.linkname)
		}
		n.typeflag, n.linkname = tar.TypeReg, ""
		n.size, n.off, n.spool = s.size, s.off, true
		n.mode, n.uid, n.gid = s.node.mode, s.node.uid, s.node.gid
	}
	mtime := time.Unix(out.facts.MaxMTime, 0)
	for p, target := range rules.links {
		out.tree.add(&node{name: p, typeflag: tar.TypeSymlink, mode: 0o777, linkname: target, mtime: mtime})
	}
	out.tree.addParents(mtime, nil)
	for _, n := range out.tree.sorted() {
		out.facts.Paths = append(out.facts.Paths, pathFact{Path: n.name, Type: factType(n.typeflag), Target: n.linkname})
	}

	// status.d: the control stanza, and md5sums when the files are where
	// they say.
	out.tree.add(&node{name: statusDir + name, typeflag: tar.TypeReg, mode: 0o644, mtime: mtime, size: int64(len(d.Control)), data: d.Control})
	if rules.md5sums && len(d.MD5Sums) > 0 {
		out.tree.add(&node{name: statusDir + name + ".md5sums", typeflag: tar.TypeReg, mode: 0o644, mtime: mtime, size: int64(len(d.MD5Sums)), data: d.MD5Sums})
	}
	out.tree.addParents(mtime, nil)
	return out, nil
}

// firstKey returns the original path that was moved to p, or fallback.
func firstKey(moved map[string]string, p, fallback string) string {
	for o, np := range moved {
		if np == p && o != fallback {
			return o
		}
	}
	return p
}

func factType(t byte) byte {
	switch t {
	case tar.TypeReg:
		return 'f'
	case tar.TypeDir:
		return 'd'
	case tar.TypeSymlink:
		return 'l'
	case tar.TypeLink:
		return 'h'
	}
	return 'o'
}

// prefixKeep keeps the paths below (or equal to) any of prefixes (clean
// absolute paths).
func prefixKeep(prefixes []string) func(string) bool {
	return func(p string) bool {
		for _, pre := range prefixes {
			pre = strings.TrimPrefix(pre, "/")
			if p == pre || strings.HasPrefix(p, pre+"/") {
				return true
			}
		}
		return false
	}
}

// captureDefault records what the image's generated files are made from:
// os-release, ld.so.conf, Java alternatives (.jinfo) and CA certificates.
func captureDefault(p string) bool {
	switch {
	case p == "usr/lib/os-release", p == "etc/os-release", p == "etc/ld.so.conf":
		return true
	case strings.HasPrefix(p, "etc/ld.so.conf.d/") && strings.HasSuffix(p, ".conf"):
		return true
	case strings.HasPrefix(p, "usr/lib/jvm/.") && strings.HasSuffix(p, ".jinfo"):
		return true
	case strings.HasPrefix(p, "usr/share/ca-certificates/") && strings.HasSuffix(p, ".crt"):
		return true
	}
	return false
}

// isDocCopyright reports whether p is the package's copyright file.
func isDocCopyright(pkg string) func(string) bool {
	return func(p string) bool { return p == path.Join("usr/share/doc", pkg, "copyright") }
}
