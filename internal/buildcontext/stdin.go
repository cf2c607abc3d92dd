package buildcontext

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/whittle-build/whittle/internal/archive"
)

// FromReader reads what `docker build -` reads from its standard input, or
// `docker build URL` from the URL (from names it in messages): a tar
// archive, plain or compressed (gzip, bzip2, xz, zstd), is a build context
// and is unpacked into dir (safely: see archive.Apply; owners and devices
// are not kept, which COPY would not use); anything else is a Dockerfile,
// returned, and dir stays empty.
func FromReader(ctx context.Context, r io.Reader, dir, from string) (dockerfile []byte, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	dr, _, err := archive.Decompress(br)
	if err != nil {
		// Starts like a compressed stream but is not one: a Dockerfile
		// would not, so say what failed.
		return nil, fmt.Errorf("reading the build context from %s: %w", from, err)
	}
	defer dr.Close()
	head := bufio.NewReaderSize(dr, 1024)
	block, err := head.Peek(1024)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading %s: %w", from, err)
	}
	if !isTar(block) {
		b, err := io.ReadAll(head)
		if err != nil {
			return nil, fmt.Errorf("reading the Dockerfile from %s: %w", from, err)
		}
		return b, nil
	}
	if _, _, err := archive.Apply(ctx, dir, head, archive.ApplyOptions{NoChown: true, NoDevices: true}); err != nil {
		return nil, fmt.Errorf("unpacking the build context from %s: %w", from, err)
	}
	return nil, nil
}

// isTar says whether block starts a tar archive: a header that
// archive/tar reads.
func isTar(block []byte) bool {
	if len(block) < 512 {
		return false
	}
	_, err := tar.NewReader(bytes.NewReader(block)).Next()
	return err == nil
}
