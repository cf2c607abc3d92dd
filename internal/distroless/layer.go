package distroless

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/export"
	"github.com/whittle-build/whittle/internal/store"
)

// storedLayer is a layer whose compressed blob is in the store.
type storedLayer struct {
	DiffID v1.Hash       `json:"diffID"`
	Blob   v1.Descriptor `json:"blob"`
	// Size is the uncompressed tar's size.
	Size int64 `json:"size"`
}

// storeLayer writes the uncompressed tar that write produces into st,
// compressed with c, and records the blob as a form of the layer's diffID.
// fast compresses gzip with archive.Compress (parallel pgzip) instead of
// the denser standard library (see compress).
func storeLayer(ctx context.Context, st *store.Store, c archive.Compression, fast bool, write func(io.Writer) error) (storedLayer, error) {
	var newWriter func(io.Writer) (io.WriteCloser, error)
	if !fast {
		newWriter = func(w io.Writer) (io.WriteCloser, error) { return compress(w, c) }
	}
	src := func(w io.Writer) error {
		if err := write(w); err != nil {
			return err
		}
		return ctx.Err()
	}
	diffID, desc, size, err := export.CompressToStore(st, src, c, newWriter)
	if err != nil {
		return storedLayer{}, fmt.Errorf("writing layer: %w", err)
	}
	if err := st.AddLayerBlob(diffID, desc); err != nil {
		return storedLayer{}, err
	}
	return storedLayer{DiffID: diffID, Blob: desc, Size: size}, nil
}

// compress returns the compressor of layers: Go's standard deflate for
// gzip (level 6, no name, no time), else archive.Compress. Base image
// layers are compressed once (they are cached per .deb) and pulled often,
// so the ratio matters more than the speed: on libc6, the standard library
// gives 5.09 MB where pgzip gives 5.28 MB (zlib's gzip -6: 4.99 MB).
func compress(w io.Writer, c archive.Compression) (io.WriteCloser, error) {
	if c == archive.Gzip {
		return gzip.NewWriterLevel(w, gzip.DefaultCompression)
	}
	return archive.Compress(w, c)
}
