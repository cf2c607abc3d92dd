package debian

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// errTruncated says a download ended before its expected size (retried).
var errTruncated = errors.New("download shorter than expected")

// blobCache is a content-addressed directory: dir/sha256/<hex>. Blobs are
// written to dir/tmp and renamed into place only after their size and
// SHA256 matched, so a present blob is always complete and verified, even
// after a crash mid-write.
type blobCache struct {
	dir string
}

// path returns where the blob with digest hex lives.
func (b *blobCache) path(hex string) string {
	return filepath.Join(b.dir, "sha256", hex)
}

// lookup returns the blob's path when it exists with the expected size,
// hashing it too when full is set. A blob whose content does not match is
// removed.
func (b *blobCache) lookup(want FileHash, full bool) (string, bool, error) {
	p := b.path(want.SHA256)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("checking cache: %w", err)
	}
	if fi.Size() != want.Size {
		_ = os.Remove(p)
		return "", false, nil
	}
	if full {
		f, err := os.Open(p)
		if err != nil {
			return "", false, fmt.Errorf("checking cache: %w", err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", false, fmt.Errorf("checking cache: %w", err)
		}
		if hex.EncodeToString(h.Sum(nil)) != want.SHA256 {
			_ = os.Remove(p)
			return "", false, nil
		}
	}
	return p, true, nil
}

// store copies r into the cache, checking that it is exactly want.Size
// bytes with digest want.SHA256; what names the data in errors. The
// returned path is the verified blob. A short read gives errTruncated
// (worth a retry); any other mismatch gives a *VerifyError.
func (b *blobCache) store(r io.Reader, want FileHash, what string) (string, error) {
	tmpDir := filepath.Join(b.dir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return "", fmt.Errorf("creating cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(b.dir, "sha256"), 0o755); err != nil {
		return "", fmt.Errorf("creating cache: %w", err)
	}
	f, err := os.CreateTemp(tmpDir, "blob-*")
	if err != nil {
		return "", fmt.Errorf("creating cache file: %w", err)
	}
	tmp := f.Name()
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, want.Size+1))
	if err != nil {
		return "", err
	}
	if n < want.Size {
		return "", fmt.Errorf("%s: got %d of %d bytes: %w", what, n, want.Size, errTruncated)
	}
	if n > want.Size {
		return "", &VerifyError{What: what, Reason: fmt.Sprintf("size mismatch: more than the expected %d bytes", want.Size)}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
		return "", &VerifyError{What: what, Reason: fmt.Sprintf("SHA256 mismatch: got %s, want %s", got, want.SHA256)}
	}
	if err := f.Chmod(0o644); err != nil {
		return "", fmt.Errorf("writing cache file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("writing cache file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("writing cache file: %w", err)
	}
	dst := b.path(want.SHA256)
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("committing cache file: %w", err)
	}
	committed = true
	return dst, nil
}
