package output

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/whittle-build/whittle/internal/store"
)

// tarDir writes the files under dir as a tar.
func tarDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: "./" + rel, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	return buf.Bytes()
}

// TestLoadIndex: a multi-platform image whose every platform is in the
// archive is loaded whole (the name is the index; the host's image is the
// one run uses); when some platform's image is missing, the host's image
// alone is loaded under the name.
func TestLoadIndex(t *testing.T) {
	ctx := context.Background()
	host := testImage(t, "host")
	otherArch := "arm64"
	if runtime.GOARCH == "arm64" {
		otherArch = "amd64"
	}
	other := testImage(t, "other")
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	idx = mutate.AppendManifests(idx,
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: otherArch}}},
		mutate.IndexAddendum{Add: host, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	dir := t.TempDir()
	p, err := layout.Write(dir, mutate.IndexMediaType(empty.Index, types.OCIImageIndex))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{ContainerdNameAnnotation: "example.com/multi:1"})); err != nil {
		t.Fatal(err)
	}
	hostDigest, _ := host.Digest()
	load := func() (v1.Descriptor, *store.Store) {
		t.Helper()
		st := openStore(t)
		names, err := Load(ctx, st, bytes.NewReader(tarDir(t, dir)))
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 1 || names[0] != "example.com/multi:1" {
			t.Fatalf("names %v", names)
		}
		got, err := st.Lookup("example.com/multi:1")
		if err != nil {
			t.Fatal(err)
		}
		return got, st
	}

	got, st := load()
	if want, _ := idx.Digest(); got.Digest != want {
		t.Errorf("loaded %s, want the index %s", got.Digest, want)
	}
	if _, d, err := st.PlatformImage(got, nil); err != nil || d.Digest != hostDigest {
		t.Errorf("the host's image of the loaded index: %v (%v), want %s", d.Digest, err, hostDigest)
	}

	// Without the other platform's manifest in the archive: the host's image.
	otherDigest, _ := other.Digest()
	if err := os.Remove(filepath.Join(dir, "blobs", "sha256", otherDigest.Hex)); err != nil {
		t.Fatal(err)
	}
	if got, _ := load(); got.Digest != hostDigest {
		t.Errorf("loaded %s, want the %s image %s", got.Digest, runtime.GOARCH, hostDigest)
	}
}
