package remotecache

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/whittle-build/whittle/internal/store"
)

// writeTree makes files under dir: name → content; a name ending in "/"
// is a directory.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// tree lists dir: relative path → mode and content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		out[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mountID is the store's name of the cache mount with identity key.
func mountID(st *store.Store, key string) string {
	return filepath.Base(st.CacheMountDir(key))
}

func TestMountsRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := newChain(t, 1)
	aptID, goID := mountID(c.st, "apt"), mountID(c.st, "go-mod")
	apt := filepath.Join(mountsDir(c.st), aptID)
	gomod := filepath.Join(mountsDir(c.st), goID)
	// A private instance (per-machine) stays out.
	writeTree(t, gomod+".1", map[string]string{"x": "private"})
	writeTree(t, apt, map[string]string{"archives/a.deb": "deb bytes", "archives/partial/": "", "lock": ""})
	writeTree(t, gomod, map[string]string{"cache/download/x/@v/v1.zip": strings.Repeat("z", 100000)})
	if err := os.Chmod(apt, 0o2775); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sum, err := Write(ctx, c.st, c.keys, Spec{Type: TypeLocal, Dir: dir, Mounts: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Mounts != 2 {
		t.Errorf("exported %d mounts, want 2", sum.Mounts)
	}
	// Without mounts=true, none.
	if sum, err := Write(ctx, c.st, c.keys, Spec{Type: TypeLocal, Dir: t.TempDir()}, Options{}); err != nil || sum.Mounts != 0 {
		t.Errorf("export without mounts=true: %+v, %v", sum, err)
	}

	st := emptyWithBase(t, c.base)
	// A mount the store has already is kept as it is.
	writeTree(t, filepath.Join(mountsDir(st), goID), map[string]string{"local": "newer"})
	src, err := Open(ctx, st, Spec{Type: TypeLocal, Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := src.RestoreMounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != aptID {
		t.Errorf("restored %v, want [%s]", ids, aptID)
	}
	want, got := tree(t, apt), tree(t, filepath.Join(mountsDir(st), aptID))
	if len(got) != len(want) {
		t.Errorf("restored tree %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("restored %s = %q, want %q", k, got[k], v)
		}
	}
	if g := tree(t, filepath.Join(mountsDir(st), goID)); len(g) != 2 || g["local"] == "" {
		t.Errorf("the store's own go-mod mount was replaced: %v", g)
	}
}

func TestTamperedMountRefused(t *testing.T) {
	ctx := context.Background()
	c := newChain(t, 1)
	id := mountID(c.st, "apt")
	writeTree(t, filepath.Join(mountsDir(c.st), id), map[string]string{"a": strings.Repeat("a", 5000)})
	dir := t.TempDir()
	if _, err := Write(ctx, c.st, c.keys, Spec{Type: TypeLocal, Dir: dir, Mounts: true}, Options{}); err != nil {
		t.Fatal(err)
	}
	m, _ := readManifest(t, dir)
	var blob v1.Descriptor
	for _, d := range m.Layers {
		if d.Annotations[AnnotationMount] == id {
			blob = d
		}
	}
	p := filepath.Join(dir, "blobs", "sha256", blob.Digest.Hex)
	b, _ := os.ReadFile(p)
	b[len(b)-5] ^= 0x80 // in the zstd frame's checksum or data: either way the digest changes
	os.WriteFile(p, b, 0o644)
	st := emptyWithBase(t, c.base)
	src, err := Open(ctx, st, Spec{Type: TypeLocal, Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.RestoreMounts(ctx); err == nil {
		t.Fatal("a tampered mount was restored")
	}
	if _, err := os.Lstat(filepath.Join(mountsDir(st), id)); err == nil {
		t.Error("the tampered mount is in the store")
	}
}

func TestHostileMountIDRefused(t *testing.T) {
	hex := strings.Repeat("0a", 32)
	for _, id := range []string{"../../etc", "a/b", "..", ".", "", ".hidden", "x\x00", "apt", hex + ".1", hex[:63] + "/", strings.ToUpper(hex), "../" + hex[3:]} {
		if checkMountID(id) == nil {
			t.Errorf("mount id %q accepted", id)
		}
	}
	for _, id := range []string{hex, mountID(openStore(t), "/root/.cache/go-build")} {
		if err := checkMountID(id); err != nil {
			t.Errorf("mount id %q refused: %v", id, err)
		}
	}
	ctx := context.Background()
	c := newChain(t, 1)
	writeTree(t, filepath.Join(mountsDir(c.st), mountID(c.st, "apt")), map[string]string{"a": "a"})
	dir := t.TempDir()
	if _, err := Write(ctx, c.st, c.keys, Spec{Type: TypeLocal, Dir: dir, Mounts: true}, Options{}); err != nil {
		t.Fatal(err)
	}
	rewrite(t, dir, func(m *v1.Manifest, cfg *Config) {
		escape := "../" + cfg.Mounts[0].ID[3:]
		cfg.Mounts[0].ID = escape
		for i := range m.Layers {
			if m.Layers[i].Annotations[AnnotationMount] != "" {
				m.Layers[i].Annotations[AnnotationMount] = escape
			}
		}
	})
	if _, err := Open(ctx, openStore(t), Spec{Type: TypeLocal, Dir: dir}, Options{}); err == nil {
		t.Error("a cache with a mount id climbing out of mounts/ opened")
	}
}

// TestRestoreSkipsMountInUse: a mount whose lock another build holds is
// left alone, even when its directory is not there yet.
func TestRestoreSkipsMountInUse(t *testing.T) {
	ctx := context.Background()
	c := newChain(t, 1)
	id := mountID(c.st, "apt")
	writeTree(t, filepath.Join(mountsDir(c.st), id), map[string]string{"a": "a"})
	dir := t.TempDir()
	if _, err := Write(ctx, c.st, c.keys, Spec{Type: TypeLocal, Dir: dir, Mounts: true}, Options{}); err != nil {
		t.Fatal(err)
	}
	st := emptyWithBase(t, c.base)
	held, err := lockMount(ctx, st, id, unix.LOCK_SH, false)
	if err != nil || held == nil {
		t.Fatalf("taking the lock: %v", err)
	}
	src, err := Open(ctx, st, Spec{Type: TypeLocal, Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := src.RestoreMounts(ctx); err != nil || len(ids) != 0 {
		t.Errorf("restored %v, %v while the mount was in use", ids, err)
	}
	held.Close()
	if ids, err := src.RestoreMounts(ctx); err != nil || len(ids) != 1 {
		t.Errorf("restored %v, %v once free, want it", ids, err)
	}
}
