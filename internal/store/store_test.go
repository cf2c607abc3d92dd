package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestNormalizeName(t *testing.T) {
	tests := map[string]string{
		"alpine":                            "alpine:latest",
		"alpine:3.19":                       "alpine:3.19",
		"docker.io/library/alpine":          "alpine:latest",
		"index.docker.io/library/alpine":    "alpine:latest",
		"docker.io/user/app:v1":             "user/app:v1",
		"127.0.0.1:5000/x/y":                "127.0.0.1:5000/x/y:latest",
		"gcr.io/distroless/static-debian12": "gcr.io/distroless/static-debian12:latest",
		"app@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	}
	for in, want := range tests {
		got, err := NormalizeName(in)
		if err != nil || got != want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizeName("UPPER/case"); err == nil {
		t.Error("NormalizeName accepted an invalid name")
	}
}

func TestWriteBlobVerifies(t *testing.T) {
	s := open(t)
	h, n, err := s.WriteBlob(bytes.NewReader([]byte("hello")), v1.Hash{})
	if err != nil || n != 5 {
		t.Fatal(err, n)
	}
	if !s.HasBlob(h) {
		t.Fatal("blob missing")
	}
	wrong := v1.Hash{Algorithm: "sha256", Hex: "0000000000000000000000000000000000000000000000000000000000000000"}
	if _, _, err := s.WriteBlob(bytes.NewReader([]byte("other")), wrong); err == nil {
		t.Fatal("a blob with the wrong digest was accepted")
	}
	if s.HasBlob(wrong) {
		t.Fatal("a blob with the wrong digest was stored")
	}
	// A reader that fails: the error is the reader's, named once, and
	// nothing is stored.
	failing := io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(syscall.ENOSPC))
	if _, _, err := s.WriteBlob(failing, v1.Hash{}); !errors.Is(err, syscall.ENOSPC) || err.Error() != "writing blob: no space left on device" {
		t.Errorf("WriteBlob of a failing reader: %v", err)
	}
	// Nothing is left in staging.
	entries, _ := os.ReadDir(s.session)
	if len(entries) != 0 {
		t.Errorf("staging holds %d leftovers", len(entries))
	}
}

func TestImageRoundTripAndNames(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	img, err := random.Image(1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := s.WriteImage(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if desc.Digest != want {
		t.Fatalf("stored digest %s, want %s", desc.Digest, want)
	}
	if err := s.Tag("app", desc); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("docker.io/library/app:v2", desc); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"app", "app:latest", "app:v2", want.String(), want.Hex[:12]} {
		d, err := s.Lookup(ref)
		if err != nil || d.Digest != want {
			t.Errorf("Lookup(%q) = %v, %v", ref, d.Digest, err)
		}
	}
	if _, err := s.Lookup("other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup(other) error = %v, want ErrNotFound", err)
	}
	got, err := s.Image(desc)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("image read back is invalid: %v", err)
	}
	// Layers are recorded by diffID.
	layers, _ := img.Layers()
	for _, l := range layers {
		diffID, _ := l.DiffID()
		d, _ := l.Digest()
		b, err := s.LayerBlob(diffID, nil)
		if err != nil || b.Digest != d {
			t.Errorf("LayerBlob(%s) = %v, %v", diffID, b.Digest, err)
		}
	}
	names, _ := s.List()
	if len(names) != 2 || names[0].Name != "app:latest" || names[1].Name != "app:v2" {
		t.Errorf("List = %+v", names)
	}
	if err := s.Untag("app:v2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Untag("app:v2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Untag error = %v", err)
	}
}

func TestConcurrentTags(t *testing.T) {
	s := open(t)
	img, _ := random.Image(10, 1)
	desc, err := s.WriteImage(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	// Two Store handles on one root, as two processes would have.
	s2, err := Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st := s
			if i%2 == 1 {
				st = s2
			}
			if err := st.Tag("img:"+string(rune('a'+i)), desc); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	names, _ := s.List()
	if len(names) != 20 {
		t.Errorf("%d names after 20 concurrent tags", len(names))
	}
}

func TestSweepStaging(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := s.TempDir("x-")
	os.WriteFile(filepath.Join(dir, "junk"), []byte("x"), 0o600)
	session := s.session
	// Simulate a dead process: drop the lock without cleaning.
	s.sessionLock.Close()
	s.sessionLock = nil
	s.session = ""
	s.gcLock.Close()

	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := os.Stat(session); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale staging %s was not swept: %v", session, err)
	}
}

