package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ApplyOptions tunes Apply. The zero value flattens a layer onto a
// directory as root.
type ApplyOptions struct {
	// Overlay keeps the layer's whiteouts in overlayfs format, so that the
	// directory can serve as an overlay lower dir: ".wh.<name>" becomes a
	// character device 0/0 and ".wh..wh..opq" the OpaqueXattr attribute on
	// its directory. Default false: whiteouts delete what lower layers put
	// in the directory, flattening layers into one plain tree.
	Overlay bool
	// OpaqueXattr names the attribute that marks an opaque directory in
	// Overlay mode. Default: OverlayOpaqueXattr ("trusted.overlay.opaque");
	// rootless overlays use UserOverlayOpaqueXattr.
	OpaqueXattr string
	// NoDevices skips character and block devices (whiteouts excepted),
	// for callers that may not make them.
	NoDevices bool
	// NoChown leaves files owned by the caller instead of the owners the
	// tar names, for callers that are not root. It also skips extended
	// attributes the caller is not allowed to set (trusted.*, security.*).
	NoChown bool

	// sequential turns parallel file writers off (tests compare the two).
	sequential bool
}

func (o ApplyOptions) opaqueXattr() string {
	if o.OpaqueXattr == "" {
		return OverlayOpaqueXattr
	}
	return o.OpaqueXattr
}

// Apply unpacks the uncompressed layer tar read from r into dir, creating
// dir if needed, and returns the sha256 digest ("sha256:<hex>") and size of
// everything it read from r: the layer's diffID, for the caller to verify.
// It reads r to its end, past the tar's end-of-archive marker.
//
// Apply is safe against hostile tars. Every name is resolved inside dir
// with filepath-securejoin, as if dir were the root: a leading "/" is
// relative to dir, a name that climbs out with ".." is refused with an
// error wrapping ErrUnsafePath, a symlink the tar planted earlier is
// followed only within dir, and an existing symlink at a name is replaced,
// never written through. A hard link must point at a file inside dir.
//
// Apply restores modes (setuid, setgid and sticky included), owners (unless
// NoChown), modification times (of symlinks too, and of directories after
// their contents are written), extended attributes (never overlayfs's own)
// and hard links. Existing directories are merged with the layer's; any
// other existing file at a name is replaced. Whiteouts apply to what was in
// dir before, never to what the same tar wrote (OCI image-spec layer.md).
//
// Apply streams, and stops with ctx's error when ctx is done; dir is then
// partly written.
func Apply(ctx context.Context, dir string, r io.Reader, opts ApplyOptions) (digest string, size int64, err error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return "", 0, fmt.Errorf("applying layer to %s: %w", dir, err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", 0, fmt.Errorf("applying layer to %s: %w", dir, err)
	}
	fresh := !opts.sequential && isEmptyDir(root)
	dr := &digestReader{ctx: ctx, r: r, h: sha256.New()}
	br := bufio.NewReaderSize(dr, 256<<10)
	a := &applier{
		ctx:          ctx,
		root:         root,
		opts:         opts,
		opaque:       opts.opaqueXattr(),
		fresh:        fresh,
		written:      make(map[string]struct{}),
		implicit:     make(map[string]struct{}),
		pendingPaths: make(map[string]struct{}),
		whitedOut:    make(map[string]struct{}),
		opaqueDone:   make(map[string]struct{}),
		dirIndex:     make(map[string]int),
		parents:      make(map[string]string),
		buf:          make([]byte, 1<<20),
	}
	err = a.run(br)
	if cerr := a.closeWriters(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, fmt.Errorf("applying layer to %s: %w", dir, err)
	}
	if _, err := io.CopyBuffer(io.Discard, br, a.buf); err != nil {
		return "", 0, fmt.Errorf("applying layer to %s: reading past the end of the tar: %w", dir, err)
	}
	return "sha256:" + hex.EncodeToString(dr.h.Sum(nil)), dr.n, nil
}

