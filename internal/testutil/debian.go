package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/pgzip"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultTestCache is where .ci/fixtures puts the Debian tarballs when
// $WHITTLE_TEST_CACHE is not set.
const DefaultTestCache = "/var/cache/whittle-test"

// DebianVariants are the root filesystems .ci/fixtures makes with mmdebstrap
// (bookworm, from the host's apt sources):
//
//	minbase          minbase variant, merged /usr
//	golang           minbase + golang-go, ca-certificates
//	python           minbase + python3, python3-pip, python3-venv
//	static-extract   base-files, netbase, tzdata, media-types unpacked: no shell, no dpkg
//	python3-extract  python3 and its dependencies unpacked, no shell
var DebianVariants = []string{"minbase", "golang", "python", "static-extract", "python3-extract"}

// TestCacheDir returns $WHITTLE_TEST_CACHE, or DefaultTestCache.
func TestCacheDir() string {
	return envOr("WHITTLE_TEST_CACHE", DefaultTestCache)
}

// DebianRootfsTar returns the path of the mmdebstrap tarball of a variant
// (one of DebianVariants) made by .ci/fixtures. The test is skipped when the
// tarball is missing (failed when CI=true). Treat the file as read-only.
func DebianRootfsTar(t testing.TB, variant string) string {
	t.Helper()
	if !slices.Contains(DebianVariants, variant) {
		t.Fatalf("unknown Debian fixture variant %q (known: %v)", variant, DebianVariants)
	}
	path := filepath.Join(TestCacheDir(), "debian-"+variant+".tar")
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		Unavailable(t, "%s is not there: run `sudo .ci/fixtures %s` once (mmdebstrap, Debian mirror)", path, variant)
	}
	return path
}

// DebianImage returns the tarball of a variant (see DebianRootfsTar) as a
// one-layer OCI image: Env PATH, Cmd ["bash"] (none for the -extract
// variants, which have no shell), created at FixtureTime. The gzip of the
// layer is made once and kept beside the tarball (or in the user's cache
// directory when that one is not writable).
func DebianImage(t testing.TB, variant string) v1.Image {
	t.Helper()
	path := DebianRootfsTar(t, variant)
	cfg := v1.Config{Env: []string{"PATH=" + DefaultPath}, Cmd: []string{"bash"}}
	if strings.HasSuffix(variant, "-extract") {
		cfg.Cmd = nil
	}
	img, err := ImageFromRootfsTar(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// ImageFromRootfsTar returns an OCI image whose single layer is the
// uncompressed root filesystem tarball at path, with cfg as its run config,
// created at FixtureTime. The layer's gzip (pgzip, deterministic) and digests
// are computed once and cached; see DebianImage.
func ImageFromRootfsTar(path string, cfg v1.Config) (v1.Image, error) {
	layer, err := cachedGzipLayer(path)
	if err != nil {
		return nil, err
	}
	cf := &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: FixtureTime},
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	}
	return ociImage(cf, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: FixtureTime},
			CreatedBy: "whittle testutil: " + filepath.Base(path),
		},
	})
}

// gzipLayer is a v1.Layer over an uncompressed tarball and its cached gzip,
// with the digests known in advance.
type gzipLayer struct {
	tarPath, gzPath string
	meta            gzipMeta
}

var _ v1.Layer = (*gzipLayer)(nil)

// gzipMeta is the sidecar JSON kept beside a cached gzip: what tarball it was
// made from (size and mtime, to notice a remade one) and its digests.
type gzipMeta struct {
	TarSize    int64   `json:"tarSize"`
	TarModTime int64   `json:"tarModTime"`
	DiffID     v1.Hash `json:"diffID"`
	Digest     v1.Hash `json:"digest"`
	Size       int64   `json:"size"`
}

func (l *gzipLayer) Digest() (v1.Hash, error)             { return l.meta.Digest, nil }
func (l *gzipLayer) DiffID() (v1.Hash, error)             { return l.meta.DiffID, nil }
func (l *gzipLayer) Size() (int64, error)                 { return l.meta.Size, nil }
func (l *gzipLayer) MediaType() (types.MediaType, error)  { return types.OCILayer, nil }
func (l *gzipLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.gzPath) }
func (l *gzipLayer) Uncompressed() (io.ReadCloser, error) { return os.Open(l.tarPath) }

// cachedGzipLayer returns the layer for the tarball at tarPath, compressing
// it first unless a cache made from the same tarball is there.
func cachedGzipLayer(tarPath string) (*gzipLayer, error) {
	fi, err := os.Stat(tarPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", tarPath, err)
	}
	dirs := []string{filepath.Dir(tarPath)}
	if d, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(d, "whittle-test"))
	}
	base := filepath.Base(tarPath)
	// A cache that matches, in any of the places.
	for _, dir := range dirs {
		var meta gzipMeta
		b, err := os.ReadFile(filepath.Join(dir, base+".gz.json"))
		if err != nil || json.Unmarshal(b, &meta) != nil {
			continue
		}
		if meta.TarSize != fi.Size() || meta.TarModTime != fi.ModTime().UnixNano() {
			continue
		}
		gz := filepath.Join(dir, base+"."+meta.Digest.Hex+".gz")
		if gfi, err := os.Stat(gz); err == nil && gfi.Size() == meta.Size {
			return &gzipLayer{tarPath: tarPath, gzPath: gz, meta: meta}, nil
		}
	}
	// Else make one in the first place that takes it.
	var errs []error
	for _, dir := range dirs {
		l, err := writeGzipCache(tarPath, fi, dir)
		if err == nil {
			return l, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("caching the gzip of %s: %w", tarPath, errors.Join(errs...))
}

// writeGzipCache compresses tarPath into dir, named by its digest, then writes
// the sidecar; both through temp files and renames, so concurrent test
// processes and killed runs leave either nothing or a whole cache.
func writeGzipCache(tarPath string, fi fs.FileInfo, dir string) (*gzipLayer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	in, err := os.Open(tarPath)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, ".gz-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	diff, comp := sha256.New(), sha256.New()
	counter := &countWriter{}
	zw, err := pgzip.NewWriterLevel(io.MultiWriter(tmp, comp, counter), pgzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(zw, io.TeeReader(in, diff)); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	meta := gzipMeta{
		TarSize:    fi.Size(),
		TarModTime: fi.ModTime().UnixNano(),
		DiffID:     v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))},
		Digest:     v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(comp.Sum(nil))},
		Size:       counter.n,
	}
	base := filepath.Base(tarPath)
	gz := filepath.Join(dir, base+"."+meta.Digest.Hex+".gz")
	if err := os.Rename(tmp.Name(), gz); err != nil {
		return nil, err
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	side, err := os.CreateTemp(dir, ".gzjson-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(side.Name())
	if err := side.Chmod(0o644); err != nil {
		side.Close()
		return nil, err
	}
	if _, err := side.Write(b); err != nil {
		side.Close()
		return nil, err
	}
	if err := side.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(side.Name(), filepath.Join(dir, base+".gz.json")); err != nil {
		return nil, err
	}
	// Gzips of an earlier tarball of the same name are of no more use.
	if old, err := filepath.Glob(filepath.Join(dir, base+".*.gz")); err == nil {
		for _, o := range old {
			if o != gz {
				os.Remove(o)
			}
		}
	}
	return &gzipLayer{tarPath: tarPath, gzPath: gz, meta: meta}, nil
}

// countWriter counts the bytes written through it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
