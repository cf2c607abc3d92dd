package analyze

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"runtime/debug"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// kind is what a tar entry does to the filesystem.
type kind uint8

const (
	kindFile     kind = iota // regular file: brings bytes
	kindDir                  // directory
	kindSymlink              // symbolic link
	kindHardlink             // hard link to an earlier path
	kindOther                // device, fifo
	kindWhiteout             // deletes a lower path
	kindOpaque               // hides a lower directory's children
)

// entry is one tar entry of a layer, reduced to what the analysis needs.
type entry struct {
	path     string // cleaned, absolute
	link     string // symlink target as written; hardlink target cleaned and absolute
	kind     kind
	typeflag byte
	mode     int64 // permission, setuid, setgid and sticky bits
	uid, gid int
	size     int64

	privateKey bool               // a PEM private key header in a small file
	goInfo     *debug.BuildInfo   // Go build information of an executable
	content    []byte             // kept for package databases and passwd
	digest     *[sha256.Size]byte // content digest when Options.hashContent
}

// layerScan is what one streaming pass over a layer's tar learned.
type layerScan struct {
	entries []entry
	size    int64 // uncompressed tar bytes
	notes   []string
}

// walker reads layers one entry at a time with its own buffers, so a
// walker must not be shared between goroutines.
type walker struct {
	opts  Options
	small []byte // reused for small files
	large []byte // reused for binaries read into memory
}

// walk streams layer's uncompressed tar and records its entries. File
// contents are read only when they matter: small files (private keys),
// executable ELF files below opts.MaxBinarySize (Go build information),
// package databases and /etc/passwd; everything else is skipped.
func (w *walker) walk(ctx context.Context, layer v1.Layer) (*layerScan, error) {
	rc, err := openLayer(layer, w.opts.ReadCompressed)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	cr := &countingReader{r: rc}
	tr := tar.NewReader(cr)
	scan := &layerScan{}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar entry after %d entries: %w", len(scan.entries), err)
		}
		e, ok := classify(hdr)
		if !ok {
			continue
		}
		if e.kind == kindFile {
			if err := w.readContent(tr, &e); err != nil {
				return nil, fmt.Errorf("reading %s: %w", e.path, err)
			}
		}
		scan.entries = append(scan.entries, e)
	}
	// The tar end marker may be followed by record padding: count it.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, fmt.Errorf("reading tar padding: %w", err)
	}
	scan.size = cr.n
	return scan, nil
}

// openLayer returns layer's uncompressed tar stream: layer.Uncompressed(),
// or with readCompressed the blob from layer.Compressed() decompressed by
// klauspost/compress according to its magic bytes (gzip, zstd, or none).
func openLayer(layer v1.Layer, readCompressed bool) (io.ReadCloser, error) {
	if !readCompressed {
		rc, err := layer.Uncompressed()
		if err != nil {
			return nil, fmt.Errorf("opening uncompressed stream: %w", err)
		}
		return rc, nil
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, fmt.Errorf("opening blob: %w", err)
	}
	br := bufio.NewReaderSize(rc, 256<<10)
	magic, err := br.Peek(4)
	if err != nil && err != io.EOF {
		rc.Close()
		return nil, fmt.Errorf("reading blob: %w", err)
	}
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("opening gzip stream: %w", err)
		}
		return &stackedReader{Reader: zr, closers: []io.Closer{zr, rc}}, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("opening zstd stream: %w", err)
		}
		return &stackedReader{Reader: zr, closers: []io.Closer{zstdCloser{zr}, rc}}, nil
	}
	return &stackedReader{Reader: br, closers: []io.Closer{rc}}, nil
}

// stackedReader reads from a decompressor and closes it and the blob
// beneath it.
type stackedReader struct {
	io.Reader
	closers []io.Closer
}

