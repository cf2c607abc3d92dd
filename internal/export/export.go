// Package export turns a root filesystem's layers and an image config into
// an image in the local store: it compresses the layers that have no blob
// yet (in parallel, deterministically), passes existing blobs through byte
// for byte, and writes the config and the OCI manifest.
package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/store"
)

// Layer is one layer of the image to write.
type Layer struct {
	DiffID v1.Hash
	// Blob is a compressed form known to be in the store (a base image's
	// layer); nil when the store's records or the snapshot must provide one.
	Blob *v1.Descriptor
}

// Options tune Image.
type Options struct {
	// Compression of layers that are compressed here. Default gzip.
	// Layers that already have a blob keep it, whatever its compression.
	Compression archive.Compression
	// Epoch is SOURCE_DATE_EPOCH, for layers compressed from snapshots: it
	// must be the one their diffIDs were computed with.
	Epoch *time.Time
	// Annotations go on the manifest.
	Annotations map[string]string
	// Jobs bounds how many layers are compressed at once. Default 2.
	Jobs int
}

// Image writes the image made of layers (bottom first) and cfg into st and
// returns its manifest descriptor. cfg's rootfs is filled in from layers.
func Image(ctx context.Context, st *store.Store, layers []Layer, cfg *v1.ConfigFile, o Options) (v1.Descriptor, error) {
	if o.Compression == "" {
		o.Compression = archive.Gzip
	}
	if o.Jobs <= 0 {
		o.Jobs = 2
	}
	descs := make([]v1.Descriptor, len(layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Jobs)
	for i, l := range layers {
		g.Go(func() error {
			d, err := LayerBlob(gctx, st, l, o)
			descs[i] = d
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return v1.Descriptor{}, err
	}

	c := *cfg
	c.RootFS = v1.RootFS{Type: "layers", DiffIDs: make([]v1.Hash, len(layers))}
	for i, l := range layers {
		c.RootFS.DiffIDs[i] = l.DiffID
	}
	cb, err := json.Marshal(&c)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("encoding image config: %w", err)
	}
	ch, err := st.WriteBlobBytes(cb)
	if err != nil {
		return v1.Descriptor{}, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(cb)), Digest: ch},
		Layers:        descs,
		Annotations:   o.Annotations,
	}
	mb, err := json.Marshal(&m)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("encoding manifest: %w", err)
	}
	mh, err := st.WriteBlobBytes(mb)
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: int64(len(mb)), Digest: mh}, nil
}

// LayerMediaType is the OCI layer media type for a compression.
func LayerMediaType(c archive.Compression) types.MediaType {
	switch c {
	case archive.Zstd:
		return types.OCILayerZStd
	case archive.None:
		return types.OCIUncompressedLayer
	}
	return types.OCILayer
}

// ociMediaType maps Docker layer media types to their OCI names: the bytes
// are the same, and an OCI manifest should not mix the two vocabularies.
func ociMediaType(mt types.MediaType) types.MediaType {
	switch mt {
	case types.DockerLayer:
		return types.OCILayer
	case types.DockerUncompressedLayer:
		return types.OCIUncompressedLayer
	case types.DockerForeignLayer:
		return types.OCIRestrictedLayer
	}
	return mt
}

// LayerBlob returns a compressed blob of l in st, making one when needed:
// from l.Blob, from a blob the store recorded for the diffID, or by
// compressing the layer's snapshot (or, failing that, recompressing another
// blob of it).
func LayerBlob(ctx context.Context, st *store.Store, l Layer, o Options) (v1.Descriptor, error) {
	if o.Compression == "" {
		o.Compression = archive.Gzip
	}
	if l.Blob != nil && st.HasBlob(l.Blob.Digest) {
		d := *l.Blob
		d.MediaType = ociMediaType(d.MediaType)
		d.Annotations, d.URLs, d.Platform = nil, nil, nil
		return d, nil
	}
	want := LayerMediaType(o.Compression)
	if d, err := st.LayerBlob(l.DiffID, func(mt types.MediaType) bool { return ociMediaType(mt) == want }); err == nil {
		d.MediaType = want
		return d, nil
	}
	var src func(w io.Writer) error
	if st.HasSnapshot(l.DiffID) {
		dir := st.SnapshotPath(l.DiffID)
		src = func(w io.Writer) error {
			return WriteSnapshot(ctx, w, st, dir, o.Epoch)
		}
	} else if other, lerr := st.LayerBlob(l.DiffID, nil); lerr == nil {
		src = func(w io.Writer) error {
			f, err := st.OpenBlob(other.Digest)
			if err != nil {
				return err
			}
			defer f.Close()
			r, _, err := archive.Decompress(f)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.Copy(w, r)
			return err
		}
	} else {
		return v1.Descriptor{}, fmt.Errorf("layer %s has neither a snapshot nor a blob in the store: rebuild with --no-cache", l.DiffID)
	}
	d, err := compress(st, l.DiffID, src, o.Compression)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := st.AddLayerBlob(l.DiffID, d); err != nil {
		return v1.Descriptor{}, err
	}
	return d, nil
}

