package store

import (
	"context"
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/whittle-build/whittle/internal/archive"
)

// Image returns the image whose manifest is desc. Blobs are read on first use.
func (s *Store) Image(desc v1.Descriptor) (v1.Image, error) {
	if desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("manifest %s is an index, not an image", desc.Digest)
	}
	img, err := partial.CompressedToImage(&storeImage{s: s, desc: desc})
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", desc.Digest, err)
	}
	return img, nil
}

// storeImage is the small core that partial turns into a v1.Image.
type storeImage struct {
	s    *Store
	desc v1.Descriptor

	once     sync.Once
	manifest []byte
	err      error
}

var _ partial.CompressedImageCore = (*storeImage)(nil)

func (i *storeImage) MediaType() (types.MediaType, error) { return i.desc.MediaType, nil }

func (i *storeImage) RawManifest() ([]byte, error) {
	i.once.Do(func() { i.manifest, i.err = i.s.ReadBlob(i.desc.Digest) })
	return i.manifest, i.err
}

func (i *storeImage) RawConfigFile() ([]byte, error) {
	m, err := partial.Manifest(i)
	if err != nil {
		return nil, err
	}
	return i.s.ReadBlob(m.Config.Digest)
}

func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := partial.Manifest(i)
	if err != nil {
		return nil, err
	}
	if h == m.Config.Digest {
		return &storeBlob{s: i.s, desc: m.Config}, nil
	}
	for n, l := range m.Layers {
		if l.Digest == h {
			b := &storeBlob{s: i.s, desc: l}
			// The config knows the diffID: spare ggcr decompressing the
			// layer to learn it.
			if cfg, err := partial.ConfigFile(i); err == nil && n < len(cfg.RootFS.DiffIDs) {
				b.diffID = cfg.RootFS.DiffIDs[n]
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("image %s has no layer %s", i.desc.Digest, h)
}

// storeBlob is a compressed layer read from the store.
type storeBlob struct {
	s      *Store
	desc   v1.Descriptor
	diffID v1.Hash
}

// DiffID returns the layer's diffID from the image config, computing it
// only when the blob is not one of the image's layers.
func (b *storeBlob) DiffID() (v1.Hash, error) {
	if b.diffID != (v1.Hash{}) {
		return b.diffID, nil
	}
	rc, err := b.Compressed()
	if err != nil {
		return v1.Hash{}, err
	}
	defer rc.Close()
	r, _, err := archive.Decompress(rc)
	if err != nil {
		return v1.Hash{}, err
	}
	defer r.Close()
	h, _, err := v1.SHA256(r)
	return h, err
}

func (b *storeBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *storeBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *storeBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *storeBlob) Compressed() (io.ReadCloser, error)  { return b.s.OpenBlob(b.desc.Digest) }

// WriteImage copies img's blobs (layers in parallel, then config, then
// manifest) into the store and records each layer's diffID. Blobs already
// present are not read. It returns the manifest's descriptor; name it with Tag.
func (s *Store) WriteImage(ctx context.Context, img v1.Image) (v1.Descriptor, error) {
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("writing image: %w", err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, l := range layers {
		g.Go(func() error { return s.writeLayer(ctx, l) })
	}
	if err := g.Wait(); err != nil {
		return v1.Descriptor{}, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("writing image: reading config: %w", err)
	}
	if _, err := s.WriteBlobBytes(cfg); err != nil {
		return v1.Descriptor{}, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("writing image: reading manifest: %w", err)
	}
	h, err := s.WriteBlobBytes(raw)
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: h}, nil
}

func (s *Store) writeLayer(ctx context.Context, l v1.Layer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := l.Digest()
	if err != nil {
		return fmt.Errorf("writing layer: %w", err)
	}
	mt, err := l.MediaType()
	if err != nil {
		return fmt.Errorf("writing layer %s: %w", d, err)
	}
	size, err := l.Size()
	if err != nil {
		return fmt.Errorf("writing layer %s: %w", d, err)
	}
	if !s.HasBlob(d) {
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("fetching layer %s: %w", d, err)
		}
		_, _, err = s.WriteBlob(ctxReader{ctx, rc}, d)
		rc.Close()
		if err != nil {
			return fmt.Errorf("fetching layer %s: %w", d, err)
		}
	}
	diffID, err := l.DiffID()
	if err != nil {
		return fmt.Errorf("writing layer %s: %w", d, err)
	}
	return s.AddLayerBlob(diffID, v1.Descriptor{MediaType: mt, Size: size, Digest: d})
}

// ctxReader stops a long copy when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
