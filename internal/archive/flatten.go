package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"time"
)

// Opener opens one layer's tar stream, compressed or not. Flatten reads
// the stream to its end and fails with the error Close returns, so that a
// reader may check what was read when it is closed.
type Opener func() (io.ReadCloser, error)

// Flatten writes the filesystem that layers (lowest first) make, whiteouts
// applied, to tw: what a container of the image sees, as one tar. Names
// are clean paths under prefix ("" for the root), directories end in "/",
// and the root itself has no entry, as in BuildKit's tar exporter. A
// directory that no layer has an entry for but that holds entries is
// written too (0755, root's, at the epoch), after them. Unlike Apply,
// Flatten does not follow a symlink one layer made when a higher layer
// writes beneath it (no builder makes such layers).
//
// Layers are read from the top down, and each path is written once, from
// the highest layer that has it, unless a higher layer deleted it or one of
// its parents (a whiteout, an opaque directory, a non-directory in a
// parent's place). A hard link is written as a link only when its target
// is written from the same layer; a link whose target a higher layer
// replaced or deleted keeps the content the target had, read from the
// layer again after the others. A hard link whose target no layer has is
// an error.
func Flatten(ctx context.Context, tw *tar.Writer, layers []Opener, prefix string) error {
	f := flattener{tw: tw, prefix: prefix, above: map[string]*flatNode{}, dirs: map[string]bool{}, parentsOf: map[string]bool{}}
	for i := len(layers) - 1; i >= 0; i-- {
		if err := f.layer(ctx, i, layers[i]); err != nil {
			return fmt.Errorf("flattening layer %d: %w", i+1, err)
		}
	}
	if err := f.relinkAll(ctx, layers); err != nil {
		return err
	}
	return f.parents()
}

// flatNode is what the layers above the one being read left at a path.
type flatNode struct {
	// deleted: a whiteout removed the path; nothing lower shows through.
	deleted bool
	// dir: the path is a directory; lower layers' entries inside it show
	// through unless opaque.
	dir    bool
	opaque bool
	// entry: the layer has an entry (not only a whiteout) at the path.
	entry bool
}

// relink is a hard link whose target the output does not have from the
// link's layer: it is written with the target's content, read again.
type relink struct {
	layer int    // the link's layer
	name  string // the link's path
}

type flattener struct {
	tw     *tar.Writer
	prefix string
	// above holds the paths decided by the layers read so far (all above
	// the current one).
	above map[string]*flatNode
	// relinks are the hard links to write after the layers, by target
	// path (in the order met), and targets those targets in the order
	// first met.
	relinks map[string][]relink
	targets []string
	// dirs are the directories written; parentsOf the parents of every
	// path written.
	dirs, parentsOf map[string]bool
}

// hidden reports whether a path of the current layer is covered by what
// the layers above it left: the path itself, or a parent that is deleted,
// opaque or not a directory.
func (f *flattener) hidden(p string) bool {
	if _, ok := f.above[p]; ok {
		return true
	}
	for d := p; d != ""; {
		d, _ = splitPath(d)
		if d == "" {
			break
		}
		if n, ok := f.above[d]; ok && (n.deleted || !n.dir || n.opaque) {
			return true
		}
	}
	root, ok := f.above[""] // "/.wh..wh..opq" hides every lower layer
	return ok && root.opaque
}

// layer writes what layer i adds to the paths not decided above it.
func (f *flattener) layer(ctx context.Context, i int, open Opener) (err error) {
	rc, err := open()
	if err != nil {
		return err
	}
	defer func() {
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
	}()
	// Decisions of this layer apply to the layers below it only: a
	// whiteout and an entry of the same path in one layer both stand.
	here := map[string]*flatNode{}
	written := map[string]bool{} // this layer's paths in the output
	err = Walk(ctx, rc, func(e Entry, content io.Reader) error {
		switch e.Whiteout {
		case WhiteoutFile:
			if _, ok := here[e.Path]; !ok {
				here[e.Path] = &flatNode{deleted: true}
			} else {
				here[e.Path].opaque = true
			}
			return nil
		case WhiteoutOpaque:
			if n, ok := here[e.Path]; ok {
				n.opaque = true
			} else {
				here[e.Path] = &flatNode{dir: true, opaque: true}
			}
			return nil
		}
		if e.Path == "" {
			return nil // the root has no entry
		}
		hdr := e.Header
		isDir := hdr.Typeflag == tar.TypeDir
		switch n, ok := here[e.Path]; {
		case !ok:
			here[e.Path] = &flatNode{dir: isDir, entry: true}
		case !n.entry:
			// A whiteout came first: the entry replaces the lower
			// path, and nothing lower shows inside it. (After an
			// opaque marker, opaque is already set.)
			n.opaque = n.opaque || n.deleted
			n.deleted, n.dir, n.entry = false, isDir, true
		}
		if f.hidden(e.Path) || written[e.Path] {
			return nil
		}
		if hdr.Typeflag == tar.TypeLink {
			target, err := CleanPath(hdr.Linkname)
			if err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			if !written[target] {
				f.addRelink(i, target, e.Path)
				return nil
			}
			written[e.Path] = true
			return f.write(hdr, e.Path, f.name(target), nil)
		}
		written[e.Path] = true
		return f.write(hdr, e.Path, "", content)
	})
	if err != nil {
		return err
	}
	for p, n := range here {
		if _, ok := f.above[p]; !ok {
			f.above[p] = n
		} else if n.opaque && f.above[p].dir {
			// An upper layer's directory over this layer's opaque one:
			// the layers below still do not show through.
			f.above[p].opaque = true
		}
	}
	return nil
}

