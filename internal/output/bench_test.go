package output

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

// benchImage puts the Debian golang fixture (about 200 MB of gzip) into a
// fresh store; b.SetBytes gets its compressed size.
func benchImage(b *testing.B) (*store.Store, v1.Descriptor) {
	b.Helper()
	img := testutil.DebianImage(b, "golang")
	st, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	desc, err := st.WriteImage(context.Background(), img)
	if err != nil {
		b.Fatal(err)
	}
	m, _ := img.Manifest()
	var n int64
	for _, l := range m.Layers {
		n += l.Size
	}
	b.SetBytes(n)
	return st, desc
}

// BenchmarkPush pushes to the in-process registry, a new repository each
// time, so every blob is uploaded.
func BenchmarkPush(b *testing.B) {
	st, desc := benchImage(b)
	host := testutil.Registry(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := Push(ctx, st, desc, fmt.Sprintf("%s/bench%d:1", host, i), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSaveLoad saves in docker format to a file and loads it into an
// empty store.
func BenchmarkSaveLoad(b *testing.B) {
	st, desc := benchImage(b)
	if err := st.Tag("bench:1", desc); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	file := filepath.Join(b.TempDir(), "bench.tar")
	for b.Loop() {
		f, err := os.Create(file)
		if err != nil {
			b.Fatal(err)
		}
		if err := Save(ctx, st, []string{"bench:1"}, f, FormatDocker); err != nil {
			b.Fatal(err)
		}
		f.Close()
		dst, err := store.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		f, _ = os.Open(file)
		if _, err := Load(ctx, dst, f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		dst.Close()
	}
}

// BenchmarkSave measures Save alone, to memory-free io.Discard.
func BenchmarkSave(b *testing.B) {
	st, desc := benchImage(b)
	if err := st.Tag("bench:1", desc); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if err := Save(ctx, st, []string{"bench:1"}, io.Discard, FormatDocker); err != nil {
			b.Fatal(err)
		}
	}
}
