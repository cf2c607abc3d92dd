package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// PruneOptions says what Prune may remove besides unreferenced data.
type PruneOptions struct {
	// Cache also drops the build cache (step records and cache mounts), so
	// the layers only it kept alive go too. Default false.
	Cache bool
	// UnusedFor, when not zero, drops the cache records not used (written
	// or found by a build) for that long, and so what only they kept.
	UnusedFor time.Duration
	// KeepStorage, when not zero, drops the least recently used cache
	// records until the blobs and snapshots that images and the remaining
	// records need take at most this many bytes (cache mounts are not
	// counted). Named images are never dropped, so they alone may exceed it.
	KeepStorage int64
}

// PruneReport says what Prune removed.
type PruneReport struct {
	Blobs, Snapshots, CacheRecords int
	// Bytes is the disk space freed (file sizes).
	Bytes int64
}

// Prune removes blobs and snapshots that no named image and no cache record
// needs, and leftovers of dead processes. It waits for running builds on the
// store to finish and blocks new ones while it runs.
func (s *Store) Prune(ctx context.Context, opts PruneOptions) (*PruneReport, error) {
	if err := unix.Flock(int(s.gcLock.Fd()), unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("locking the store for pruning: %w", err)
	}
	defer unix.Flock(int(s.gcLock.Fd()), unix.LOCK_SH)
	s.sweep()

	rep := &PruneReport{}
	if opts.UnusedFor > 0 && !opts.Cache {
		n, b, err := s.removeUnused(time.Now().Add(-opts.UnusedFor))
		rep.CacheRecords += n
		rep.Bytes += b
		if err != nil {
			return rep, err
		}
	}
	if opts.KeepStorage > 0 && !opts.Cache {
		cutoff, err := s.sizeCutoff(opts.KeepStorage)
		if err != nil {
			return rep, err
		}
		if !cutoff.IsZero() {
			n, b, err := s.removeUnused(cutoff.Add(time.Nanosecond))
			rep.CacheRecords += n
			rep.Bytes += b
			if err != nil {
				return rep, err
			}
		}
	}
	if opts.Cache {
		for _, dir := range []string{"cache/sha256", "mounts"} {
			n, b, err := s.removeChildren(s.path(dir))
			if err != nil {
				return rep, err
			}
			if dir == "cache/sha256" {
				rep.CacheRecords += n
			}
			rep.Bytes += b
		}
	}

	blobs := map[v1.Hash]bool{}
	layers := map[v1.Hash]bool{}
	if err := s.markImages(blobs, layers); err != nil {
		return rep, err
	}
	if err := s.markCache(blobs, layers); err != nil {
		return rep, err
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}

	// Snapshots.
	snaps, _ := os.ReadDir(s.path("snapshots", "sha256"))
	for _, e := range snaps {
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if layers[h] {
			continue
		}
		rep.Bytes += du(s.path("snapshots", "sha256", e.Name()))
		if err := s.discard(s.path("snapshots", "sha256", e.Name())); err != nil {
			return rep, fmt.Errorf("pruning snapshot %s: %w", h, err)
		}
		rep.Snapshots++
	}
	// Blobs, and layer records whose blobs are all gone.
	bl, _ := os.ReadDir(s.path("blobs", "sha256"))
	for _, e := range bl {
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if blobs[h] {
			continue
		}
		if fi, err := e.Info(); err == nil {
			rep.Bytes += fi.Size()
		}
		if err := os.Remove(s.BlobPath(h)); err != nil {
			return rep, fmt.Errorf("pruning blob %s: %w", h, err)
		}
		rep.Blobs++
	}
	metas, _ := os.ReadDir(s.path("layers", "sha256"))
	for _, e := range metas {
		h := v1.Hash{Algorithm: "sha256", Hex: strings.TrimSuffix(e.Name(), ".json")}
		if layers[h] {
			continue
		}
		if _, err := s.LayerBlob(h, nil); err != nil {
			os.Remove(s.path("layers", "sha256", e.Name()))
		}
	}
	return rep, nil
}

// markImages marks what the named images reference.
func (s *Store) markImages(blobs, layers map[v1.Hash]bool) error {
	entries, err := s.List()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := s.markManifest(e.Descriptor.Digest, blobs, layers); err != nil {
			return fmt.Errorf("pruning: image %s: %w", e.Name, err)
		}
	}
	return nil
}

func (s *Store) markManifest(h v1.Hash, blobs, layers map[v1.Hash]bool) error {
	b, err := s.ReadBlob(h)
	if err != nil {
		return err
	}
	blobs[h] = true
	var m struct {
		Manifests []v1.Descriptor `json:"manifests"`
		Config    v1.Descriptor   `json:"config"`
		Layers    []v1.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for _, c := range m.Manifests {
		if s.HasBlob(c.Digest) {
			if err := s.markManifest(c.Digest, blobs, layers); err != nil {
				return err
			}
		}
	}
	if m.Config.Digest.Hex != "" {
		blobs[m.Config.Digest] = true
		if cb, err := s.ReadBlob(m.Config.Digest); err == nil {
			var cfg struct {
				RootFS struct {
					DiffIDs []v1.Hash `json:"diff_ids"`
				} `json:"rootfs"`
			}
			if json.Unmarshal(cb, &cfg) == nil {
				for _, d := range cfg.RootFS.DiffIDs {
					layers[d] = true
				}
			}
		}
	}
	for _, l := range m.Layers {
		blobs[l.Digest] = true
	}
	return nil
}

// removeUnused removes the cache records last used before t.
func (s *Store) removeUnused(t time.Time) (n int, bytes int64, err error) {
	dir := s.path("cache", "sha256")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(t) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, bytes, fmt.Errorf("pruning cache record %s: %w", e.Name(), err)
		}
		n++
		bytes += fi.Size()
	}
	return n, bytes, nil
}