// compress streams src through the compressor into a new blob, checking
// that the uncompressed stream has the expected diffID.
func compress(st *store.Store, diffID v1.Hash, src func(io.Writer) error, c archive.Compression) (v1.Descriptor, error) {
	got, desc, err := compressBlob(st, src, c)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("compressing layer %s: %w", diffID, err)
	}
	if got != diffID {
		return v1.Descriptor{}, fmt.Errorf("compressing layer %s: its content now has digest %s: the snapshot changed since it was built; run whittle prune --cache", diffID, got)
	}
	return desc, nil
}

// CompressDir writes the layer in dir (overlay format) as a compressed blob
// into st in one pass, hashing the uncompressed tar on the way, records the
// blob for the layer, and returns the diffID and the blob's descriptor. The
// solver uses it for layers it knows will be exported, so that they are
// read once instead of twice.
func CompressDir(ctx context.Context, st *store.Store, dir string, o Options) (v1.Hash, v1.Descriptor, error) {
	if o.Compression == "" {
		o.Compression = archive.Gzip
	}
	src := func(w io.Writer) error {
		return WriteSnapshot(ctx, w, st, dir, o.Epoch)
	}
	diffID, desc, err := compressBlob(st, src, o.Compression)
	if err != nil {
		return v1.Hash{}, v1.Descriptor{}, fmt.Errorf("compressing layer: %w", err)
	}
	if err := st.AddLayerBlob(diffID, desc); err != nil {
		return v1.Hash{}, v1.Descriptor{}, err
	}
	return diffID, desc, nil
}

// WriteSnapshot writes the layer in the snapshot directory dir of st as
// the uncompressed tar whose sha256 is its diffID. Every path that hashes
// or compresses a snapshot goes through it, so they agree byte for byte.
func WriteSnapshot(ctx context.Context, w io.Writer, st *store.Store, dir string, epoch *time.Time) error {
	return archive.WriteDir(ctx, w, dir, archive.WriteOptions{Epoch: epoch, OpaqueXattr: st.OpaqueXattr()})
}

// compressBlob streams src through archive.Compress into a new blob of
// st, and returns the sha256 of what src wrote (the layer's diffID) and the
// blob's descriptor.
func compressBlob(st *store.Store, src func(io.Writer) error, c archive.Compression) (v1.Hash, v1.Descriptor, error) {
	diffID, desc, _, err := CompressToStore(st, src, c, nil)
	return diffID, desc, err
}

// CompressToStore streams the uncompressed layer tar that src writes
// through a compressor for c into a new blob of st, in one pass, and
// returns the tar's sha256 (the diffID), the blob's descriptor and the
// tar's size. newWriter makes the compressor (nil: archive.Compress); a
// caller with other needs (distroless's denser gzip) passes its own. The
// caller records the blob for the layer (st.AddLayerBlob).
func CompressToStore(st *store.Store, src func(io.Writer) error, c archive.Compression, newWriter func(io.Writer) (io.WriteCloser, error)) (v1.Hash, v1.Descriptor, int64, error) {
	if newWriter == nil {
		newWriter = func(w io.Writer) (io.WriteCloser, error) { return archive.Compress(w, c) }
	}
	pr, pw := io.Pipe()
	hasher := sha256.New()
	cw := &countWriter{}
	go func() {
		zw, err := newWriter(pw)
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		err = src(io.MultiWriter(zw, hasher, cw))
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		pw.CloseWithError(err)
	}()
	h, n, err := st.WriteBlob(pr, v1.Hash{})
	pr.CloseWithError(err) // stop the writer if the store gave up
	if err != nil {
		return v1.Hash{}, v1.Descriptor{}, 0, err
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(hasher.Sum(nil))}
	return diffID, v1.Descriptor{MediaType: LayerMediaType(c), Size: n, Digest: h}, cw.n, nil
}

// countWriter counts the bytes written through it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