// digestReader hashes and counts what is read through it, and fails reads
// once ctx is done.
type digestReader struct {
	ctx context.Context
	r   io.Reader
	h   hash.Hash
	n   int64
}

func (d *digestReader) Read(p []byte) (int, error) {
	if err := d.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := d.r.Read(p)
	d.h.Write(p[:n])
	d.n += int64(n)
	return n, err
}

// applier holds the state of one Apply.
type applier struct {
	ctx    context.Context
	root   string // absolute and clean
	opts   ApplyOptions
	opaque string

	// fresh is true when dir was empty when Apply began: regular files
	// new to it may then be written by parallel writers (apply_parallel.go).
	fresh bool
	w     writers
	// pendingPaths holds the files handed to writers since the last drain.
	pendingPaths map[string]struct{}

	// written holds the absolute paths this tar wrote: whiteouts and opaque
	// markers leave them alone.
	written map[string]struct{}
	// implicit holds the directories made because entries needed them as
	// parents.
	implicit map[string]struct{}
	// whitedOut holds, in Overlay mode, the paths this tar made whiteouts;
	// a directory the tar then writes there must be opaque.
	whitedOut map[string]struct{}
	// opaqueDone holds the directories already cleared in flatten mode.
	opaqueDone map[string]struct{}
	// dirs are the directories whose mode and times are set at the end, in
	// the order they came; dirIndex finds one by relative path.
	dirs     []dirMeta
	dirIndex map[string]int
	// parents caches the resolved absolute path of parent directories by
	// relative path. Resolutions only go through existing directories, so
	// creating files cannot change them; anything that removes a path
	// clears the cache.
	parents map[string]string
	buf     []byte
}

// dirMeta is what is set on a directory once its contents are written.
type dirMeta struct {
	rel          string
	mode         uint32
	atime, mtime time.Time
}

// errNoParent is returned by parent when the directory does not exist.
var errNoParent = errors.New("parent directory does not exist")

func (a *applier) run(br *bufio.Reader) error {
	head, _ := br.Peek(6)
	head = append([]byte(nil), head...)
	tr := tar.NewReader(br)
	for first := true; ; first = false {
		if err := a.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if c := Detect(head); first && c != None {
				// Only now: a tar's first name may well start with "BZh".
				return fmt.Errorf("reading tar: the input is %s-compressed; Apply reads uncompressed tars (see Decompress)", c)
			}
			return fmt.Errorf("reading tar: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			var we *writerError
			if errors.As(err, &we) {
				return err // it names its own entry
			}
			return fmt.Errorf("applying entry %q: %w", hdr.Name, err)
		}
	}
	if err := a.drain(); err != nil {
		return err
	}
	return a.finishDirs()
}

