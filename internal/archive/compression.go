package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"
	"strconv"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression names a stream compression.
type Compression string

// The compressions that Decompress recognises. Compress writes None, Gzip
// and Zstd; Bzip2 and Xz are only read.
const (
	None  Compression = "none"
	Gzip  Compression = "gzip"
	Zstd  Compression = "zstd"
	Bzip2 Compression = "bzip2"
	Xz    Compression = "xz"
)

// gzipBlockSize is the size of the blocks pgzip compresses in parallel. It
// is part of the output format: changing it changes every gzip layer digest.
const gzipBlockSize = 1 << 20

// zstdConcurrency is the number of zstd encoders working on one stream. It
// is a constant, not GOMAXPROCS, so that output never depends on the
// machine.
const zstdConcurrency = 2

// ParseCompression returns the Compression named s ("none", "gzip" or
// "zstd"; "" means gzip, the default for layers).
func ParseCompression(s string) (Compression, error) {
	switch Compression(s) {
	case "", Gzip:
		return Gzip, nil
	case None, Zstd:
		return Compression(s), nil
	}
	return "", fmt.Errorf("parsing compression %q: want none, gzip or zstd", s)
}

// Compress returns a writer that compresses what is written to it with c
// and writes the result to w. Closing it flushes the compressor; it never
// closes w.
//
// The output is deterministic: the same input gives the same bytes on any
// machine. Gzip is klauspost/pgzip's format at the default level with a
// fixed block size and a header without name or modification time (see
// gzipWriter); zstd uses klauspost/compress at the default level with fixed
// concurrency.
func Compress(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case None:
		return nopWriteCloser{w}, nil
	case Gzip:
		return &gzipWriter{w: w}, nil
	case Zstd:
		z, err := zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(zstdConcurrency),
			zstd.WithEncoderCRC(true),
		)
		if err != nil {
			return nil, fmt.Errorf("creating zstd writer: %w", err)
		}
		return z, nil
	}
	return nil, fmt.Errorf("compressing with %q: not supported (want none, gzip or zstd)", c)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// magics are the first bytes of each compressed format; none is a prefix of
// another, so order does not matter.
var magics = []struct {
	c     Compression
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{Bzip2, []byte("BZh")},
	{Xz, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
}

// Detect reports the compression of the stream that starts with head (a few
// bytes suffice; six recognise every format).
func Detect(head []byte) Compression {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.c
		}
	}
	return None
}

// Decompress recognises the compression of r by its first bytes and returns
// a reader of the decompressed stream, with the compression it found.
// Input in no known format is returned as is, as None, and so is a tar
// whose first name happens to start like a compressed stream. Closing the
// reader releases the decompressor; it never closes r.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(512)
	if err != nil && err != io.EOF {
		return nil, None, fmt.Errorf("reading compression header: %w", err)
	}
	c := Detect(head)
	if c != None && isTarHeader(head) {
		c = None
	}
	switch c {
	case Gzip:
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("reading gzip header: %w", err)
		}
		return z, c, nil
	case Zstd:
		z, err := zstd.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("reading zstd header: %w", err)
		}
		return z.IOReadCloser(), c, nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(br)), c, nil
	case Xz:
		z, err := xz.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("reading xz header: %w", err)
		}
		return io.NopCloser(z), c, nil
	}
	return io.NopCloser(br), None, nil
}

// isTarHeader reports whether block starts with a tar header block: 512
// bytes whose checksum field matches their sum.
func isTarHeader(block []byte) bool {
	if len(block) < 512 {
		return false
	}
	field := bytes.TrimRight(bytes.TrimLeft(block[148:156], " \x00"), " \x00")
	want, err := strconv.ParseUint(string(field), 8, 32)
	if err != nil {
		return false
	}
	var sum uint64
	for i, b := range block[:512] {
		if i >= 148 && i < 156 {
			b = ' '
		}
		sum += uint64(b)
	}
	return sum == want
}
