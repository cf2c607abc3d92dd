package remotecache

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/whittle-build/whittle/internal/export"
	"github.com/whittle-build/whittle/internal/solver"
	"github.com/whittle-build/whittle/internal/store"
)

// chain is a store holding a base image and the records of two steps
// built on it, as a build would leave them.
type chain struct {
	st   *store.Store
	base v1.Image
	// keys are the steps' keys, in order; built the diffIDs of their layers.
	keys  []v1.Hash
	built []v1.Hash
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func key(n int) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", n)}
}

// newChain makes a store with a one-layer base image and steps records
// (each adding one random layer).
func newChain(t *testing.T, steps int) *chain {
	t.Helper()
	st := openStore(t)
	base, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	writeBase(t, st, base)
	c := &chain{st: st, base: base}
	state := baseState(t, base)
	for i := 0; i < steps; i++ {
		l, err := random.Layer(2048, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		diffID, _ := l.DiffID()
		d, _ := l.Digest()
		size, _ := l.Size()
		rc, _ := l.Compressed()
		if _, _, err := st.WriteBlob(rc, d); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if err := st.AddLayerBlob(diffID, v1.Descriptor{MediaType: types.OCILayer, Size: size, Digest: d}); err != nil {
			t.Fatal(err)
		}
		k := key(100 + i)
		next := *state
		next.Key = k
		next.Layers = append(append([]export.Layer(nil), state.Layers...), export.Layer{DiffID: diffID})
		next.Config.History = append(append([]v1.History(nil), state.Config.History...), v1.History{CreatedBy: fmt.Sprintf("RUN step %d", i)})
		putRecord(t, st, &next)
		c.keys = append(c.keys, k)
		c.built = append(c.built, diffID)
		state = &next
	}
	return c
}

func writeBase(t *testing.T, st *store.Store, img v1.Image) {
	t.Helper()
	if _, err := st.WriteImage(context.Background(), img); err != nil {
		t.Fatal(err)
	}
}

func baseState(t *testing.T, img v1.Image) *solver.State {
	t.Helper()
	m, _ := img.Manifest()
	cfg, _ := img.ConfigFile()
	d, _ := img.Digest()
	s := &solver.State{Key: key(1), Config: *cfg, Base: &solver.BaseInfo{Name: "base", Digest: d, Layers: len(m.Layers)}}
	for i, l := range m.Layers {
		desc := l
		s.Layers = append(s.Layers, export.Layer{DiffID: cfg.RootFS.DiffIDs[i], Blob: &desc})
	}
	return s
}

func putRecord(t *testing.T, st *store.Store, s *solver.State) {
	t.Helper()
	rec := &store.CacheRecord{}
	for _, l := range s.Layers {
		rec.Layers = append(rec.Layers, l.DiffID)
	}
	var err error
	if rec.Value, err = json.Marshal(s); err != nil {
		t.Fatal(err)
	}
	if err := st.PutCache(s.Key, rec); err != nil {
		t.Fatal(err)
	}
}

// emptyWithBase is a new store holding only img.
func emptyWithBase(t *testing.T, img v1.Image) *store.Store {
	t.Helper()
	st := openStore(t)
	writeBase(t, st, img)
	return st
}

// readManifest returns the cache manifest in layout dir and its config.
func readManifest(t *testing.T, dir string) (*v1.Manifest, *Config) {
	t.Helper()
	l := &layoutLocation{dir: dir, tag: DefaultTag}
	raw, err := l.manifest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", m.Config.Digest.Hex))
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return m, &c
}

// rewrite replaces the cache in layout dir by the manifest and config that
// edit makes of the current ones, as someone with write access could.
func rewrite(t *testing.T, dir string, edit func(*v1.Manifest, *Config)) {
	t.Helper()
	ctx := context.Background()
	m, c := readManifest(t, dir)
	edit(m, c)
	l := &layoutLocation{dir: dir, tag: DefaultTag}
	cb, _ := json.Marshal(c)
	m.Config.Digest, m.Config.Size = digest(cb), int64(len(cb))
	if err := l.writeFile(ctx, l.blobPath(m.Config.Digest), bytesReader(cb), v1.Hash{}); err != nil {
		t.Fatal(err)
	}
	mb, _ := json.Marshal(m)
	if err := l.putManifest(ctx, mb, types.OCIManifestSchema1); err != nil {
		t.Fatal(err)
	}
}
