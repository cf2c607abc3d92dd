package resolve

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

// BenchmarkPull pulls the Debian golang fixture (about 200 MB of gzip)
// from the in-process registry into an empty store.
func BenchmarkPull(b *testing.B) {
	img := testutil.DebianImage(b, "golang")
	host := testutil.Registry(b)
	ref, err := name.ParseReference(host + "/golang:bench")
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		b.Fatal(err)
	}
	m, _ := img.Manifest()
	var n int64
	for _, l := range m.Layers {
		n += l.Size
	}
	b.SetBytes(n)
	ctx := context.Background()
	for b.Loop() {
		st, err := store.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := New(Options{Store: st}).Image(ctx, ref.String()); err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
}

// BenchmarkImportLayout resolves oci-layout:// of the Debian golang fixture
// into a store that has its blobs already: what every build using it as a
// base does.
func BenchmarkImportLayout(b *testing.B) {
	img := testutil.DebianImage(b, "golang")
	dir := b.TempDir()
	testutil.WriteOCILayout(b, img, dir, "golang")
	st, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for b.Loop() {
		if _, err := New(Options{Store: st}).Image(ctx, "oci-layout://"+dir+":golang"); err != nil {
			b.Fatal(err)
		}
	}
}
