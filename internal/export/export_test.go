package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// snapshot makes a layer snapshot with one file and returns its diffID.
func snapshot(t *testing.T, st *store.Store, content string) v1.Hash {
	t.Helper()
	dir, err := st.TempDir("snap-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if err := archive.WriteDir(context.Background(), h, dir, archive.WriteOptions{OpaqueXattr: st.OpaqueXattr()}); err != nil {
		t.Fatal(err)
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if err := st.CommitSnapshot(diffID, dir); err != nil {
		t.Fatal(err)
	}
	return diffID
}

func TestImage(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	// A base layer whose blob is in the store, with a docker media type.
	base, _ := random.Layer(512, types.DockerLayer)
	baseDigest, _ := base.Digest()
	baseDiff, _ := base.DiffID()
	rc, _ := base.Compressed()
	st.WriteBlob(rc, baseDigest)
	rc.Close()
	baseSize, _ := base.Size()
	built := snapshot(t, st, "built")

	for _, c := range []archive.Compression{archive.Gzip, archive.Zstd, archive.None} {
		t.Run(string(c), func(t *testing.T) {
			cfg := &v1.ConfigFile{OS: "linux", Architecture: "amd64", Config: v1.Config{Cmd: []string{"x"}}}
			desc, err := Image(ctx, st, []Layer{
				{DiffID: baseDiff, Blob: &v1.Descriptor{MediaType: types.DockerLayer, Digest: baseDigest, Size: baseSize}},
				{DiffID: built},
			}, cfg, Options{Compression: c, Annotations: map[string]string{"a": "b"}})
			if err != nil {
				t.Fatal(err)
			}
			img, err := st.Image(desc)
			if err != nil {
				t.Fatal(err)
			}
			// ggcr's validator reads every layer as gzip.
			if c == archive.Gzip {
				if err := validate.Image(img); err != nil {
					t.Fatalf("invalid image: %v", err)
				}
			}
			layers, _ := img.Layers()
			cfgFile, _ := img.ConfigFile()
			for i, l := range layers {
				rc, err := l.Uncompressed()
				if err != nil {
					t.Fatal(err)
				}
				h, _, err := v1.SHA256(rc)
				rc.Close()
				if err != nil || h != cfgFile.RootFS.DiffIDs[i] {
					t.Errorf("layer %d uncompresses to %s (%v), config says %s", i, h, err, cfgFile.RootFS.DiffIDs[i])
				}
			}
			m, _ := img.Manifest()
			if m.Layers[0].Digest != baseDigest || m.Layers[0].MediaType != types.OCILayer {
				t.Errorf("base layer not passed through as an OCI gzip layer: %+v", m.Layers[0])
			}
			if m.Layers[1].MediaType != LayerMediaType(c) {
				t.Errorf("built layer media type %s, want %s", m.Layers[1].MediaType, LayerMediaType(c))
			}
			if m.Annotations["a"] != "b" {
				t.Errorf("annotations %v", m.Annotations)
			}
			// Exporting again reuses the blob the first export made.
			again, err := Image(ctx, st, []Layer{{DiffID: baseDiff, Blob: &m.Layers[0]}, {DiffID: built}}, cfg, Options{Compression: c, Annotations: map[string]string{"a": "b"}})
			if err != nil || again.Digest != desc.Digest {
				t.Errorf("second export: %v, %v; want the same digest %v", again.Digest, err, desc.Digest)
			}
		})
	}
}

func TestCompressDirMatchesLayerBlob(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	diffID := snapshot(t, st, "content")
	other := openStore(t)
	d2, _ := other.TempDir("x-")
	os.Chmod(d2, 0o755)
	os.WriteFile(filepath.Join(d2, "f"), []byte("content"), 0o644)
	os.Chtimes(filepath.Join(d2, "f"), mtime(t, st.SnapshotPath(diffID)), mtime(t, st.SnapshotPath(diffID)))
	got, desc, err := CompressDir(ctx, other, d2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got != diffID {
		t.Fatalf("CompressDir diffID %s, want %s (WriteDir's)", got, diffID)
	}
	want, err := LayerBlob(ctx, st, Layer{DiffID: diffID}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != want.Digest {
		t.Errorf("one-pass blob %s differs from the two-pass one %s: compression is not deterministic", desc.Digest, want.Digest)
	}
	if b, err := other.LayerBlob(got, nil); err != nil || b.Digest != desc.Digest {
		t.Errorf("CompressDir did not record the blob: %v %v", b, err)
	}
}

func mtime(t *testing.T, dir string) time.Time {
	fi, err := os.Stat(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

func TestLayerBlobMissing(t *testing.T) {
	st := openStore(t)
	gone := v1.Hash{Algorithm: "sha256", Hex: "5555555555555555555555555555555555555555555555555555555555555555"}
	if _, err := LayerBlob(context.Background(), st, Layer{DiffID: gone}, Options{}); err == nil {
		t.Error("a layer with neither snapshot nor blob was exported")
	}
}
