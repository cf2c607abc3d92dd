package debian

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testClient returns a client with a fresh cache, the fixed test clock and
// fast retries.
func testClient(t testing.TB, opts ...Option) *Client {
	t.Helper()
	base := []Option{WithCacheDir(t.TempDir()), WithClock(func() time.Time { return testNow }), withBackoff(time.Millisecond)}
	c, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// twoDebs are the packages of most archive tests.
func twoDebs() []testDeb {
	return []testDeb{
		{Name: "hello", Version: "1.0-1", Arch: "amd64", Extra: "Depends: libgreet (>= 2)\n", Files: map[string]string{"/usr/bin/hello": "#!hello\n"}, ControlExt: ".xz", DataExt: ".xz"},
		{Name: "libgreet", Version: "2.1-1", Arch: "amd64", Files: map[string]string{"/usr/lib/libgreet.so.2": "ELF..."}, ControlExt: ".gz", DataExt: ".zst"},
	}
}

func TestArchiveGoodSignatureEndToEnd(t *testing.T) {
	fa := newFakeArchive(t, "testing", "amd64", twoDebs()...)
	c := testClient(t)
	ctx := context.Background()

	ix, err := c.Index(ctx, []Repository{fa.repo()}, "amd64")
	if err != nil {
		t.Fatalf("Index: %v", err)
	}
	if len(ix.Sources) != 1 || ix.Sources[0].Path != "main/binary-amd64/Packages.gz" {
		t.Fatalf("sources = %+v", ix.Sources)
	}
	res, err := ix.Resolve([]string{"hello"}, ResolveOptions{})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got := names(res.Packages); got != "hello libgreet" {
		t.Fatalf("closure = %q", got)
	}
	paths, err := c.FetchAll(ctx, res.Packages)
	if err != nil {
		t.Fatalf("FetchAll: %v", err)
	}
	for i, p := range paths {
		d, err := OpenDebFile(p)
		if err != nil {
			t.Fatalf("OpenDebFile(%s): %v", p, err)
		}
		if d.Package.Name != res.Packages[i].Name {
			t.Errorf("deb %d is %s, want %s", i, d.Package.Name, res.Packages[i].Name)
		}
		h, err := d.Data.Next()
		for err == nil && h.Typeflag != '0' {
			h, err = d.Data.Next()
		}
		if err != nil {
			t.Fatalf("reading data of %s: %v", p, err)
		}
		d.Close()
	}
	// The by-hash URL was used for the index.
	if n := len(fa.paths("/debian/dists/testing/main/binary-amd64/by-hash/")); n == 0 {
		t.Fatal("fake archive serves no by-hash files")
	}
	byHash := "/debian/dists/testing/main/binary-amd64/by-hash/SHA256/" + ix.Sources[0].SHA256
	if fa.hitCount(byHash) != 1 {
		t.Errorf("by-hash index fetched %d times, want 1", fa.hitCount(byHash))
	}

	// Warm: indexes come from the cache (by uncompressed hash), debs too.
	ix2, err := c.Index(ctx, []Repository{fa.repo()}, "amd64")
	if err != nil {
		t.Fatalf("second Index: %v", err)
	}
	if fa.hitCount(byHash) != 1 {
		t.Errorf("cached index fetched again (%d hits)", fa.hitCount(byHash))
	}
	if ix2.Lookup("hello") == nil {
		t.Fatal("second index lost hello")
	}
	debPath := "/debian/" + res.Packages[0].Filename
	d, err := c.Open(ctx, res.Packages[0])
	if err != nil {
		t.Fatal(err)
	}
	if d.Package.Name != "hello" {
		t.Fatalf("Open gave %s", d.Package.Name)
	}
	d.Close()
	if fa.hitCount(debPath) != 1 {
		t.Errorf("cached .deb fetched %d times, want 1", fa.hitCount(debPath))
	}
}

func names(ps []*Package) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Name)
	}
	return strings.Join(s, " ")
}

// wantVerifyError checks err is a *VerifyError whose message has substr.
func wantVerifyError(t *testing.T, err error, substr string) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T), want a *VerifyError", err, err)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("error = %q, want it to mention %q", err, substr)
	}
}

