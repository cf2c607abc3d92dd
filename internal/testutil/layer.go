package testutil

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// bytesLayer is a small layer held in memory, gzipped once when made.
// (go-containerregistry's tarball layers describe themselves with an empty,
// non-nil annotation map, which validate.Image reports as a mismatch.)
type bytesLayer struct {
	tar, gz      []byte
	diffID, dgst v1.Hash
}

var _ v1.Layer = (*bytesLayer)(nil)

// newBytesLayer returns an OCI gzip layer of the uncompressed tar t,
// compressed deterministically (klauspost gzip, best speed, no header fields).
func newBytesLayer(t []byte) (*bytesLayer, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(t); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	return &bytesLayer{
		tar:    t,
		gz:     buf.Bytes(),
		diffID: sha256Hash(t),
		dgst:   sha256Hash(buf.Bytes()),
	}, nil
}

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum)}
}

func (l *bytesLayer) Digest() (v1.Hash, error)            { return l.dgst, nil }
func (l *bytesLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *bytesLayer) Size() (int64, error)                { return int64(len(l.gz)), nil }
func (l *bytesLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (l *bytesLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}
func (l *bytesLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.tar)), nil
}