func TestCacheRecords(t *testing.T) {
	s := open(t)
	key := v1.Hash{Algorithm: "sha256", Hex: "1111111111111111111111111111111111111111111111111111111111111111"}
	if _, err := s.Cache(key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing record: %v", err)
	}
	if err := s.PutCache(key, &CacheRecord{Value: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Cache(key)
	if err != nil || string(rec.Value) != `{"a":1}` {
		t.Fatalf("record = %+v, %v", rec, err)
	}
	// A record naming a layer the store cannot produce is a miss.
	gone := v1.Hash{Algorithm: "sha256", Hex: "2222222222222222222222222222222222222222222222222222222222222222"}
	s.PutCache(key, &CacheRecord{Layers: []v1.Hash{gone}, Value: []byte(`{}`)})
	if _, err := s.Cache(key); !errors.Is(err, ErrNotFound) {
		t.Errorf("record with a missing layer: %v", err)
	}
	// A damaged record is a miss.
	os.WriteFile(s.cachePath(key), []byte("{trunc"), 0o644)
	if _, err := s.Cache(key); !errors.Is(err, ErrNotFound) {
		t.Errorf("damaged record: %v", err)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	keep, _ := random.Image(100, 2)
	drop, _ := random.Image(100, 2)
	kd, _ := s.WriteImage(ctx, keep)
	dd, _ := s.WriteImage(ctx, drop)
	s.Tag("keep", kd)
	s.Tag("drop", dd)
	s.Untag("drop")
	// A cached layer survives without an image.
	cached, _ := random.Layer(100, "application/vnd.oci.image.layer.v1.tar+gzip")
	diffID, _ := cached.DiffID()
	snap, _ := s.TempDir("snap-")
	os.WriteFile(filepath.Join(snap, "f"), []byte("x"), 0o644)
	s.CommitSnapshot(diffID, snap)
	key := v1.Hash{Algorithm: "sha256", Hex: "3333333333333333333333333333333333333333333333333333333333333333"}
	s.PutCache(key, &CacheRecord{Layers: []v1.Hash{diffID}, Value: []byte(`{}`)})

	rep, err := s.Prune(ctx, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Blobs != 4 { // 2 layers, config, manifest of the untagged image
		t.Errorf("pruned %d blobs, want 4", rep.Blobs)
	}
	if got, err := s.Image(kd); err != nil || validate.Image(got) != nil {
		t.Errorf("the named image was damaged by prune: %v", err)
	}
	if !s.HasSnapshot(diffID) {
		t.Error("a snapshot the cache needs was pruned")
	}
	if _, err := s.Prune(ctx, PruneOptions{Cache: true}); err != nil {
		t.Fatal(err)
	}
	if s.HasSnapshot(diffID) {
		t.Error("prune --cache kept a snapshot only the cache needed")
	}
	if _, err := s.Cache(key); !errors.Is(err, ErrNotFound) {
		t.Error("prune --cache kept the cache record")
	}
}

// TestPruneUnusedFor: --filter unused-for drops the records no build used
// for that long, and the snapshots only they kept; a record a build found
// (Cache) counts as used then, whatever its age.
func TestPruneUnusedFor(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	snapshot := func(content string) v1.Hash {
		l, _ := random.Layer(100, "application/vnd.oci.image.layer.v1.tar")
		d, _ := l.DiffID()
		dir, _ := s.TempDir("snap-")
		os.WriteFile(filepath.Join(dir, "f"), []byte(content), 0o644)
		if err := s.CommitSnapshot(d, dir); err != nil {
			t.Fatal(err)
		}
		return d
	}
	key := func(c string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(c, 64)} }
	old, used, recent := snapshot("old"), snapshot("used"), snapshot("recent")
	s.PutCache(key("a"), &CacheRecord{Layers: []v1.Hash{old}, Value: []byte(`{}`)})
	s.PutCache(key("b"), &CacheRecord{Layers: []v1.Hash{used}, Value: []byte(`{}`)})
	s.PutCache(key("c"), &CacheRecord{Layers: []v1.Hash{recent}, Value: []byte(`{}`)})
	long := time.Now().Add(-48 * time.Hour)
	os.Chtimes(s.cachePath(key("a")), long, long)
	os.Chtimes(s.cachePath(key("b")), long, long)
	if _, err := s.Cache(key("b")); err != nil { // a build finds it now
		t.Fatal(err)
	}
	rep, err := s.Prune(ctx, PruneOptions{UnusedFor: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if rep.CacheRecords != 1 || rep.Snapshots != 1 {
		t.Errorf("pruned %d records, %d snapshots; want 1 and 1", rep.CacheRecords, rep.Snapshots)
	}
	if s.HasSnapshot(old) || !s.HasSnapshot(used) || !s.HasSnapshot(recent) {
		t.Errorf("snapshots left: old %v, used %v, recent %v; want only used and recent", s.HasSnapshot(old), s.HasSnapshot(used), s.HasSnapshot(recent))
	}
	for _, c := range []string{"b", "c"} {
		if _, err := s.Cache(key(c)); err != nil {
			t.Errorf("record %s: %v", c, err)
		}
	}
}

// TestPruneKeepStorage: --keep-storage drops the least recently used cache
// records, and what only they kept, until images and the rest fit; named
// images stay whatever their size.
func TestPruneKeepStorage(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	img, _ := random.Image(50_000, 1)
	d, _ := s.WriteImage(ctx, img)
	s.Tag("keep", d)
	pinned := int64(0)
	m, _ := img.Manifest()
	pinned += m.Config.Size + m.Layers[0].Size
	raw, _ := img.RawManifest()
	pinned += int64(len(raw))

	snapshot := func(c byte) v1.Hash {
		h := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(string(c), 64)}
		dir, _ := s.TempDir("snap-")
		os.WriteFile(filepath.Join(dir, "f"), bytes.Repeat([]byte{c}, 100_000), 0o644)
		if err := s.CommitSnapshot(h, dir); err != nil {
			t.Fatal(err)
		}
		return h
	}
	now := time.Now()
	var keys, snaps []v1.Hash
	for i, c := range []byte{'a', 'b', 'c'} {
		snap := snapshot(c)
		key := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(string('d'+c-'a'), 64)}
		s.PutCache(key, &CacheRecord{Layers: []v1.Hash{snap}, Value: []byte(`{}`)})
		at := now.Add(time.Duration(i-3) * time.Hour) // a oldest, c newest
		os.Chtimes(s.cachePath(key), at, at)
		keys, snaps = append(keys, key), append(snaps, snap)
	}
	// Everything fits: nothing goes.
	rep, err := s.Prune(ctx, PruneOptions{KeepStorage: pinned + 300_000})
	if err != nil || rep.CacheRecords != 0 || rep.Snapshots != 0 {
		t.Fatalf("prune with room for all: %+v, %v", rep, err)
	}
	// Room for two snapshots: the oldest record and its snapshot go.
	rep, err = s.Prune(ctx, PruneOptions{KeepStorage: pinned + 250_000})
	if err != nil || rep.CacheRecords != 1 || rep.Snapshots != 1 {
		t.Fatalf("prune with room for two: %+v, %v", rep, err)
	}
	if s.HasSnapshot(snaps[0]) || !s.HasSnapshot(snaps[1]) || !s.HasSnapshot(snaps[2]) {
		t.Errorf("snapshots left: %v %v %v; want the two newest", s.HasSnapshot(snaps[0]), s.HasSnapshot(snaps[1]), s.HasSnapshot(snaps[2]))
	}
	// Room for nothing but the image: every record goes, the image stays.
	if _, err := s.Prune(ctx, PruneOptions{KeepStorage: 1}); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if _, err := s.Cache(k); err == nil {
			t.Errorf("record %d survived a limit below the image's size", i)
		}
	}
	if got, err := s.Image(d); err != nil || validate.Image(got) != nil {
		t.Errorf("the named image was damaged: %v", err)
	}
}

func TestUnpackVerifiesDiffID(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	l, _ := random.Layer(200, "application/vnd.oci.image.layer.v1.tar")
	diffID, _ := l.DiffID()
	p, err := s.Unpack(ctx, diffID, l.Uncompressed)
	if err != nil {
		t.Fatal(err)
	}
	if p != s.SnapshotPath(diffID) || !s.HasSnapshot(diffID) {
		t.Fatal("snapshot missing after unpack")
	}
	other, _ := random.Layer(200, "application/vnd.oci.image.layer.v1.tar")
	bad := v1.Hash{Algorithm: "sha256", Hex: "4444444444444444444444444444444444444444444444444444444444444444"}
	if _, err := s.Unpack(ctx, bad, other.Uncompressed); err == nil {
		t.Fatal("a layer whose content does not match its diffID was unpacked")
	}
	if s.HasSnapshot(bad) {
		t.Fatal("a tampered layer became a snapshot")
	}
}

func TestCacheMountDir(t *testing.T) {
	s := open(t)
	a, b := s.CacheMountDir("/root/.cache"), s.CacheMountDir("/root/.cache")
	if a != b {
		t.Fatalf("one key, two directories: %s, %s", a, b)
	}
	if filepath.Dir(a) != filepath.Join(s.Root(), "mounts") {
		t.Errorf("%s is not under mounts/", a)
	}
	if c := s.CacheMountDir("../../etc"); filepath.Dir(c) != filepath.Join(s.Root(), "mounts") {
		t.Errorf("key with path elements escapes mounts/: %s", c)
	}
	if s.CacheMountDir("a") == s.CacheMountDir("b") {
		t.Error("two keys share a directory")
	}
}
