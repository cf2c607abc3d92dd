package remotecache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// refNameAnnotation names an index entry of an OCI layout.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// layoutLocation keeps the cache in an OCI image layout directory, its
// manifest named tag in index.json. Every file is written atomically
// (temporary file, sync, rename), so an export killed midway leaves the
// previous cache readable and no truncated blob that later looks complete
// (go-containerregistry's layout package writes blobs and index.json in
// place, which is why it is not used here).
type layoutLocation struct {
	dir, tag string
}

var _ location = (*layoutLocation)(nil)

func (l *layoutLocation) blobPath(h v1.Hash) string {
	return filepath.Join(l.dir, "blobs", h.Algorithm, h.Hex)
}

func (l *layoutLocation) writeBlob(ctx context.Context, desc v1.Descriptor, open func() (io.ReadCloser, error)) error {
	if fi, err := os.Stat(l.blobPath(desc.Digest)); err == nil && fi.Size() == desc.Size {
		return nil
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := l.writeFile(ctx, l.blobPath(desc.Digest), rc, desc.Digest); err != nil {
		return fmt.Errorf("writing blob %s to %s: %w", desc.Digest, l.dir, err)
	}
	return nil
}

// writeFile writes what r yields to dst atomically; when want is not zero
// the content must have that sha256 digest.
func (l *layoutLocation) writeFile(ctx context.Context, dst string, r io.Reader, want v1.Hash) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); want.Hex != "" && got != want.Hex {
		return fmt.Errorf("content has digest sha256:%s, expected %s", got, want)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), dst)
}

func (l *layoutLocation) putManifest(ctx context.Context, raw []byte, mt types.MediaType) error {
	sum := sha256.Sum256(raw)
	desc := v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
	if err := l.writeBlob(ctx, desc, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }); err != nil {
		return err
	}
	lock, err := l.lock()
	if err != nil {
		return err
	}
	defer lock.Close()
	idx, err := l.index()
	if errors.Is(err, fs.ErrNotExist) {
		idx = &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	} else if err != nil {
		return err
	}
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		if d.Annotations[refNameAnnotation] != l.tag {
			kept = append(kept, d)
		}
	}
	desc.Annotations = map[string]string{refNameAnnotation: l.tag}
	idx.Manifests = append(kept, desc)
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(l.dir, "oci-layout")); errors.Is(err, fs.ErrNotExist) {
		if err := l.writeFile(ctx, filepath.Join(l.dir, "oci-layout"), bytes.NewReader([]byte(`{"imageLayoutVersion":"1.0.0"}`)), v1.Hash{}); err != nil {
			return fmt.Errorf("writing %s: %w", l.dir, err)
		}
	}
	if err := l.writeFile(ctx, filepath.Join(l.dir, "index.json"), bytes.NewReader(b), v1.Hash{}); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Join(l.dir, "index.json"), err)
	}
	return nil
}

// lock serialises index.json updates between processes.
func (l *layoutLocation) lock() (*os.File, error) {
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, fmt.Errorf("writing %s: %w", l.dir, err)
	}
	f, err := os.OpenFile(filepath.Join(l.dir, "index.json.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", l.dir, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", l.dir, err)
	}
	return f, nil
}

func (l *layoutLocation) index() (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(l.dir, "index.json"))
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", filepath.Join(l.dir, "index.json"), err)
	}
	return idx, nil
}

func (l *layoutLocation) manifest(ctx context.Context) ([]byte, error) {
	idx, err := l.index()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no index.json: %w", l.dir, ErrNoCache)
	}
	if err != nil {
		return nil, err
	}
	for _, d := range idx.Manifests {
		if d.Annotations[refNameAnnotation] != l.tag {
			continue
		}
		rc, err := l.blob(ctx, d)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return readVerified(rc, d)
	}
	return nil, fmt.Errorf("%s has no manifest named %q: %w", l.dir, l.tag, ErrNoCache)
}

func (l *layoutLocation) blob(_ context.Context, desc v1.Descriptor) (io.ReadCloser, error) {
	f, err := os.Open(l.blobPath(desc.Digest))
	if err != nil {
		return nil, fmt.Errorf("reading the cache in %s: %w", l.dir, err)
	}
	return f, nil
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
