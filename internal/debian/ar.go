package debian

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// arMagic starts every ar(1) archive.
const arMagic = "!<arch>\n"

// arReader reads the members of an ar(1) archive (the container of a .deb)
// sequentially from a stream, like archive/tar.Reader: Next moves to the
// next member, Read reads the current one. It knows the common (System V /
// GNU) header format that dpkg-deb writes; members are never extracted.
type arReader struct {
	r         io.Reader
	remaining int64 // unread bytes of the current member
	pad       bool  // the current member is followed by a padding byte
}

// arHeader is a member's name and size.
type arHeader struct {
	Name string
	Size int64
}

// newArReader checks the archive magic and returns a reader positioned
// before the first member.
func newArReader(r io.Reader) (*arReader, error) {
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(r, magic); err != nil {
		return nil, fmt.Errorf("reading ar magic: %w", err)
	}
	if string(magic) != arMagic {
		return nil, errors.New("not an ar archive (bad magic)")
	}
	return &arReader{r: r}, nil
}

// Next skips the rest of the current member and reads the next header. It
// returns io.EOF at the end of the archive.
func (a *arReader) Next() (arHeader, error) {
	skip := a.remaining
	if a.pad {
		skip++
	}
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, a.r, skip); err != nil {
			return arHeader{}, fmt.Errorf("skipping ar member: %w", noEOF(err))
		}
	}
	a.remaining, a.pad = 0, false
	var h [60]byte
	n, err := io.ReadFull(a.r, h[:])
	if err == io.EOF && n == 0 {
		return arHeader{}, io.EOF
	}
	if err != nil {
		return arHeader{}, fmt.Errorf("reading ar header: %w", noEOF(err))
	}
	if h[58] != '`' || h[59] != '\n' {
		return arHeader{}, errors.New("malformed ar header (bad terminator)")
	}
	name := strings.TrimRight(string(h[0:16]), " ")
	if strings.HasPrefix(name, "#1/") || name == "/" || name == "//" {
		return arHeader{}, fmt.Errorf("ar member %q: extended names are not used in .deb files", name)
	}
	name = strings.TrimSuffix(name, "/")
	sizeField := strings.TrimSpace(string(h[48:58]))
	size, err := strconv.ParseInt(sizeField, 10, 64)
	if err != nil || size < 0 {
		return arHeader{}, fmt.Errorf("ar member %q: bad size %q", name, sizeField)
	}
	a.remaining, a.pad = size, size%2 == 1
	return arHeader{Name: name, Size: size}, nil
}

// Read reads from the current member.
func (a *arReader) Read(p []byte) (int, error) {
	if a.remaining <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > a.remaining {
		p = p[:a.remaining]
	}
	n, err := a.r.Read(p)
	a.remaining -= int64(n)
	if err == io.EOF && a.remaining > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// noEOF turns a bare io.EOF inside a structure into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
