package testutil

import (
	"archive/tar"
	"errors"
	"io"
	"testing"
)

// EachTarEntry calls fn with every header of the tar stream r and a reader
// of that entry's content, and fails t when the stream is not a valid tar.
func EachTarEntry(t testing.TB, r io.Reader, fn func(h *tar.Header, content io.Reader)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		fn(h, tr)
	}
}