// entry applies one tar entry.
func (a *applier) entry(hdr *tar.Header, tr io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel, err := CleanPath(hdr.Name)
	if err != nil {
		return err
	}
	kind, target, ok := classifyWhiteout(rel)
	if !ok {
		return errors.New("whiteout names no file")
	}
	switch kind {
	case WhiteoutMeta:
		return nil
	case WhiteoutFile, WhiteoutOpaque:
		if err := a.drain(); err != nil {
			return err
		}
		if kind == WhiteoutFile {
			return a.whiteout(target)
		}
		return a.opaqueDir(target)
	}
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return errors.New("only a directory can stand for the root")
		}
		if err := a.attrs(pathAttrs(a.root), hdr); err != nil {
			return err
		}
		return a.times(a.root, "", hdr)
	}

	parentRel, base := splitPath(rel)
	parent, err := a.parent(parentRel, true)
	if err != nil {
		return err
	}
	abs := parent + "/" + base
	if a.dispatchable(abs, hdr) {
		a.written[abs] = struct{}{}
		return a.dispatch(abs, hdr, tr)
	}
	if err := a.drainFor(abs); err != nil {
		return err
	}

	var linkTarget string
	if hdr.Typeflag == tar.TypeLink {
		if linkTarget, err = a.linkTarget(hdr.Linkname); err != nil {
			return err
		}
		if linkTarget == abs {
			return nil // a link to itself: the file is already there
		}
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		if _, err := a.place(abs, true, func() error { return os.Mkdir(abs, 0o700) }); err != nil {
			return err
		}
		if _, ok := a.whitedOut[abs]; ok {
			if err := setXattr(abs, a.opaque, []byte("y")); err != nil {
				return err
			}
		}
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont: // the reader turns TypeRegA into TypeReg
		a.written[abs] = struct{}{}
		return a.file(abs, hdr, tr)
	case tar.TypeSymlink:
		if _, err := a.place(abs, false, func() error { return os.Symlink(hdr.Linkname, abs) }); err != nil {
			return err
		}
	case tar.TypeLink:
		if _, err := a.place(abs, false, func() error { return os.Link(linkTarget, abs) }); err != nil {
			return err
		}
		a.written[abs] = struct{}{}
		return nil // the metadata is the target's
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]fileKind{tar.TypeChar: kindChar, tar.TypeBlock: kindBlock, tar.TypeFifo: kindFifo}[hdr.Typeflag]
		if kind != kindFifo && a.opts.NoDevices {
			return nil
		}
		mk := func() error {
			return mknod(abs, kind, uint32(hdr.Mode), uint32(hdr.Devmajor), uint32(hdr.Devminor))
		}
		if _, err := a.place(abs, false, mk); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
	}
	a.written[abs] = struct{}{}
	if err := a.attrs(pathAttrs(abs), hdr); err != nil {
		return err
	}
	return a.times(abs, rel, hdr)
}

// place runs mk to make the file at abs. If something is in the way, it is
// removed and mk runs again, except that a directory made over a directory
// merges with it (merged is then true and mk did nothing). Trying first
// saves a lookup per file when unpacking into an empty directory.
func (a *applier) place(abs string, dir bool, mk func() error) (merged bool, err error) {
	err = mk()
	if !errors.Is(err, fs.ErrExist) {
		return false, err
	}
	fi, lerr := os.Lstat(abs)
	if lerr != nil {
		return false, err
	}
	if dir && fi.IsDir() {
		return true, nil
	}
	if err := a.drain(); err != nil {
		return false, err
	}
	if err := os.RemoveAll(abs); err != nil {
		return false, err
	}
	clear(a.parents)
	return false, mk()
}

// file writes a regular file, and sets its owner, mode and attributes
// through the open descriptor.
func (a *applier) file(abs string, hdr *tar.Header, tr io.Reader) error {
	var f *newFile
	_, err := a.place(abs, false, func() error {
		var err error
		f, err = createExclusive(abs)
		return err
	})
	if err != nil {
		return err
	}
	n, err := io.CopyBuffer(f, onlyReader{tr}, a.buf)
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("short content: %d of %d bytes", n, hdr.Size)
	}
	if err == nil {
		err = a.attrs(f, hdr)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return a.times(abs, "", hdr)
}

// onlyReader hides a reader's WriteTo, so that io.CopyBuffer uses the
// buffer it is given.
type onlyReader struct{ io.Reader }

// linkTarget resolves the target of a hard link inside the root, without
// following a symlink at its last component (link(2) does not either).
func (a *applier) linkTarget(name string) (string, error) {
	rel, err := CleanPath(name)
	if err != nil {
		return "", fmt.Errorf("hard link target: %w", err)
	}
	if rel == "" {
		return "", errors.New("hard link to the root directory")
	}
	parentRel, base := splitPath(rel)
	parent, err := a.parent(parentRel, false)
	if err != nil {
		return "", fmt.Errorf("hard link target %q: %w", name, err)
	}
	target := parent + "/" + base
	if err := a.drainFor(target); err != nil {
		return "", err
	}
	fi, err := os.Lstat(target)
	if err != nil {
		return "", fmt.Errorf("hard link target %q: %w", name, err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("hard link target %q is a directory", name)
	}
	return target, nil
}
