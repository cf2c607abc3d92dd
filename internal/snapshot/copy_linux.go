package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// copier prepares snapshots as plain directories.
type copier struct {
	workDir string
	// opaque is the attribute Commit marks opaque directories with.
	opaque string
}

// NewCopy returns a Snapshotter that needs no mounts: Prepare copies the
// lowers' merged content into a directory in workDir (preserving modes,
// owners, extended attributes, times and the hard links within a layer;
// file data goes through copy_file_range, so reflinks where the filesystem
// has them), and Commit compares it with the lowers and writes the changes.
// It is slower than overlay and needs the disk space of a full copy.
//
// A path is unchanged when its inode and change time (ctime) are what they
// were after Prepare; otherwise its metadata and bytes are compared with the
// lowers', so rewriting a file with the same content is no change.
func NewCopy(workDir string) (Snapshotter, error) {
	if err := os.MkdirAll(workDir, 0o711); err != nil {
		return nil, fmt.Errorf("creating snapshot directory: %w", err)
	}
	return &copier{workDir: workDir, opaque: opaqueXattrName()}, nil
}

var _ Snapshotter = (*copier)(nil)

func (c *copier) Prepare(ctx context.Context, lowers []string) (Active, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkLowers(lowers); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(c.workDir, "copy-")
	if err != nil {
		return nil, fmt.Errorf("preparing snapshot: %w", err)
	}
	a := &copyActive{dir: dir, lowers: lowers, opaque: c.opaque}
	if err := a.prepare(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("preparing snapshot: %w", err)
	}
	return a, nil
}

// copyActive is a snapshot in dir/root; base records its state after
// Prepare.
type copyActive struct {
	dir    string
	lowers []string
	opaque string
	base   *node

	mu   sync.Mutex
	done bool
}

var _ Active = (*copyActive)(nil)

func (a *copyActive) Root() string { return filepath.Join(a.dir, "root") }

func (a *copyActive) prepare(ctx context.Context) error {
	root := a.Root()
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	for i := len(a.lowers) - 1; i >= 0; i-- {
		if err := applyLayer(ctx, a.lowers[i], root); err != nil {
			return fmt.Errorf("copying layer %s: %w", a.lowers[i], err)
		}
	}
	base, err := scanTree(ctx, root, ".")
	if err != nil {
		return err
	}
	a.base = base
	return nil
}

func (a *copyActive) Commit(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return "", errors.New("committing snapshot: already committed or released")
	}
	a.done = true
	defer os.RemoveAll(a.dir)
	diff := a.dir + "-diff"
	if err := os.Mkdir(diff, 0o755); err != nil {
		return "", fmt.Errorf("committing snapshot: %w", err)
	}
	d := &differ{ctx: ctx, root: a.Root(), diff: diff, lowers: a.lowers, opaque: a.opaque, base: a.base,
		made: map[string]bool{".": true}, emitted: map[string]bool{}, linked: map[uint64]bool{}}
	if err := d.run(a.base); err != nil {
		os.RemoveAll(diff)
		return "", fmt.Errorf("committing snapshot: %w", err)
	}
	return diff, nil
}

func (a *copyActive) Release() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return nil
	}
	a.done = true
	if err := os.RemoveAll(a.dir); err != nil {
		return fmt.Errorf("releasing snapshot: %w", err)
	}
	return nil
}

// applyLayer merges the overlay-format layer into root, as overlayfs would
// show layer on top of what root holds: whiteouts delete, opaque
// directories replace, anything else replaces the entry of the same path
// (a directory's metadata included).
func applyLayer(ctx context.Context, layer, root string) error {
	st, err := lstat(layer)
	if err != nil {
		return err
	}
	ap := &applier{ctx: ctx, layer: layer, root: root, links: map[uint64]string{}}
	if isOpaque(layer) {
		if err := removeChildren(root); err != nil {
			return err
		}
	}
	if err := ap.dir("."); err != nil {
		return err
	}
	return copyMetadata(layer, st, root, true)
}

type applier struct {
	ctx         context.Context
	layer, root string
	// links maps an inode of the layer to the first path it was copied to.
	links map[uint64]string
	n     int
}