// name is the output name of the clean path p.
func (f *flattener) name(p string) string {
	return path.Join(f.prefix, p)
}

// write writes hdr under the clean path p, a hard link to linkname when
// that is set, with content for a regular file.
func (f *flattener) write(hdr *tar.Header, p, linkname string, content io.Reader) error {
	h := *hdr
	h.Name = f.name(p)
	if h.Typeflag == tar.TypeDir {
		h.Name += "/"
	}
	if linkname != "" {
		h.Typeflag, h.Linkname, h.Size = tar.TypeLink, linkname, 0
	}
	// The writer picks a format that holds the new name.
	h.Format = tar.FormatUnknown
	if h.Typeflag != tar.TypeChar && h.Typeflag != tar.TypeBlock {
		// Only devices have device numbers; a layer's others may carry
		// any (Apply ignores them), and the writer refuses large ones.
		h.Devmajor, h.Devminor = 0, 0
	}
	// Values no tar format holds are written as Apply reads them: a mode
	// out of range as its permission bits (Apply sets mode&07777), a
	// negative owner as 0 (Apply's chown of -1 leaves the file the
	// unpacking user's, root's for an image).
	if h.Mode < 0 || h.Mode > 0o7777777 {
		h.Mode = int64(uint32(h.Mode) & 0o7777)
	}
	h.Uid, h.Gid = max(h.Uid, 0), max(h.Gid, 0)
	if err := f.tw.WriteHeader(&h); err != nil {
		return fmt.Errorf("writing %q: %w", h.Name, err)
	}
	if h.Typeflag == tar.TypeDir {
		f.dirs[p] = true
	}
	if d, _ := splitPath(p); d != "" {
		f.parentsOf[d] = true
	}
	if h.Typeflag == tar.TypeReg && content != nil {
		if _, err := io.Copy(f.tw, content); err != nil {
			return fmt.Errorf("writing %q: %w", h.Name, err)
		}
	}
	return nil
}

func (f *flattener) addRelink(layer int, target, name string) {
	if f.relinks == nil {
		f.relinks = map[string][]relink{}
	}
	if _, ok := f.relinks[target]; !ok {
		f.targets = append(f.targets, target)
	}
	f.relinks[target] = append(f.relinks[target], relink{layer, name})
}

// relinkAll writes the hard links whose targets the output does not have
// from their own layer: each as a file with the header and content the
// target has in the highest layer at or below the link's that holds it,
// the other links that the same entry resolves as links to that file.
func (f *flattener) relinkAll(ctx context.Context, layers []Opener) error {
	pending := f.relinks
	for i := len(layers) - 1; i >= 0 && len(pending) > 0; i-- {
		if !dueAt(pending, i) {
			continue
		}
		rc, err := layers[i]()
		if err != nil {
			return fmt.Errorf("flattening layer %d: %w", i+1, err)
		}
		err = Walk(ctx, rc, func(e Entry, content io.Reader) error {
			rs, ok := pending[e.Path]
			if !ok || e.Whiteout != NotWhiteout {
				return nil
			}
			var due, keep []relink
			for _, r := range rs {
				if r.layer >= i {
					due = append(due, r)
				} else {
					keep = append(keep, r)
				}
			}
			if len(due) == 0 {
				return nil
			}
			first := due[0].name
			if t := e.Header.Typeflag; t == tar.TypeLink || t == tar.TypeDir {
				return fmt.Errorf("hard link %q: its target %q is a directory or a hard link itself", f.name(first), f.name(e.Path))
			}
			if err := f.write(e.Header, first, "", content); err != nil {
				return err
			}
			for _, r := range due[1:] {
				if err := f.write(e.Header, r.name, f.name(first), nil); err != nil {
					return err
				}
			}
			if len(keep) == 0 {
				delete(pending, e.Path)
			} else {
				pending[e.Path] = keep
			}
			return nil
		})
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("flattening layer %d: %w", i+1, err)
		}
	}
	for _, t := range f.targets {
		if rs, ok := pending[t]; ok {
			return fmt.Errorf("hard link %q: its target %q is in no layer", f.name(rs[0].name), f.name(t))
		}
	}
	return nil
}

// dueAt reports whether a pending relink may find its target in layer i:
// one made in layer i or above.
func dueAt(pending map[string][]relink, i int) bool {
	for _, rs := range pending {
		for _, r := range rs {
			if r.layer >= i {
				return true
			}
		}
	}
	return false
}

// parents writes the directories that hold written paths but had no entry
// of their own, each after its parent.
func (f *flattener) parents() error {
	var missing []string
	for d := range f.parentsOf {
		for ; d != "" && !f.dirs[d]; d, _ = splitPath(d) {
			if n, ok := f.above[d]; ok && !n.dir {
				break // a layer wrote through a symlink: not followed
			}
			f.dirs[d] = true
			missing = append(missing, d)
		}
	}
	slices.Sort(missing)
	for _, d := range missing {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: f.name(d) + "/", Mode: 0o755, ModTime: time.Unix(0, 0)}
		if err := f.tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing %q: %w", hdr.Name, err)
		}
	}
	return nil
}
