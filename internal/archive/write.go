package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// WriteOptions tunes WriteDir. The zero value is ready to use.
type WriteOptions struct {
	// Epoch is SOURCE_DATE_EPOCH: when set, every modification time later
	// than Epoch is written as Epoch. Nil keeps the files' own times.
	Epoch *time.Time
	// OpaqueXattr names the extended attribute that marks an opaque
	// directory in dir. Default: OverlayOpaqueXattr
	// ("trusted.overlay.opaque"); rootless overlays use
	// UserOverlayOpaqueXattr.
	OpaqueXattr string
}

func (o WriteOptions) opaqueXattr() string {
	if o.OpaqueXattr == "" {
		return OverlayOpaqueXattr
	}
	return o.OpaqueXattr
}

// WriteDir writes dir, a directory in overlayfs format, to w as an
// uncompressed OCI layer tar. dir itself gets no entry.
//
// The tar is deterministic: the same tree gives the same bytes, whatever
// the order in which it was made. Entries come depth first with each
// directory's names in byte order (parents before children); names are
// relative, directories end in "/"; owners are numeric only; times are
// whole seconds, mtime only, clamped to opts.Epoch. Headers are USTAR, with
// PAX records only where USTAR cannot say it (long or non-ASCII names, big
// ids or sizes, extended attributes).
//
// Overlay whiteouts (character devices 0/0) become ".wh.<name>" entries and
// an opaque directory is followed by its "<dir>/.wh..wh..opq" entry.
// Overlayfs's own attributes (trusted.overlay.*, user.overlay.*) are never
// written, and neither is security.selinux, a label of the host; other
// attributes, security.capability included, are written as PAX
// SCHILY.xattr records. Files sharing an inode are written once, the first
// in order as a regular file and the others as hard links to it. Symlinks
// keep their targets, sockets are skipped, devices and fifos are written.
//
// File contents are streamed, never held in memory. WriteDir stops with
// ctx's error when ctx is done.
func WriteDir(ctx context.Context, w io.Writer, dir string, opts WriteOptions) error {
	st, err := lstat(dir)
	if err != nil {
		return fmt.Errorf("writing layer from %s: %w", dir, err)
	}
	if st.kind != kindDir {
		return fmt.Errorf("writing layer from %s: not a directory", dir)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	dw := &dirWriter{
		ctx:    ctx,
		tw:     tar.NewWriter(bw),
		opts:   opts,
		opaque: opts.opaqueXattr(),
		links:  make(map[inode]string),
		buf:    make([]byte, 1<<20),
	}
	if opts.Epoch != nil {
		e := time.Unix(opts.Epoch.Unix(), 0)
		dw.epoch = &e
	}
	if err := dw.walk("", dir); err != nil {
		return fmt.Errorf("writing layer from %s: %w", dir, err)
	}
	if err := dw.tw.Close(); err != nil {
		return fmt.Errorf("writing layer from %s: %w", dir, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing layer from %s: %w", dir, err)
	}
	return nil
}

// inode identifies a file across its hard links.
type inode struct{ dev, ino uint64 }

// dirWriter holds the state of one WriteDir.
type dirWriter struct {
	ctx    context.Context
	tw     *tar.Writer
	opts   WriteOptions
	opaque string
	epoch  *time.Time
	links  map[inode]string // first name written for each multiply linked inode
	buf    []byte           // copy buffer
	xbuf   []byte           // xattr listing buffer
}

// walk writes the entries below the directory abs, whose layer path is
// rel ("" for the root).
func (d *dirWriter) walk(rel, abs string) error {
	f, err := os.Open(abs)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("reading directory %s: %w", abs, err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		childRel, childAbs := joinPath(rel, name), abs+"/"+name
		st, err := lstat(childAbs)
		if err != nil {
			return err
		}
		if err := d.entry(childRel, childAbs, st); err != nil {
			return err
		}
		if st.kind == kindDir {
			if err := d.walk(childRel, childAbs); err != nil {
				return err
			}
		}
	}
	return nil
}

// mtime returns t as written to the layer: whole seconds, at most epoch.
func (d *dirWriter) mtime(t time.Time) time.Time {
	t = time.Unix(t.Unix(), 0)
	if d.epoch != nil && t.After(*d.epoch) {
		return *d.epoch
	}
	return t
}

// entry writes the entry (or entries) for one file.
func (d *dirWriter) entry(rel, abs string, st fileStat) error {
	if st.kind == kindSocket {
		return nil
	}
	if st.isWhiteout() {
		parent, base := splitPath(rel)
		return d.tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg,
			Name:     joinPath(parent, WhiteoutPrefix+base),
			ModTime:  time.Unix(0, 0),
			Format:   tar.FormatPAX,
		})
	}
	hdr := &tar.Header{
		Name:    rel,
		Mode:    int64(st.perm),
		Uid:     int(st.uid),
		Gid:     int(st.gid),
		ModTime: d.mtime(st.mtime),
		Format:  tar.FormatPAX,
	}
	switch st.kind {
	case kindRegular:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.size
	case kindDir:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case kindSymlink:
		target, err := os.Readlink(abs)
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case kindChar, kindBlock:
		hdr.Typeflag = tar.TypeChar
		if st.kind == kindBlock {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(st.major), int64(st.minor)
	case kindFifo:
		hdr.Typeflag = tar.TypeFifo
	}

	if st.kind != kindDir && st.nlink > 1 {
		key := inode{st.dev, st.ino}
		if first, ok := d.links[key]; ok {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first
			hdr.Size = 0
			if err := d.tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("writing %s: %w", rel, err)
			}
			return nil
		}
		d.links[key] = rel
	}

	opaque, err := d.xattrs(abs, hdr)
	if err != nil {
		return err
	}
	if err := d.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		if err := d.content(abs, hdr.Size); err != nil {
			return err
		}
	}
	if opaque && st.kind == kindDir {
		// Like the whiteouts docker writes: the directory's owner and
		// permissions, a regular empty file, time zero.
		err := d.tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg,
			Name:     rel + "/" + WhiteoutOpaqueDir,
			Mode:     hdr.Mode & 0o777,
			Uid:      hdr.Uid,
			Gid:      hdr.Gid,
			ModTime:  time.Unix(0, 0),
			Format:   tar.FormatPAX,
		})
		if err != nil {
			return fmt.Errorf("writing %s: %w", rel, err)
		}
	}
	return nil
}