func (ap *applier) dir(rel string) error {
	names, err := readDirNames(filepath.Join(ap.layer, rel))
	if err != nil {
		return err
	}
	for _, name := range names {
		if ap.n++; ap.n%1024 == 0 {
			if err := ap.ctx.Err(); err != nil {
				return err
			}
		}
		crel := filepath.Join(rel, name)
		src, dst := filepath.Join(ap.layer, crel), filepath.Join(ap.root, crel)
		st, err := lstat(src)
		if err != nil {
			return err
		}
		dstSt, err := lstat(dst)
		exists := err == nil
		if isWhiteout(st) {
			if exists {
				if err := os.RemoveAll(dst); err != nil {
					return err
				}
			}
			continue
		}
		if isDir(st) {
			if exists && !isDir(dstSt) {
				if err := os.RemoveAll(dst); err != nil {
					return err
				}
				exists = false
			}
			if !exists {
				if err := os.Mkdir(dst, 0o700); err != nil {
					return err
				}
			} else if isOpaque(src) {
				if err := removeChildren(dst); err != nil {
					return err
				}
			}
			if err := ap.dir(crel); err != nil {
				return err
			}
			if err := copyMetadata(src, st, dst, true); err != nil {
				return err
			}
			continue
		}
		if exists {
			if err := os.RemoveAll(dst); err != nil {
				return err
			}
		}
		if st.Nlink > 1 {
			if first, ok := ap.links[st.Ino]; ok {
				if err := os.Link(first, dst); err != nil {
					return err
				}
				continue
			}
			ap.links[st.Ino] = dst
		}
		if err := copyEntry(src, st, dst); err != nil {
			return err
		}
	}
	return nil
}

// removeChildren empties the directory dir.
func removeChildren(dir string) error {
	names, err := readDirNames(dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// ident is what tells whether a path was touched: the inode (number and
// birth time, as a number alone is reused at once by some filesystems) and
// its change time, which every write, chmod, chown, xattr change or link
// updates and nobody can set.
type ident struct {
	ino   uint64
	btime unix.StatxTimestamp // zero where the filesystem has none
	ctime unix.StatxTimestamp
	typ   uint16 // S_IFMT bits
}

// identOf returns the ident of p.
func identOf(p string) (ident, error) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_TYPE|unix.STATX_INO|unix.STATX_CTIME|unix.STATX_BTIME, &stx); err != nil {
		return ident{}, &os.PathError{Op: "statx", Path: p, Err: err}
	}
	id := ident{ino: stx.Ino, ctime: stx.Ctime, typ: stx.Mode & unix.S_IFMT}
	if stx.Mask&unix.STATX_BTIME != 0 {
		id.btime = stx.Btime
	}
	return id, nil
}

// sameInode reports whether a and b are the same inode.
func (a ident) sameInode(b ident) bool { return a.ino == b.ino && a.btime == b.btime && a.typ == b.typ }

// node is the state of one path of a copy snapshot after Prepare.
type node struct {
	ident
	children map[string]*node
}

