package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// WriteIndex stores an OCI image index of the manifests descs (each with
// its Platform), with the annotations ann (none: nil), and returns its
// descriptor. The manifests must be in the store; the index lists them in
// the order given.
func (s *Store) WriteIndex(descs []v1.Descriptor, ann map[string]string) (v1.Descriptor, error) {
	for _, d := range descs {
		if !s.HasBlob(d.Digest) {
			return v1.Descriptor{}, fmt.Errorf("writing an index: manifest %s is not in the store", d.Digest)
		}
	}
	im := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: descs, Annotations: ann}
	b, err := json.Marshal(im)
	if err != nil {
		return v1.Descriptor{}, err
	}
	h, err := s.WriteBlobBytes(b)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("writing an index: %w", err)
	}
	return v1.Descriptor{MediaType: types.OCIImageIndex, Size: int64(len(b)), Digest: h}, nil
}

// Index returns the image index whose manifest is desc, its images and
// nested indexes read from the store.
func (s *Store) Index(desc v1.Descriptor) (v1.ImageIndex, error) {
	if !desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("manifest %s is an image, not an index", desc.Digest)
	}
	return &storeIndex{s: s, desc: desc}, nil
}

// storeIndex is a v1.ImageIndex read from the store.
type storeIndex struct {
	s    *Store
	desc v1.Descriptor

	once sync.Once
	raw  []byte
	im   *v1.IndexManifest
	err  error
}

var _ v1.ImageIndex = (*storeIndex)(nil)

func (i *storeIndex) load() error {
	i.once.Do(func() {
		if i.raw, i.err = i.s.ReadBlob(i.desc.Digest); i.err != nil {
			return
		}
		if i.im, i.err = v1.ParseIndexManifest(bytes.NewReader(i.raw)); i.err != nil {
			i.err = fmt.Errorf("reading index %s: %w", i.desc.Digest, i.err)
		}
	})
	return i.err
}

func (i *storeIndex) MediaType() (types.MediaType, error) { return i.desc.MediaType, nil }
func (i *storeIndex) Digest() (v1.Hash, error)            { return i.desc.Digest, nil }
func (i *storeIndex) Size() (int64, error)                { return i.desc.Size, nil }

func (i *storeIndex) IndexManifest() (*v1.IndexManifest, error) {
	if err := i.load(); err != nil {
		return nil, err
	}
	return i.im.DeepCopy(), nil
}

func (i *storeIndex) RawManifest() ([]byte, error) {
	if err := i.load(); err != nil {
		return nil, err
	}
	return i.raw, nil
}

// child returns the entry for h.
func (i *storeIndex) child(h v1.Hash) (v1.Descriptor, error) {
	if err := i.load(); err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range i.im.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("index %s has no manifest %s", i.desc.Digest, h)
}

func (i *storeIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := i.child(h)
	if err != nil {
		return nil, err
	}
	return i.s.Image(d)
}

func (i *storeIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := i.child(h)
	if err != nil {
		return nil, err
	}
	return i.s.Index(d)
}
