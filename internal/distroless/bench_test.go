package distroless

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/whittle-build/whittle/internal/debian"
	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

// BenchmarkWarmBase measures `whittle base base` once the .debs are cached,
// in three situations:
//
//   - cached: a second build of the same recipe, as a user repeats it: the
//     InRelease files are fetched and verified, the resolution and every
//     layer come from the store's cache, the generated layer and the
//     manifest are made again;
//   - locked-layers: --locked --no-cache, nothing but the .debs cached: every
//     package is read, normalised, compressed and stored again (no network);
//   - resolve: --no-cache without a lock: the indexes (cached, verified by
//     hash) are parsed and the recipe resolved again, and every layer made.
//
// It needs the host's Debian mirror (the first, untimed build downloads).
func BenchmarkWarmBase(b *testing.B) {
	testutil.RequireNetwork(b, "the Debian mirror from the host's apt sources")
	if _, err := debian.Repositories(debian.RepositoryConfig{Dist: "bookworm"}); err != nil {
		b.Skipf("the host's apt sources do not configure bookworm: %v", err)
	}
	st, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	c, err := debian.New()
	if err != nil {
		b.Fatal(err)
	}
	s, _ := LookupSuite("bookworm")
	lock := filepath.Join(b.TempDir(), "base.lock")
	build := func(b *testing.B, o Options) {
		r, _ := Builtin("base", s)
		o.Client = c
		if _, err := Build(context.Background(), st, r, o); err != nil {
			b.Fatal(err)
		}
	}
	build(b, Options{LockFile: lock}) // downloads, fills the caches
	for _, bc := range []struct {
		name string
		o    Options
	}{
		{"cached", Options{}},
		{"locked-layers", Options{LockFile: lock, Locked: true, NoCache: true}},
		{"resolve", Options{NoCache: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				build(b, bc.o)
			}
		})
	}
	_ = os.Remove(lock)
}
