package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CacheRecord is what a build cache key maps to. The store reads only the
// references (to keep what they name through Prune); Value belongs to the
// writer.
type CacheRecord struct {
	// Layers are the diffIDs of the layers the result consists of.
	Layers []v1.Hash `json:"layers"`
	// Blobs are other blobs the result needs (compressed layers, configs).
	Blobs []v1.Hash `json:"blobs,omitempty"`
	// Value is the writer's payload.
	Value json.RawMessage `json:"value"`
}

func (s *Store) cachePath(key v1.Hash) string {
	return s.path("cache", key.Algorithm, key.Hex+".json")
}

// PutCache records rec under key, replacing an earlier record.
func (s *Store) PutCache(key v1.Hash, rec *CacheRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("writing cache record %s: %w", key, err)
	}
	rel, _ := filepath.Rel(s.root, s.cachePath(key))
	return s.writeFileAtomic(rel, b)
}

// Cache returns the record under key, or ErrNotFound. A record whose layers
// are no longer unpacked and have no blob either is treated as absent.
func (s *Store) Cache(key v1.Hash) (*CacheRecord, error) {
	b, err := os.ReadFile(s.cachePath(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cache record %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading cache record %s: %w", key, err)
	}
	var rec CacheRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		// A damaged record is a miss, not a failure: the step runs again.
		return nil, fmt.Errorf("cache record %s is damaged: %w", key, ErrNotFound)
	}
	for _, l := range rec.Layers {
		if !s.HasSnapshot(l) {
			if _, err := s.LayerBlob(l, nil); err != nil {
				return nil, fmt.Errorf("cache record %s: layer %s is gone: %w", key, l, ErrNotFound)
			}
		}
	}
	for _, h := range rec.Blobs {
		if !s.HasBlob(h) {
			return nil, fmt.Errorf("cache record %s: blob %s is gone: %w", key, h, ErrNotFound)
		}
	}
	// The record's modification time is when it was last used, for
	// `prune --filter unused-for=`. (Best effort: a read-only store still
	// serves its records.)
	now := time.Now()
	os.Chtimes(s.cachePath(key), now, now)
	return &rec, nil
}

// ContextStatePath returns a file in which the build-context hasher may keep
// what it knows about the directory with the given identity (a digest of its
// absolute path). The caller writes it with WriteState.
func (s *Store) ContextStatePath(id string) string {
	return s.path("contexts", id+".sums")
}

// WriteState atomically writes a file under the store's contexts/ directory.
func (s *Store) WriteState(id string, data []byte) error {
	return s.writeFileAtomic(filepath.Join("contexts", id+".sums"), data)
}
