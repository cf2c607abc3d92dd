package debian

import (
	"bufio"
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// decompressor returns a reader that decompresses r according to a file
// extension: ".gz", ".xz", ".zst", ".bz2", or "" for none. xz and bzip2
// read byte by byte, so r is buffered when it is not already.
func decompressor(r io.Reader, ext string) (io.ReadCloser, error) {
	switch ext {
	case "":
		return io.NopCloser(r), nil
	case ".gz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("opening gzip stream: %w", err)
		}
		return zr, nil
	case ".xz":
		xr, err := xz.NewReader(buffered(r))
		if err != nil {
			return nil, fmt.Errorf("opening xz stream: %w", err)
		}
		return io.NopCloser(xr), nil
	case ".zst":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("opening zstd stream: %w", err)
		}
		return zr.IOReadCloser(), nil
	case ".bz2":
		return io.NopCloser(bzip2.NewReader(buffered(r))), nil
	}
	return nil, fmt.Errorf("compression %q is not supported (want gz, xz, zst, bz2 or none)", ext)
}

// buffered wraps r in a bufio.Reader unless it already reads bytes.
func buffered(r io.Reader) io.Reader {
	if _, ok := r.(io.ByteReader); ok {
		return r
	}
	return bufio.NewReaderSize(r, 256<<10)
}
