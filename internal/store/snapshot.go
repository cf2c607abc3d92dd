package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/archive"
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

// CommitSnapshot moves dir, a layer in overlayfs format prepared under the
// store (see TempDir), into place as the snapshot of diffID. If the snapshot
// exists already, dir is removed and the existing one kept.
func (s *Store) CommitSnapshot(diffID v1.Hash, dir string) error {
	dst := s.SnapshotPath(diffID)
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
	got, _, err := archive.Apply(ctx, dir, rc, archive.ApplyOptions{
		Overlay:     true,
		OpaqueXattr: s.opaqueXattr,
		NoDevices:   os.Geteuid() != 0,
		NoChown:     os.Geteuid() != 0,
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
