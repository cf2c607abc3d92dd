package debian

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// maxControlFile bounds each file of control.tar and maxControlTotal all
// of them: control members are small, and anything larger is refused
// rather than read into memory.
const (
	maxControlFile  = 16 << 20
	maxControlTotal = 64 << 20
)

// Deb is an open .deb: its control information, read into memory, and its
// data tar, streamed. Nothing is extracted to disk and no maintainer
// script is ever run; scripts are only available as bytes in ControlFiles.
type Deb struct {
	// Control is the control file exactly as packaged: the stanza to
	// write to /var/lib/dpkg/status.d/<package>.
	Control []byte
	// Package is Control parsed.
	Package *Package
	// MD5Sums is the md5sums control file (nil when the package has none):
	// the content of /var/lib/dpkg/status.d/<package>.md5sums.
	MD5Sums []byte
	// Conffiles lists the package's configuration files (absolute paths).
	Conffiles []string
	// ControlFiles holds every regular file of control.tar by name
	// ("control", "md5sums", "conffiles", "postinst", "triggers", ...).
	ControlFiles map[string][]byte
	// Data reads the data tar: the package's files, entry by entry.
	Data *tar.Reader
	// DataCompression is the data member's extension: ".xz", ".zst",
	// ".gz", ".bz2" or "" (uncompressed).
	DataCompression string

	closers []io.Closer
}

// Close releases the decompressor of the data tar and, for a Deb opened
// with OpenDebFile, the file.
func (d *Deb) Close() error {
	var errs []error
	for i := len(d.closers) - 1; i >= 0; i-- {
		if err := d.closers[i].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	d.closers = nil
	return errors.Join(errs...)
}

// OpenDebFile opens a .deb file with OpenDeb; Close closes the file too.
func OpenDebFile(name string) (*Deb, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("opening .deb: %w", err)
	}
	d, err := OpenDeb(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	d.closers = append([]io.Closer{f}, d.closers...)
	return d, nil
}

// OpenDeb reads a .deb (format 2.0) from a stream: the debian-binary
// member, control.tar{,.gz,.xz,.zst} into memory, then positions Data at
// the start of data.tar{,.gz,.xz,.zst,.bz2}. Members whose names start
// with "_" are skipped, as dpkg does. r must not be read by anyone else
// until the Deb is closed.
func OpenDeb(r io.Reader) (*Deb, error) {
	ar, err := newArReader(r)
	if err != nil {
		return nil, err
	}
	h, err := ar.Next()
	if err != nil {
		return nil, fmt.Errorf("reading .deb: %w", noEOF(err))
	}
	if h.Name != "debian-binary" {
		return nil, fmt.Errorf("reading .deb: first member is %q, want debian-binary", h.Name)
	}
	vb, err := io.ReadAll(io.LimitReader(ar, 64))
	if err != nil {
		return nil, fmt.Errorf("reading debian-binary: %w", err)
	}
	if v := strings.TrimSpace(string(vb)); !strings.HasPrefix(v, "2.") {
		return nil, fmt.Errorf("reading .deb: format %q is not supported (want 2.x)", v)
	}
	d := &Deb{ControlFiles: map[string][]byte{}}
	haveControl := false
	for {
		h, err := ar.Next()
		if err == io.EOF {
			if !haveControl {
				return nil, errors.New("reading .deb: no control.tar member")
			}
			return nil, errors.New("reading .deb: no data.tar member")
		}
		if err != nil {
			return nil, fmt.Errorf("reading .deb: %w", err)
		}
		switch {
		case strings.HasPrefix(h.Name, "_"):
			continue
		case strings.HasPrefix(h.Name, "control.tar"):
			if haveControl {
				return nil, errors.New("reading .deb: two control.tar members")
			}
			ext := strings.TrimPrefix(h.Name, "control.tar")
			if ext == ".bz2" {
				return nil, errors.New("reading .deb: control.tar.bz2 is not a valid .deb member")
			}
			if err := d.readControl(ar, ext); err != nil {
				return nil, err
			}
			haveControl = true
		case strings.HasPrefix(h.Name, "data.tar"):
			if !haveControl {
				return nil, errors.New("reading .deb: data.tar comes before control.tar")
			}
			ext := strings.TrimPrefix(h.Name, "data.tar")
			zr, err := decompressor(ar, ext)
			if err != nil {
				return nil, fmt.Errorf("reading .deb member %s: %w", h.Name, err)
			}
			d.closers = append(d.closers, zr)
			d.Data = tar.NewReader(zr)
			d.DataCompression = ext
			return d, nil
		default:
			return nil, fmt.Errorf("reading .deb: unexpected member %q", h.Name)
		}
	}
}

// readControl reads control.tar into d.
func (d *Deb) readControl(r io.Reader, ext string) error {
	zr, err := decompressor(r, ext)
	if err != nil {
		return fmt.Errorf("reading control.tar%s: %w", ext, err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading control.tar%s: %w", ext, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		if h.Size > maxControlFile {
			return fmt.Errorf("reading control.tar%s: %s is %d bytes (limit %d)", ext, name, h.Size, maxControlFile)
		}
		total += h.Size
		if total > maxControlTotal {
			return fmt.Errorf("reading control.tar%s: more than %d bytes of control files", ext, maxControlTotal)
		}
		b, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil {
			return fmt.Errorf("reading control.tar%s %s: %w", ext, name, err)
		}
		d.ControlFiles[name] = b
	}
	ctl, ok := d.ControlFiles["control"]
	if !ok {
		return fmt.Errorf("reading control.tar%s: no control file", ext)
	}
	d.Control = ctl
	d.Package, err = ParseControl(ctl)
	if err != nil {
		return fmt.Errorf("parsing control file: %w", err)
	}
	d.MD5Sums = d.ControlFiles["md5sums"]
	for _, line := range strings.Split(string(d.ControlFiles["conffiles"]), "\n") {
		// dpkg ≥ 1.20 allows a "remove-on-upgrade" flag after the path.
		if f := strings.Fields(line); len(f) > 0 {
			d.Conffiles = append(d.Conffiles, f[0])
		}
	}
	if bytes.Count(ctl, []byte("\n\n")) > 0 && len(splitStanzas(ctl)) > 1 {
		return errors.New("parsing control file: more than one stanza")
	}
	return nil
}
