package remotecache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/whittle-build/whittle/internal/solver"
	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// roundTrip exports c's records to spec and imports every key into a new
// store holding only the base image; it returns that store.
func roundTrip(t *testing.T, c *chain, to, from Spec) *store.Store {
	t.Helper()
	ctx := context.Background()
	sum, err := Write(ctx, c.st, c.keys, to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != len(c.keys) || sum.Layers != len(c.built) || len(sum.Skipped) != 0 {
		t.Errorf("export summary %+v, want %d records and %d layers", sum, len(c.keys), len(c.built))
	}
	st := emptyWithBase(t, c.base)
	src, err := Open(ctx, st, from, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range c.keys {
		if _, err := st.Cache(k); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the empty store has record %s before the import: %v", k, err)
		}
		if err := src.Import(ctx, k); err != nil {
			t.Fatalf("importing %s: %v", k, err)
		}
		if _, err := st.Cache(k); err != nil {
			t.Errorf("record %s after the import: %v", k, err)
		}
	}
	for _, d := range c.built {
		if _, err := st.LayerBlob(d, nil); err != nil {
			t.Errorf("layer %s after the import: %v", d, err)
		}
	}
	return st
}

func TestRoundTrip(t *testing.T) {
	c := newChain(t, 3)
	t.Run("local", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "cache")
		roundTrip(t, c, Spec{Type: TypeLocal, Dir: dir}, Spec{Type: TypeLocal, Dir: dir})
		// Base image layers stay out: a build resolves its bases itself.
		m, cfg := readManifest(t, dir)
		if len(m.Layers) != len(c.built) {
			t.Errorf("the manifest has %d layers, want the %d built ones", len(m.Layers), len(c.built))
		}
		if m.ArtifactType != ArtifactType || m.Config.MediaType != ConfigMediaType {
			t.Errorf("artifactType %q, config %q", m.ArtifactType, m.Config.MediaType)
		}
		if len(cfg.Records) != len(c.keys) {
			t.Errorf("%d records in the config, want %d", len(cfg.Records), len(c.keys))
		}
	})
	t.Run("registry", func(t *testing.T) {
		ref := testutil.Registry(t) + "/app/cache:main"
		roundTrip(t, c, Spec{Type: TypeRegistry, Ref: ref}, Spec{Type: TypeRegistry, Ref: ref})
	})
	t.Run("docker-registry", func(t *testing.T) {
		ref := testutil.LocalRegistry(t) + "/whittle-test/remotecache-" + strings.ToLower(randomTag(t)) + ":cache"
		roundTrip(t, c, Spec{Type: TypeRegistry, Ref: ref}, Spec{Type: TypeRegistry, Ref: ref})
	})
}

func randomTag(t *testing.T) string {
	d, err := random.Layer(8, "")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := d.Digest()
	return h.Hex[:16]
}

func TestExportIsReproducible(t *testing.T) {
	c := newChain(t, 2)
	ctx := context.Background()
	var digests []v1.Hash
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		// Keys in another order and repeated give the same artifact.
		keys := c.keys
		if i == 1 {
			keys = []v1.Hash{c.keys[1], c.keys[0], c.keys[1]}
		}
		sum, err := Write(ctx, c.st, keys, Spec{Type: TypeLocal, Dir: dir}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, sum.Manifest.Digest)
	}
	if digests[0] != digests[1] {
		t.Errorf("two exports of one cache: manifests %s and %s", digests[0], digests[1])
	}
}

func TestNoCacheYet(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	for _, spec := range []Spec{
		{Type: TypeLocal, Dir: filepath.Join(t.TempDir(), "none")},
		{Type: TypeRegistry, Ref: testutil.Registry(t) + "/app/cache:none"},
	} {
		if _, err := Open(ctx, st, spec, Options{}); !errors.Is(err, ErrNoCache) {
			t.Errorf("Open(%s) error = %v, want ErrNoCache", spec, err)
		}
	}
	// A build with such a --cache-from goes on: OpenAll only warns.
	srcs, err := OpenAll(ctx, st, []Spec{{Type: TypeLocal, Dir: t.TempDir()}}, Options{})
	if err != nil || len(srcs) != 0 {
		t.Errorf("OpenAll = %v, %v", srcs, err)
	}
	if err := srcs.Import(ctx, key(1)); !errors.Is(err, ErrNoRecord) {
		t.Errorf("Import from no source: %v", err)
	}
}

