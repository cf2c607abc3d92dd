package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrNotFound is returned when a blob, image, snapshot or cache record is not
// in the store.
var ErrNotFound = errors.New("not found in the store")

// ErrNoAccess is wrapped by Open's error when the user may not write the
// store (another user's, root's /var/lib/whittle for one).
var ErrNoAccess = errors.New("this user may not write the store")

// BlobPath returns where the blob with digest h is (or would be) stored.
func (s *Store) BlobPath(h v1.Hash) string {
	return s.path("blobs", h.Algorithm, h.Hex)
}

// HasBlob reports whether the blob with digest h is in the store.
func (s *Store) HasBlob(h v1.Hash) bool {
	_, err := os.Stat(s.BlobPath(h))
	return err == nil
}

// OpenBlob opens the blob with digest h.
func (s *Store) OpenBlob(h v1.Hash) (*os.File, error) {
	f, err := os.Open(s.BlobPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", h, ErrNotFound)
	}
	return f, err
}

// ReadBlob returns the contents of a small blob (a manifest or a config).
func (s *Store) ReadBlob(h v1.Hash) ([]byte, error) {
	b, err := os.ReadFile(s.BlobPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", h, ErrNotFound)
	}
	return b, err
}

// WriteBlob stores what r yields and returns its digest and size. When want
// is not the zero Hash, the content must have that digest: a mismatch is an
// error and nothing is stored. Writing a blob that exists is cheap when want
// is given (r is not read) and harmless otherwise.
func (s *Store) WriteBlob(r io.Reader, want v1.Hash) (v1.Hash, int64, error) {
	if want != (v1.Hash{}) {
		if fi, err := os.Stat(s.BlobPath(want)); err == nil {
			return want, fi.Size(), nil
		}
	}
	f, err := os.CreateTemp(s.session, "blob-*")
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("writing blob: %w", err)
	}
	defer os.Remove(f.Name())
	hasher := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, hasher), r)
	if err != nil {
		f.Close()
		if want == (v1.Hash{}) {
			return v1.Hash{}, 0, fmt.Errorf("writing blob: %w", err)
		}
		return v1.Hash{}, 0, fmt.Errorf("writing blob %s: %w", want, err)
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(hasher.Sum(nil))}
	if want != (v1.Hash{}) && got != want {
		f.Close()
		return v1.Hash{}, 0, fmt.Errorf("writing blob: content has digest %s, expected %s", got, want)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return v1.Hash{}, 0, fmt.Errorf("writing blob %s: %w", got, err)
	}
	if err := f.Close(); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("writing blob %s: %w", got, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("writing blob %s: %w", got, err)
	}
	dst := s.BlobPath(got)
	if err := os.Rename(f.Name(), dst); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("writing blob %s: %w", got, err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("writing blob %s: %w", got, err)
	}
	return got, n, nil
}

// WriteBlobBytes stores b and returns its digest.
func (s *Store) WriteBlobBytes(b []byte) (v1.Hash, error) {
	sum := sha256.Sum256(b)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	_, _, err := s.WriteBlob(bytes.NewReader(b), h)
	return h, err
}
