package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// layerMeta is layers/sha256/<diffID hex>.json: the compressed forms of a
// layer whose blobs are (or were) in the store.
type layerMeta struct {
	DiffID v1.Hash         `json:"diffID"`
	Blobs  []v1.Descriptor `json:"blobs"`
}

func (s *Store) layerMetaPath(diffID v1.Hash) string {
	return s.path("layers", diffID.Algorithm, diffID.Hex+".json")
}

func (s *Store) readLayerMeta(diffID v1.Hash) (*layerMeta, error) {
	b, err := os.ReadFile(s.layerMetaPath(diffID))
	if errors.Is(err, os.ErrNotExist) {
		return &layerMeta{DiffID: diffID}, nil
	}
	if err != nil {
		return nil, err
	}
	var m layerMeta
	if err := json.Unmarshal(b, &m); err != nil {
		// A damaged record only costs a recompression: start afresh.
		return &layerMeta{DiffID: diffID}, nil
	}
	return &m, nil
}

func (m *layerMeta) has(h v1.Hash) bool {
	for _, b := range m.Blobs {
		if b.Digest == h {
			return true
		}
	}
	return false
}

// AddLayerBlob records that the blob desc is a compressed form of the layer
// with the given diffID.
func (s *Store) AddLayerBlob(diffID v1.Hash, desc v1.Descriptor) error {
	s.layerMu.Lock()
	defer s.layerMu.Unlock()
	m, err := s.readLayerMeta(diffID)
	if err == nil && m.has(desc.Digest) {
		return nil
	}
	// Other processes update the same record: read it again under a lock.
	lock, err := lockFile(s.path("layers.lock"), unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer lock.Close()
	m, err = s.readLayerMeta(diffID)
	if err != nil {
		return fmt.Errorf("recording layer %s: %w", diffID, err)
	}
	if m.has(desc.Digest) {
		return nil
	}
	m.Blobs = append(m.Blobs, v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest})
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	rel, _ := filepath.Rel(s.root, s.layerMetaPath(diffID))
	return s.writeFileAtomic(rel, b)
}

// LayerBlob returns a stored compressed blob of the layer diffID, preferring
// one whose media type is accepted by want (nil accepts any). It returns
// ErrNotFound when no such blob is in the store.
func (s *Store) LayerBlob(diffID v1.Hash, want func(types.MediaType) bool) (v1.Descriptor, error) {
	m, err := s.readLayerMeta(diffID)
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, b := range m.Blobs {
		if (want == nil || want(b.MediaType)) && s.HasBlob(b.Digest) {
			return b, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("layer %s: %w", diffID, ErrNotFound)
}
