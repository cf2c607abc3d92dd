package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/userns"
)

// SnapshotPath returns the directory where the layer diffID is (or would be)
// unpacked, in overlayfs format.
func (s *Store) SnapshotPath(diffID v1.Hash) string {
	return s.path("snapshots", diffID.Algorithm, diffID.Hex)
}

// HasSnapshot reports whether the layer diffID is unpacked.
func (s *Store) HasSnapshot(diffID v1.Hash) bool {
	_, err := os.Lstat(s.SnapshotPath(diffID))
	return err == nil
}

// OpaqueXattr is the extended attribute that marks an opaque directory in
// this store's snapshots: trusted.overlay.opaque for root, the user.
// namespace otherwise.
func (s *Store) OpaqueXattr() string { return s.opaqueXattr }

// OverlayStamp is the file where snapshot.New remembers that overlayfs
// works for the store (see there).
func (s *Store) OverlayStamp() string { return s.path("overlay-check") }

// CommitSnapshot moves dir, a layer in overlayfs format prepared under the
// store (see TempDir), into place as the snapshot of diffID. If the snapshot
// exists already, dir is removed and the existing one kept. The snapshot is
// noted as not synced (see unsynced.go).
func (s *Store) CommitSnapshot(diffID v1.Hash, dir string) error {
	dst := s.SnapshotPath(diffID)
	if s.HasSnapshot(diffID) {
		// A duplicate (a --no-cache rebuild, two builds racing): the
		// snapshot in place was noted by whoever wrote it.
		return removeAll(dir)
	}
	if err := s.noteUnsynced(diffID.Hex); err != nil {
		removeAll(dir)
		return err
	}
	if err := os.Rename(dir, dst); err != nil {
		if errors.Is(err, os.ErrExist) || errors.Is(err, errNotEmpty) {
			return removeAll(dir)
		}
		return fmt.Errorf("committing snapshot %s: %w", diffID, err)
	}
	return nil
}

// Unpack makes sure the layer diffID is unpacked as a snapshot, reading it
// from open (an uncompressed tar stream) when it is not. The stream's digest
// must equal diffID. Concurrent calls for one layer unpack it once.
func (s *Store) Unpack(ctx context.Context, diffID v1.Hash, open func() (io.ReadCloser, error)) (string, error) {
	dst := s.SnapshotPath(diffID)
	if s.HasSnapshot(diffID) {
		return dst, nil
	}
	_, err, _ := s.unpacks.Do(diffID.String(), func() (any, error) {
		if s.HasSnapshot(diffID) {
			return nil, nil
		}
		return nil, s.unpack(ctx, diffID, open)
	})
	if err != nil {
		return "", err
	}
	return dst, nil
}

func (s *Store) unpack(ctx context.Context, diffID v1.Hash, open func() (io.ReadCloser, error)) error {
	dir, err := s.TempDir("unpack-")
	if err != nil {
		return err
	}
	// The layer's root directory becomes "/" of containers: 0755 unless the
	// layer says otherwise.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	rc, err := open()
	if err != nil {
		removeAll(dir)
		return fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}
	defer rc.Close()
	ns := userns.Current()
	got, _, err := archive.Apply(ctx, dir, rc, archive.ApplyOptions{
		Overlay:     true,
		OpaqueXattr: s.opaqueXattr,
		NoDevices:   ns.Rootless(),
		// With only our own id mapped, owners cannot be kept on disk.
		NoChown: !ns.CanChown(),
	})
	if err != nil {
		removeAll(dir)
		return fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}
	if got != diffID.String() {
		removeAll(dir)
		return fmt.Errorf("unpacking layer %s: content has digest %s: the layer is corrupt or was tampered with", diffID, got)
	}
	return s.CommitSnapshot(diffID, dir)
}

// UnpackBlob makes sure the layer diffID is unpacked, from the stored
// compressed blob blob (or, when blob is nil or absent, from any blob the
// store recorded for the layer). It returns the snapshot's directory.
func (s *Store) UnpackBlob(ctx context.Context, diffID v1.Hash, blob *v1.Descriptor) (string, error) {
	if s.HasSnapshot(diffID) {
		return s.SnapshotPath(diffID), nil
	}
	return s.Unpack(ctx, diffID, func() (io.ReadCloser, error) {
		var d v1.Descriptor
		if blob != nil && s.HasBlob(blob.Digest) {
			d = *blob
		} else {
			var err error
			if d, err = s.LayerBlob(diffID, nil); err != nil {
				return nil, err
			}
		}
		f, err := s.OpenBlob(d.Digest)
		if err != nil {
			return nil, err
		}
		r, _, err := archive.Decompress(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("layer %s: %w", diffID, err)
		}
		return &blobReader{ReadCloser: r, f: f}, nil
	})
}

type blobReader struct {
	io.ReadCloser
	f *os.File
}

func (r *blobReader) Close() error {
	r.ReadCloser.Close()
	return r.f.Close()
}

// UnpackImage unpacks every layer of img (concurrently, two at a time) and
// returns the snapshot directories top-most first, as overlayfs lists lower
// directories. img's blobs must be in the store.
func (s *Store) UnpackImage(ctx context.Context, img v1.Image) ([]string, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("image has %d layers but %d diffIDs", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	dirs := make([]string, len(m.Layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for i := range m.Layers {
		g.Go(func() error {
			d, err := s.UnpackBlob(gctx, cfg.RootFS.DiffIDs[i], &m.Layers[i])
			dirs[len(dirs)-1-i] = d
			return err
		})
	}
	return dirs, g.Wait()
}