func TestNotACache(t *testing.T) {
	ctx := context.Background()
	reg := testutil.Registry(t)
	img, _ := random.Image(100, 1)
	ref, _ := name.ParseReference(reg+"/app:1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, openStore(t), Spec{Type: TypeRegistry, Ref: ref.String()}, Options{})
	if !errors.Is(err, ErrNotCache) {
		t.Errorf("Open of an image = %v, want ErrNotCache", err)
	}
}

func TestKeys(t *testing.T) {
	k := func(n int) v1.Hash { return key(n) }
	res := &solver.Result{Keys: map[int][]v1.Hash{
		0: {k(1), k(2)},       // a builder
		1: {k(1), k(3)},       // another stage sharing a step
		2: {k(1), k(3), k(4)}, // the target, FROM stage 1
	}}
	if got := Keys(res, 2, ModeMin); !equal(got, []v1.Hash{k(1), k(3), k(4)}) {
		t.Errorf("min = %v", got)
	}
	if got := Keys(res, 2, ModeMax); !equal(got, []v1.Hash{k(1), k(2), k(3), k(4)}) {
		t.Errorf("max = %v", got)
	}
}

func equal(a, b []v1.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTamperedLayerRefused changes the bytes of a layer blob in a local
// cache: the import refuses it and records nothing.
func TestTamperedLayerRefused(t *testing.T) {
	ctx := context.Background()
	c := newChain(t, 2)
	dir := t.TempDir()
	if _, err := Write(ctx, c.st, c.keys, Spec{Type: TypeLocal, Dir: dir}, Options{}); err != nil {
		t.Fatal(err)
	}
	blob, err := c.st.LayerBlob(c.built[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "blobs", "sha256", blob.Digest.Hex)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	st := emptyWithBase(t, c.base)
	src, err := Open(ctx, st, Spec{Type: TypeLocal, Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Import(ctx, c.keys[0]); err != nil {
		t.Fatalf("the untouched record: %v", err)
	}
	err = src.Import(ctx, c.keys[1])
	if err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("importing the record of a tampered layer: %v, want a digest error", err)
	}
	if _, err := st.Cache(c.keys[1]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the record of a tampered layer was stored: %v", err)
	}
	if _, err := st.LayerBlob(c.built[1], nil); err == nil {
		t.Error("the tampered layer was recorded")
	}
	if st.HasBlob(blob.Digest) {
		t.Error("the tampered blob was stored")
	}
}

// TestWrongDiffIDRefused maps a layer's diffID to another, genuine blob:
// the digest checks out, the content does not.
func TestWrongDiffIDRefused(t *testing.T) {
	ctx := context.Background()
	c := newChain(t, 2)
	dir := t.TempDir()
	if _, err := Write(ctx, c.st, c.keys, Spec{Type: TypeLocal, Dir: dir}, Options{}); err != nil {
		t.Fatal(err)
	}
	rewrite(t, dir, func(m *v1.Manifest, _ *Config) {
		a, b := m.Layers[0].Annotations[AnnotationDiffID], m.Layers[1].Annotations[AnnotationDiffID]
		m.Layers[0].Annotations[AnnotationDiffID], m.Layers[1].Annotations[AnnotationDiffID] = b, a
	})
	st := emptyWithBase(t, c.base)
	src, err := Open(ctx, st, Spec{Type: TypeLocal, Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range c.keys {
		err := src.Import(ctx, k)
		if err == nil || !strings.Contains(err.Error(), "tampered") {
			t.Errorf("importing %s with swapped layers: %v, want a tampering error", k, err)
		}
		if _, err := st.Cache(k); err == nil {
			t.Errorf("record %s was stored", k)
		}
	}
	for _, d := range c.built {
		if _, err := st.LayerBlob(d, nil); err == nil {
			t.Errorf("layer %s was recorded with the wrong blob", d)
		}
	}
}

// TestInconsistentRecordRefused: a record whose value names other layers
// than the record itself is refused.
func TestInconsistentRecordRefused(t *testing.T) {
	ctx := context.Background()
	c := newChain(t, 2)
	dir := t.TempDir()
	if _, err := Write(ctx, c.st, c.keys, Spec{Type: TypeLocal, Dir: dir}, Options{}); err != nil {
		t.Fatal(err)
	}
	rewrite(t, dir, func(_ *v1.Manifest, cfg *Config) {
		for i := range cfg.Records {
			if cfg.Records[i].Key == c.keys[1] {
				cfg.Records[i].Layers = cfg.Records[i].Layers[:1]
			}
		}
	})
	st := emptyWithBase(t, c.base)
	src, err := Open(ctx, st, Spec{Type: TypeLocal, Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Import(ctx, c.keys[1]); err == nil {
		t.Error("an inconsistent record was imported")
	}
}

// TestCorruptingRegistry serves one layer blob with a flipped byte: the
// import refuses it, and the other records still import.
func TestCorruptingRegistry(t *testing.T) {
	ctx := context.Background()
	c := newChain(t, 2)
	bad, err := c.st.LayerBlob(c.built[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	regh := ggcrregistry.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+bad.Digest.String()) {
			rec := httptest.NewRecorder()
			regh.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if len(body) > 0 {
				body[len(body)/2] ^= 0x01
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
			return
		}
		regh.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/app/cache:main"
	spec := Spec{Type: TypeRegistry, Ref: ref}
	if _, err := Write(ctx, c.st, c.keys, spec, Options{}); err != nil {
		t.Fatal(err)
	}
	st := emptyWithBase(t, c.base)
	src, err := Open(ctx, st, spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Import(ctx, c.keys[0]); err != nil {
		t.Fatalf("the untouched record: %v", err)
	}
	if err := src.Import(ctx, c.keys[1]); err == nil {
		t.Fatal("a corrupted blob was accepted")
	}
	if _, err := st.Cache(c.keys[1]); err == nil {
		t.Error("the record of a corrupted layer was stored")
	}
	if st.HasBlob(bad.Digest) {
		t.Error("the corrupted blob was stored")
	}
}

// TestBaseLayersAdopted: a store whose base image was copied in without
// layer records (skopeo copy into the layout) still takes the records.
func TestBaseLayersAdopted(t *testing.T) {
	ctx := context.Background()
	c := newChain(t, 1)
	dir := t.TempDir()
	if _, err := Write(ctx, c.st, c.keys, Spec{Type: TypeLocal, Dir: dir}, Options{}); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	// The image's blobs, but no layers/ records, as another tool leaves them.
	m, _ := c.base.Manifest()
	layers, _ := c.base.Layers()
	for _, l := range layers {
		rc, _ := l.Compressed()
		d, _ := l.Digest()
		if _, _, err := st.WriteBlob(rc, d); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	cfg, _ := c.base.RawConfigFile()
	raw, _ := c.base.RawManifest()
	st.WriteBlobBytes(cfg)
	st.WriteBlobBytes(raw)
	diffID := func() v1.Hash { cf, _ := c.base.ConfigFile(); return cf.RootFS.DiffIDs[0] }()
	if _, err := st.LayerBlob(diffID, nil); err == nil {
		t.Fatal("the fixture recorded the base layer")
	}
	src, err := Open(ctx, st, Spec{Type: TypeLocal, Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Import(ctx, c.keys[0]); err != nil {
		t.Fatal(err)
	}
	got, err := st.LayerBlob(diffID, nil)
	if err != nil || got.Digest != m.Layers[0].Digest {
		t.Errorf("base layer %s = %v, %v; want the image's blob %s", diffID, got.Digest, err, m.Layers[0].Digest)
	}
}