// scanTree records the tree at root/rel.
func scanTree(ctx context.Context, root, rel string) (*node, error) {
	p := filepath.Join(root, rel)
	id, err := identOf(p)
	if err != nil {
		return nil, err
	}
	n := &node{ident: id}
	if id.typ != unix.S_IFDIR {
		return n, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	names, err := readDirNames(p)
	if err != nil {
		return nil, err
	}
	n.children = make(map[string]*node, len(names))
	for _, name := range names {
		c, err := scanTree(ctx, root, filepath.Join(rel, name))
		if err != nil {
			return nil, err
		}
		n.children[name] = c
	}
	return n, nil
}

// pathsOf returns the paths (under rel) of the base tree's entries whose
// inode is in inos.
func (n *node) pathsOf(rel string, inos map[uint64]bool, out map[uint64][]string) {
	if n.typ != unix.S_IFDIR {
		if inos[n.ino] {
			out[n.ino] = append(out[n.ino], rel)
		}
		return
	}
	for name, c := range n.children {
		c.pathsOf(filepath.Join(rel, name), inos, out)
	}
}

// differ writes the changes of root against its base tree into diff.
type differ struct {
	ctx                context.Context
	root, diff, opaque string
	lowers             []string
	base               *node
	// made are the directories created in diff; order lists them as made.
	made  map[string]bool
	order []string
	// emitted are the non-directories linked into diff; linked the inodes
	// with several links among them.
	emitted map[string]bool
	linked  map[uint64]bool
	n       int
}

func (d *differ) run(base *node) error {
	if err := d.walk(".", base); err != nil {
		return err
	}
	// A hard link to a path that did not change keeps the link in the
	// layer: add the other paths of the inode (overlay copies them up too).
	others := map[uint64][]string{}
	if len(d.linked) > 0 {
		base.pathsOf(".", d.linked, others)
	}
	for ino, paths := range others {
		for _, rel := range paths {
			if d.emitted[rel] {
				continue
			}
			p := filepath.Join(d.root, rel)
			if st, err := lstat(p); err == nil && st.Ino == ino {
				if err := d.emitFile(rel, p, st); err != nil {
					return err
				}
			}
		}
	}
	// Directory times last, deepest first: adding entries changed them.
	for i := len(d.order) - 1; i >= 0; i-- {
		rel := d.order[i]
		st, err := lstat(filepath.Join(d.root, rel))
		if err != nil {
			return err
		}
		if err := setTimes(filepath.Join(d.diff, rel), st); err != nil {
			return err
		}
	}
	st, err := lstat(d.root)
	if err != nil {
		return err
	}
	return copyMetadata(d.root, st, d.diff, false)
}

// walk compares the directory rel of root with its base node n.
func (d *differ) walk(rel string, n *node) error {
	names, err := readDirNames(filepath.Join(d.root, rel))
	if err != nil {
		return err
	}
	present := make(map[string]bool, len(names))
	for _, name := range names {
		if d.n++; d.n%1024 == 0 {
			if err := d.ctx.Err(); err != nil {
				return err
			}
		}
		present[name] = true
		crel := filepath.Join(rel, name)
		p := filepath.Join(d.root, crel)
		id, err := identOf(p)
		if err != nil {
			return err
		}
		cn := n.children[name]
		if cn != nil && cn.sameInode(id) && cn.ctime == id.ctime {
			// Untouched; a directory's entries may still have changed.
			if id.typ == unix.S_IFDIR {
				if err := d.walk(crel, cn); err != nil {
					return err
				}
			}
			continue
		}
		st, err := lstat(p)
		if err != nil {
			return err
		}
		switch {
		case cn == nil:
			err = d.emitNew(crel, p, st, false)
		case !cn.sameInode(id):
			// Replaced: a new directory hides the lower one's entries.
			err = d.emitNew(crel, p, st, isDir(st))
		case isDir(st):
			var same bool
			if same, err = sameAsLower(d.lowers, crel, p, st); err == nil && !same {
				err = d.makeDir(crel)
			}
			if err == nil {
				err = d.walk(crel, cn)
			}
		default:
			var same bool
			if same, err = sameAsLower(d.lowers, crel, p, st); err == nil && !same {
				err = d.emitFile(crel, p, st)
			}
		}
		if err != nil {
			return err
		}
	}
	for name := range n.children {
		if present[name] {
			continue
		}
		crel := filepath.Join(rel, name)
		if err := d.makeDir(rel); err != nil {
			return err
		}
		if err := makeWhiteout(filepath.Join(d.diff, crel)); err != nil {
			return err
		}
	}
	return nil
}

// makeDir creates the directory rel in diff, and its missing parents, with
// root's metadata (times are set at the end).
func (d *differ) makeDir(rel string) error {
	if d.made[rel] {
		return nil
	}
	if err := d.makeDir(filepath.Dir(rel)); err != nil {
		return err
	}
	p := filepath.Join(d.root, rel)
	st, err := lstat(p)
	if err != nil {
		return err
	}
	dst := filepath.Join(d.diff, rel)
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	if err := copyMetadata(p, st, dst, false); err != nil {
		return err
	}
	d.made[rel] = true
	d.order = append(d.order, rel)
	return nil
}

// emitNew puts the entry rel (and everything below it) into diff.
func (d *differ) emitNew(rel, p string, st *unix.Stat_t, opaque bool) error {
	if !isDir(st) {
		return d.emitFile(rel, p, st)
	}
	if err := d.makeDir(rel); err != nil {
		return err
	}
	if opaque {
		if err := unix.Lsetxattr(filepath.Join(d.diff, rel), d.opaque, []byte("y"), 0); err != nil {
			return fmt.Errorf("marking %s opaque: %w", rel, err)
		}
	}
	names, err := readDirNames(p)
	if err != nil {
		return err
	}
	for _, name := range names {
		crel := filepath.Join(rel, name)
		cp := filepath.Join(d.root, crel)
		cst, err := lstat(cp)
		if err != nil {
			return err
		}
		if err := d.emitNew(crel, cp, cst, false); err != nil {
			return err
		}
	}
	return nil
}

// emitFile puts the non-directory rel into diff as a hard link to root's
// (root is thrown away after Commit, so the diff takes the inode over; two
// paths of one inode stay linked). A copy where linking fails.
func (d *differ) emitFile(rel, p string, st *unix.Stat_t) error {
	if err := d.makeDir(filepath.Dir(rel)); err != nil {
		return err
	}
	dst := filepath.Join(d.diff, rel)
	if err := os.Link(p, dst); err != nil {
		if err := copyEntry(p, st, dst); err != nil {
			return err
		}
	}
	d.emitted[rel] = true
	if st.Nlink > 1 {
		d.linked[st.Ino] = true
	}
	return nil
}