// Close implements io.Closer.
func (s *stackedReader) Close() error {
	var first error
	for _, c := range s.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// zstdCloser adapts zstd.Decoder's Close, which returns nothing.
type zstdCloser struct{ d *zstd.Decoder }

// Close implements io.Closer.
func (z zstdCloser) Close() error { z.d.Close(); return nil }

// classify turns a tar header into an entry; ok is false for headers that
// change nothing (global PAX headers, the root directory).
func classify(hdr *tar.Header) (e entry, ok bool) {
	name := cleanPath(hdr.Name)
	e = entry{
		path:     name,
		typeflag: hdr.Typeflag,
		mode:     hdr.Mode & 0o7777,
		uid:      hdr.Uid,
		gid:      hdr.Gid,
	}
	base := path.Base(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		if base == whiteoutOpaque {
			e.kind, e.path = kindOpaque, path.Dir(name)
			return e, true
		}
		e.kind, e.path = kindWhiteout, path.Join(path.Dir(name), strings.TrimPrefix(base, whiteoutPrefix))
		return e, e.path != "/"
	}
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return e, false
	case tar.TypeDir:
		e.kind = kindDir
	case tar.TypeSymlink:
		e.kind, e.link = kindSymlink, hdr.Linkname
	case tar.TypeLink:
		e.kind, e.link = kindHardlink, cleanPath(hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		e.kind = kindOther
	default: // TypeReg, TypeCont, TypeGNUSparse and unknown types carry data
		e.kind, e.size = kindFile, hdr.Size
	}
	if name == "/" {
		return e, e.kind == kindDir
	}
	return e, true
}

// OCI whiteout names (image-spec layer.md, "Whiteouts").
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// cleanPath makes a tar name absolute and clean: "./usr/bin/" → "/usr/bin".
func cleanPath(name string) string {
	return path.Clean("/" + name)
}

// readContent reads what it needs of the current file of tr into e.
func (w *walker) readContent(tr io.Reader, e *entry) error {
	keep := kept(e.path)
	var h hash.Hash
	if w.opts.hashContent {
		h = sha256.New()
		tr = io.TeeReader(tr, h)
	}
	switch {
	case e.size <= smallFile || (keep && e.size <= maxDatabase):
		buf := w.small[:0]
		if e.size > int64(cap(buf)) {
			buf = make([]byte, 0, e.size)
		}
		buf = buf[:e.size]
		if _, err := io.ReadFull(tr, buf); err != nil {
			return err
		}
		if e.size <= smallFile {
			w.small = buf
			e.privateKey = hasPrivateKey(buf)
		}
		if keep {
			e.content = bytes.Clone(buf)
		}
		if e.mode&0o111 != 0 && isELF(buf) {
			e.goInfo = goBuildInfo(bytes.NewReader(buf))
		}
	default:
		var head [4]byte
		if _, err := io.ReadFull(tr, head[:]); err != nil {
			return err
		}
		if e.mode&0o111 != 0 && isELF(head[:]) && e.size <= w.opts.MaxBinarySize {
			info, err := w.readBinary(tr, head[:], e.size)
			if err != nil {
				return err
			}
			e.goInfo = info
		} else if h != nil {
			if _, err := io.Copy(io.Discard, tr); err != nil {
				return err
			}
		}
	}
	if h != nil {
		// Drain what was not read so the digest covers the whole file.
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return err
		}
		e.digest = new([sha256.Size]byte)
		h.Sum(e.digest[:0])
	}
	return nil
}

// readBinary reads an ELF file whose first bytes are head, into memory or
// a temporary file, and returns its Go build information (nil for a
// binary that is not Go).
func (w *walker) readBinary(r io.Reader, head []byte, size int64) (*debug.BuildInfo, error) {
	if size <= inMemoryBinary {
		if int64(cap(w.large)) < size {
			w.large = make([]byte, size)
		}
		buf := w.large[:size]
		copy(buf, head)
		if _, err := io.ReadFull(r, buf[len(head):]); err != nil {
			return nil, err
		}
		return goBuildInfo(bytes.NewReader(buf)), nil
	}
	f, err := os.CreateTemp(w.opts.TempDir, "whittle-analyze-*")
	if err != nil {
		return nil, fmt.Errorf("spooling binary: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(head); err != nil {
		return nil, fmt.Errorf("spooling binary: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		return nil, fmt.Errorf("spooling binary: %w", err)
	}
	return goBuildInfo(f), nil
}

// goBuildInfo returns r's Go build information, or nil when r is not a Go
// binary (most ELF files are not).
func goBuildInfo(r io.ReaderAt) *debug.BuildInfo {
	info, err := buildinfo.Read(r)
	if err != nil {
		return nil
	}
	return info
}

// isELF reports whether b starts with the ELF magic.
func isELF(b []byte) bool {
	return len(b) >= 4 && b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F'
}

// hasPrivateKey reports whether b holds a PEM private key header such as
// "-----BEGIN RSA PRIVATE KEY-----" or "-----BEGIN OPENSSH PRIVATE KEY-----".
func hasPrivateKey(b []byte) bool {
	for {
		i := bytes.Index(b, []byte("-----BEGIN "))
		if i < 0 {
			return false
		}
		b = b[i+len("-----BEGIN "):]
		end := bytes.IndexByte(b, '\n')
		line := b
		if end >= 0 {
			line = b[:end]
		}
		if j := bytes.Index(line, []byte("PRIVATE KEY-----")); j >= 0 && len(line[:j]) <= 32 {
			return true
		}
	}
}

// kept reports whether a file's content is kept for later reading: the
// package databases and the user database.
func kept(name string) bool {
	switch name {
	case "/var/lib/dpkg/status", "/lib/apk/db/installed", "/usr/lib/apk/db/installed",
		"/etc/passwd", "/etc/group":
		return true
	}
	switch path.Dir(name) {
	case "/var/lib/dpkg/status.d":
		return true
	case "/var/lib/dpkg/info":
		return strings.HasSuffix(name, ".list")
	}
	return false
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

// Read implements io.Reader.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