// markCache marks what the cache records reference.
func (s *Store) markCache(blobs, layers map[v1.Hash]bool) error {
	s.eachRecord(func(_ os.FileInfo, bs, ls []v1.Hash) {
		for _, l := range ls {
			layers[l] = true
		}
		for _, h := range bs {
			blobs[h] = true
		}
	})
	return nil
}

// eachRecord calls fn with every cache record's file, the blobs it keeps
// (its own, and the compressed forms of its layers, which spare a
// recompression) and its layers. A damaged record is removed.
func (s *Store) eachRecord(fn func(fi os.FileInfo, blobs, layers []v1.Hash)) {
	entries, _ := os.ReadDir(s.path("cache", "sha256"))
	for _, e := range entries {
		b, err := os.ReadFile(s.path("cache", "sha256", e.Name()))
		fi, ierr := e.Info()
		if err != nil || ierr != nil {
			continue
		}
		var rec CacheRecord
		if json.Unmarshal(b, &rec) != nil {
			os.Remove(s.path("cache", "sha256", e.Name()))
			continue
		}
		blobs := slices.Clone(rec.Blobs)
		for _, l := range rec.Layers {
			if m, err := s.readLayerMeta(l); err == nil {
				for _, d := range m.Blobs {
					blobs = append(blobs, d.Digest)
				}
			}
		}
		fn(fi, blobs, rec.Layers)
	}
}

// sizeCutoff finds the time T such that dropping the cache records last
// used at or before T leaves what images and the other records need within
// keep bytes: the zero time when nothing has to go. A blob or snapshot is
// freed when every record that needs it goes, so its last use is its
// newest record's; the least recently used go first.
func (s *Store) sizeCutoff(keep int64) (time.Time, error) {
	pinnedBlobs, pinnedLayers := map[v1.Hash]bool{}, map[v1.Hash]bool{}
	if err := s.markImages(pinnedBlobs, pinnedLayers); err != nil {
		return time.Time{}, err
	}
	// The last use of what only the cache keeps: its newest record's.
	blobUse, snapUse := map[v1.Hash]time.Time{}, map[v1.Hash]time.Time{}
	later := func(m map[v1.Hash]time.Time, h v1.Hash, t time.Time) {
		if t.After(m[h]) {
			m[h] = t
		}
	}
	s.eachRecord(func(fi os.FileInfo, blobs, layers []v1.Hash) {
		for _, h := range blobs {
			if !pinnedBlobs[h] {
				later(blobUse, h, fi.ModTime())
			}
		}
		for _, l := range layers {
			if !pinnedLayers[l] {
				later(snapUse, l, fi.ModTime())
			}
		}
	})
	blobSize := func(h v1.Hash) int64 {
		if fi, err := os.Stat(s.BlobPath(h)); err == nil {
			return fi.Size()
		}
		return 0
	}
	snapSize := func(h v1.Hash) int64 {
		if s.HasSnapshot(h) {
			return du(s.SnapshotPath(h))
		}
		return 0
	}
	var total int64
	for h := range pinnedBlobs {
		total += blobSize(h)
	}
	for l := range pinnedLayers {
		total += snapSize(l)
	}
	type item struct {
		lastUse time.Time
		size    int64
	}
	var cached []item
	for h, t := range blobUse {
		cached = append(cached, item{t, blobSize(h)})
	}
	for h, t := range snapUse {
		cached = append(cached, item{t, snapSize(h)})
	}
	for _, it := range cached {
		total += it.size
	}
	slices.SortFunc(cached, func(a, b item) int { return a.lastUse.Compare(b.lastUse) })
	var cutoff time.Time
	for _, it := range cached {
		if total <= keep {
			break
		}
		total -= it.size
		cutoff = it.lastUse
	}
	return cutoff, nil
}

// discard removes the tree at p without ever leaving part of it under its
// name: a snapshot that is there must be complete, even when the process
// is killed while removing it. The tree is first renamed into this
// session's staging directory (which the next Open sweeps if we die),
// then removed.
func (s *Store) discard(p string) error {
	tmp, err := os.MkdirTemp(s.session, "discard-")
	if err != nil {
		return err
	}
	if err := os.Rename(p, filepath.Join(tmp, "tree")); err != nil {
		os.Remove(tmp)
		return err
	}
	return removeAll(tmp)
}

func (s *Store) removeChildren(dir string) (n int, bytes int64, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, nil
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		bytes += du(p)
		if err := s.discard(p); err != nil {
			return n, bytes, fmt.Errorf("pruning %s: %w", p, err)
		}
		n++
	}
	return n, bytes, nil
}

func du(p string) int64 {
	var total int64
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}
