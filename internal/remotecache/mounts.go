package remotecache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/cachemount"
	"github.com/whittle-build/whittle/internal/store"
)

// mountsDir is where the store keeps RUN --mount=type=cache directories:
// mounts/<id>, id the sha256 (hex) of the mount's identity, the same on
// every machine (store.CacheMountDir), each with a flock(2) file
// <id>.lock that its users hold (package cachemount). Private instances
// (<id>.<n>) are per-machine copies for concurrent users and are not
// exported.
func mountsDir(st *store.Store) string {
	return filepath.Dir(st.CacheMountDir(""))
}

// lockMount takes the lock of mount id (how: LOCK_SH or LOCK_EX), the
// one builds using the mount hold; with wait false it gives up at once when
// another holds it (nil, nil).
func lockMount(ctx context.Context, st *store.Store, id string, how int, wait bool) (*os.File, error) {
	f, err := cachemount.Lock(ctx, filepath.Join(mountsDir(st), id), how, wait)
	if err != nil {
		return nil, fmt.Errorf("locking cache mount %s: %w", id, err)
	}
	return f, nil
}

// packedMount is a cache mount directory packed into a compressed tar in
// a staging file, ready to upload.
type packedMount struct {
	Mount
	desc v1.Descriptor
	file string
}

// packMounts packs every cache mount directory of st into a zstd tar
// under scratch, each under its shared lock, so that no `sharing=locked`
// user changes it meanwhile.
func packMounts(ctx context.Context, st *store.Store, scratch string) ([]packedMount, error) {
	entries, err := os.ReadDir(mountsDir(st))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing cache mounts: %w", err)
	}
	var out []packedMount
	for _, e := range entries {
		if !e.IsDir() || checkMountID(e.Name()) != nil {
			continue
		}
		p, err := packMount(ctx, st, e.Name(), scratch)
		if err != nil {
			return nil, fmt.Errorf("packing cache mount %s: %w", e.Name(), err)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func packMount(ctx context.Context, st *store.Store, id, scratch string) (packedMount, error) {
	dir := filepath.Join(mountsDir(st), id)
	lock, err := lockMount(ctx, st, id, unix.LOCK_SH, true)
	if err != nil {
		return packedMount{}, err
	}
	defer lock.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		return packedMount{}, err
	}
	p := packedMount{Mount: Mount{ID: id, Mode: archive.ModeBits(fi.Mode())}, file: filepath.Join(scratch, "mount-"+id)}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		p.UID, p.GID = int(sys.Uid), int(sys.Gid)
	}
	f, err := os.Create(p.file)
	if err != nil {
		return packedMount{}, err
	}
	defer f.Close()
	blobSum, tarSum := sha256.New(), sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, blobSum)}
	zw, err := archive.Compress(cw, archive.Zstd)
	if err != nil {
		return packedMount{}, err
	}
	if err := archive.WriteDir(ctx, io.MultiWriter(zw, tarSum), dir, archive.WriteOptions{OpaqueXattr: st.OpaqueXattr()}); err != nil {
		zw.Close()
		return packedMount{}, err
	}
	if err := zw.Close(); err != nil {
		return packedMount{}, err
	}
	if err := f.Close(); err != nil {
		return packedMount{}, err
	}
	p.DiffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(tarSum.Sum(nil))}
	p.desc = v1.Descriptor{
		MediaType:   types.OCILayerZStd,
		Size:        cw.n,
		Digest:      v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(blobSum.Sum(nil))},
		Annotations: map[string]string{AnnotationMount: id},
	}
	return p, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// restoreMount unpacks the cache mount m, read from the compressed tar r
// (the blob desc), into the store's mounts/<id>, unless the store has that
// directory already (a mount used locally is newer than the cache's) or a
// build is using it. The tar is unpacked into staging and renamed into
// place, under the mount's exclusive lock, only once both its digest and
// its content's digest check out. It reports whether it restored.
func restoreMount(ctx context.Context, st *store.Store, m Mount, r io.Reader, desc v1.Descriptor) (bool, error) {
	dst := filepath.Join(mountsDir(st), m.ID)
	if _, err := os.Lstat(dst); err == nil {
		return false, nil
	}
	if err := os.MkdirAll(mountsDir(st), 0o700); err != nil {
		return false, err
	}
	lock, err := lockMount(ctx, st, m.ID, unix.LOCK_EX, false)
	if err != nil || lock == nil {
		return false, err // nil, nil: in use, so it exists
	}
	defer lock.Close()
	if _, err := os.Lstat(dst); err == nil {
		return false, nil
	}
	tmp, err := st.TempDir("cache-mount-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	blobSum := sha256.New()
	cr := &countReader{r: io.TeeReader(r, blobSum)}
	zr, _, err := archive.Decompress(cr)
	if err != nil {
		return false, fmt.Errorf("cache mount %s: %w", m.ID, err)
	}
	root := os.Geteuid() == 0
	got, _, err := archive.Apply(ctx, tmp, zr, archive.ApplyOptions{NoChown: !root, NoDevices: !root})
	zr.Close()
	if err != nil {
		return false, fmt.Errorf("cache mount %s: %w", m.ID, err)
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return false, fmt.Errorf("cache mount %s: %w", m.ID, err)
	}
	if h := hex.EncodeToString(blobSum.Sum(nil)); cr.n != desc.Size || h != desc.Digest.Hex {
		return false, fmt.Errorf("cache mount %s: blob %s has digest sha256:%s (%d bytes): it was tampered with or damaged", m.ID, desc.Digest, h, cr.n)
	}
	if got != m.DiffID.String() {
		return false, fmt.Errorf("cache mount %s: its content has digest %s, the cache says %s: it was tampered with or damaged", m.ID, got, m.DiffID)
	}
	if root {
		if err := os.Lchown(tmp, m.UID, m.GID); err != nil {
			return false, fmt.Errorf("cache mount %s: %w", m.ID, err)
		}
	}
	if err := os.Chmod(tmp, archive.FileMode(m.Mode)); err != nil {
		return false, fmt.Errorf("cache mount %s: %w", m.ID, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		if _, serr := os.Lstat(dst); serr == nil {
			return false, nil // another build restored or made it meanwhile
		}
		return false, fmt.Errorf("cache mount %s: %w", m.ID, err)
	}
	return true, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