func TestArchiveRefusesBadInRelease(t *testing.T) {
	inrel := "/debian/dists/testing/InRelease"
	tests := []struct {
		name   string
		mutate func(fa *fakeArchive, repo *Repository)
		want   string
	}{
		{"unsigned", func(fa *fakeArchive, _ *Repository) {
			fa.set(inrel, fa.get("/debian/dists/testing/Release"))
		}, "not clearsigned"},
		{"wrong key", func(fa *fakeArchive, repo *Repository) {
			repo.Keyring = publicKeyring(t, testKey(t, "someone else"))
		}, "not in the keyring"},
		{"expired Valid-Until", func(fa *fakeArchive, _ *Repository) {
			fa.validUntil = testNow.Add(-time.Minute)
			fa.publish()
		}, "expired"},
		{"tampered text", func(fa *fakeArchive, _ *Repository) {
			b := fa.get(inrel)
			fa.set(inrel, []byte(strings.Replace(string(b), "Label: Test", "Label: Evil", 1)))
		}, "bad signature"},
		{"tampered hash line", func(fa *fakeArchive, _ *Repository) {
			b := string(fa.get(inrel))
			i := strings.Index(b, "SHA256:\n ") + len("SHA256:\n ")
			flip := "0"
			if b[i] == '0' {
				flip = "1"
			}
			fa.set(inrel, []byte(b[:i]+flip+b[i+1:]))
		}, "bad signature"},
		{"trailing data", func(fa *fakeArchive, _ *Repository) {
			fa.set(inrel, append(append([]byte{}, fa.get(inrel)...), []byte("Suite: evil\n")...))
		}, "after the signed block"},
		{"other suite", func(fa *fakeArchive, repo *Repository) {
			repo.Suite = "stable"
			fa.set("/debian/dists/stable/InRelease", fa.get(inrel))
		}, `not "stable"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa := newFakeArchive(t, "testing", "amd64", twoDebs()...)
			repo := fa.repo()
			tt.mutate(fa, &repo)
			_, err := testClient(t).Release(context.Background(), repo)
			wantVerifyError(t, err, tt.want)
		})
	}
}

func TestArchiveValidUntilInFutureIsAccepted(t *testing.T) {
	fa := newFakeArchive(t, "testing", "amd64", twoDebs()...)
	fa.validUntil = testNow.Add(time.Hour)
	fa.publish()
	rel, err := testClient(t).Release(context.Background(), fa.repo())
	if err != nil {
		t.Fatal(err)
	}
	if !rel.ValidUntil.Equal(testNow.Add(time.Hour).Truncate(time.Second)) {
		t.Fatalf("ValidUntil = %v", rel.ValidUntil)
	}
	// The same archive an hour and a minute later is refused.
	late := testClient(t, WithClock(func() time.Time { return testNow.Add(61 * time.Minute) }))
	_, err = late.Release(context.Background(), fa.repo())
	wantVerifyError(t, err, "expired")
}

func TestArchiveRefusesTamperedPackages(t *testing.T) {
	fa := newFakeArchive(t, "testing", "amd64", twoDebs()...)
	// Serve a different (validly compressed) index under every index name.
	evil := compress(t, ".gz", []byte(strings.Replace(fa.packagesText(), "Version: 2.1-1", "Version: 9.9-1", 1)))
	for _, p := range fa.paths("/debian/dists/testing/main/") {
		if strings.HasSuffix(p, ".gz") || strings.Contains(p, "by-hash") {
			fa.set(p, evil)
		}
	}
	_, err := testClient(t).Index(context.Background(), []Repository{fa.repo()}, "amd64")
	wantVerifyError(t, err, "mismatch")
}

func TestArchiveRefusesTamperedDeb(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func([]byte) []byte
		want   string
	}{
		{"flipped byte", func(b []byte) []byte {
			c := append([]byte{}, b...)
			c[len(c)/2] ^= 0xff
			return c
		}, "SHA256 mismatch"},
		{"longer", func(b []byte) []byte { return append(append([]byte{}, b...), 'x') }, "size mismatch"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fa := newFakeArchive(t, "testing", "amd64", twoDebs()...)
			c := testClient(t, WithRetries(0))
			ix, err := c.Index(context.Background(), []Repository{fa.repo()}, "amd64")
			if err != nil {
				t.Fatal(err)
			}
			p := ix.Lookup("libgreet")
			fa.set("/debian/"+p.Filename, tt.mutate(fa.get("/debian/"+p.Filename)))
			_, err = c.Fetch(context.Background(), p)
			wantVerifyError(t, err, tt.want)
			// Nothing unverified is left in the cache.
			if _, err := os.Stat(filepath.Join(c.CacheDir(), "sha256", p.SHA256)); err == nil {
				t.Fatal("tampered .deb is in the cache")
			}
			left, _ := os.ReadDir(filepath.Join(c.CacheDir(), "tmp"))
			if len(left) != 0 {
				t.Fatalf("temp files left behind: %v", left)
			}
		})
	}
}

func TestArchiveTruncatedDebIsRetriedThenRefused(t *testing.T) {
	fa := newFakeArchive(t, "testing", "amd64", twoDebs()...)
	c := testClient(t, WithRetries(2))
	ix, err := c.Index(context.Background(), []Repository{fa.repo()}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	p := ix.Lookup("hello")
	path := "/debian/" + p.Filename
	fa.set(path, fa.get(path)[:10])
	_, err = c.Fetch(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "shorter than expected") {
		t.Fatalf("err = %v, want a truncation error", err)
	}
	if got := fa.hitCount(path); got != 3 {
		t.Fatalf("truncated download tried %d times, want 3 (1 + 2 retries)", got)
	}
}

func TestArchiveRetriesTransientErrors(t *testing.T) {
	fa := newFakeArchive(t, "testing", "amd64", twoDebs()...)
	fa.mu.Lock()
	fa.fail["/debian/dists/testing/InRelease"] = 2
	fa.mu.Unlock()
	if _, err := testClient(t).Release(context.Background(), fa.repo()); err != nil {
		t.Fatalf("Release after two 503s: %v", err)
	}
	fa.mu.Lock()
	fa.fail["/debian/dists/testing/InRelease"] = 5
	fa.mu.Unlock()
	_, err := testClient(t, WithRetries(1)).Release(context.Background(), fa.repo())
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 503 {
		t.Fatalf("err = %v, want HTTP 503 after retries", err)
	}
}

func TestArchiveByHashFallsBackToPlainName(t *testing.T) {
	fa := newFakeArchive(t, "testing", "amd64", twoDebs()...)
	for _, p := range fa.paths("/debian/dists/testing/main/binary-amd64/by-hash/") {
		fa.set(p, nil) // 404
	}
	ix, err := testClient(t).Index(context.Background(), []Repository{fa.repo()}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if ix.Lookup("hello") == nil {
		t.Fatal("no hello")
	}
	if fa.hitCount("/debian/dists/testing/main/binary-amd64/Packages.gz") != 1 {
		t.Fatal("plain Packages.gz was not fetched")
	}
}

func TestArchiveWithoutAcquireByHash(t *testing.T) {
	fa := newFakeArchive(t, "testing", "amd64", twoDebs()...)
	fa.byHash = false
	fa.publish()
	ix, err := testClient(t).Index(context.Background(), []Repository{fa.repo()}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Packages()) != 2 {
		t.Fatalf("packages = %d", len(ix.Packages()))
	}
}

func TestArchiveCorruptCacheIsRefetched(t *testing.T) {
	fa := newFakeArchive(t, "testing", "amd64", twoDebs()...)
	c := testClient(t, WithVerifyCached(true))
	ix, err := c.Index(context.Background(), []Repository{fa.repo()}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	p := ix.Lookup("hello")
	path, err := c.Fetch(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	// Same size, different bytes: only a full check notices.
	b, _ := os.ReadFile(path)
	b[len(b)-1] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if fa.hitCount("/debian/"+p.Filename) != 2 {
		t.Fatalf("corrupt cached .deb not refetched")
	}
	got, _ := os.ReadFile(path)
	if sha256Hex(got) != p.SHA256 {
		t.Fatal("cache still corrupt")
	}
}

func TestArchiveLockedFetchNeedsNoIndex(t *testing.T) {
	fa := newFakeArchive(t, "testing", "amd64", twoDebs()...)
	c := testClient(t)
	ix, err := c.Index(context.Background(), []Repository{fa.repo()}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ix.Resolve([]string{"hello"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := NewLock(ix, res).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Break the indexes: a locked build must not read them.
	fa.set("/debian/dists/testing/InRelease", nil)
	lock, err := ReadLock(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := lock.Fetchable([]Repository{fa.repo()})
	if err != nil {
		t.Fatal(err)
	}
	c2 := testClient(t)
	paths, err := c2.FetchAll(context.Background(), pkgs)
	if err != nil {
		t.Fatal(err)
	}
	d, err := OpenDebFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Package.Name != "hello" || !strings.Contains(string(d.Control), "Package: hello\n") {
		t.Fatalf("control = %q", d.Control)
	}
	if _, err := io.Copy(io.Discard, d.Data); err != nil {
		t.Fatal(err)
	}
}