// xattrs adds the extended attributes of abs to hdr as PAX records and
// reports whether abs is marked opaque.
func (d *dirWriter) xattrs(abs string, hdr *tar.Header) (opaque bool, err error) {
	attrs, err := listXattrs(abs, &d.xbuf)
	if err != nil {
		return false, err
	}
	for _, a := range attrs {
		if a.name == d.opaque {
			opaque = string(a.value) == "y"
			continue
		}
		if isOverlayXattr(a.name) {
			if strings.HasSuffix(a.name, ".overlay.redirect") || strings.HasSuffix(a.name, ".overlay.metacopy") {
				return false, fmt.Errorf("%s: overlay attribute %s cannot be represented in a layer (mount the overlay with redirect_dir=off,metacopy=off)", abs, a.name)
			}
			continue
		}
		if !keptXattr(a.name) {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = make(map[string]string)
		}
		hdr.PAXRecords[paxXattrPrefix+a.name] = string(a.value)
	}
	return opaque, nil
}

// paxXattrPrefix starts the PAX record of an extended attribute.
const paxXattrPrefix = "SCHILY.xattr."

// content copies size bytes of the file abs to the tar.
func (d *dirWriter) content(abs string, size int64) error {
	return copyFile(d.ctx, d.tw, abs, size, d.buf)
}

// ctxReader fails its reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
