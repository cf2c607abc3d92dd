package debian

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/whittle-build/whittle/internal/testutil"
)

// debianArch maps GOARCH to the Debian architecture name.
func debianArch() string {
	switch runtime.GOARCH {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	}
	return runtime.GOARCH
}

// TestIntegrationHostMirror runs the whole client against the Debian
// mirror configured in the host's apt sources: InRelease verification with
// the host's keyrings, the bookworm indexes (with -updates and -security
// where configured), resolution of libc6 and python3, and the download and
// reading of one small .deb.
func TestIntegrationHostMirror(t *testing.T) {
	testutil.RequireNetwork(t, "the Debian mirror from the host's apt sources")
	if testing.Short() {
		t.Skip("downloads the bookworm indexes (about 15 MB); skipped with -short")
	}
	repos, err := Repositories(RepositoryConfig{Dist: "bookworm"})
	if err != nil {
		t.Skipf("the host's apt sources do not configure bookworm: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := New(WithCacheDir(t.TempDir()), WithRetries(1))
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	rel, err := c.Release(ctx, repos[0])
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			t.Fatalf("the mirror answered but verification failed: %v", err)
		}
		t.Skipf("the mirror %s is unreachable: %v", repos[0].URL, err)
	}
	if rel.Signer == "" || rel.Codename != "bookworm" || len(rel.SHA256) == 0 {
		t.Fatalf("release = %+v", rel)
	}
	t.Logf("InRelease of %s verified in %v, signed by %s, dated %s", repos[0], time.Since(start).Round(time.Millisecond), rel.Signer, rel.Date)

	arch := debianArch()
	start = time.Now()
	ix, err := c.Index(ctx, repos, arch)
	if err != nil {
		t.Fatal(err)
	}
	cold := time.Since(start)
	start = time.Now()
	if _, err := c.Index(ctx, repos, arch); err != nil {
		t.Fatal(err)
	}
	warm := time.Since(start)
	t.Logf("index of %d suites (%d packages): cold %v, warm (cached) %v", len(ix.Sources), len(ix.Packages()), cold.Round(time.Millisecond), warm.Round(time.Millisecond))
	for _, s := range ix.Sources {
		t.Logf("  %s %s %s sha256:%s", s.Suite, s.Component, s.Path, s.SHA256[:16])
	}

	start = time.Now()
	libc, err := ix.Resolve([]string{"libc6"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("libc6 closure in %v: %s", time.Since(start).Round(time.Microsecond), names(libc.Packages))
	for _, want := range []string{"libc6", "libgcc-s1"} {
		if _, ok := libc.Why(want); !ok {
			t.Errorf("libc6 closure lacks %s", want)
		}
	}
	cut, err := ix.Resolve([]string{"libc6"}, ResolveOptions{Prune: []string{"libgcc-s1"}})
	if err != nil {
		t.Fatal(err)
	}
	if names(cut.Packages) != "libc6" || len(cut.Cuts) != 1 {
		t.Errorf("libc6 minus libgcc-s1 = %s (cuts %v)", names(cut.Packages), cut.Cuts)
	}

	start = time.Now()
	py, err := ix.Resolve([]string{"python3"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("python3 closure in %v: %d packages", time.Since(start).Round(time.Microsecond), len(py.Packages))
	chain, ok := py.Why("libpython3.11-stdlib")
	if !ok || chain[0].Package.Name != "python3" {
		t.Fatalf("python3 closure does not explain libpython3.11-stdlib: %v", chain)
	}
	var explain strings.Builder
	if err := py.Explain(&explain); err != nil {
		t.Fatal(err)
	}
	t.Logf("python3 explained:\n%s", explain.String())

	// Download, verify and read one small package.
	small, err := ix.Resolve([]string{"netbase"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := small.Packages[0]
	start = time.Now()
	path, err := c.Fetch(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fetched %s (%d bytes) in %v", p, p.Size, time.Since(start).Round(time.Millisecond))
	d, err := OpenDebFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Package.Name != "netbase" || version0(d.Package) != version0(p) {
		t.Fatalf(".deb control says %s, index says %s", d.Package, p)
	}
	found := false
	for {
		h, err := d.Data.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "./etc/protocols" {
			found = true
		}
	}
	if !found {
		t.Fatal("netbase has no /etc/protocols")
	}

	// The lock of the python3 closure fetches by suite on the same repos.
	lock := NewLock(ix, py)
	pkgs, err := lock.Fetchable(repos)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != len(py.Packages) {
		t.Fatalf("lock has %d packages, closure %d", len(pkgs), len(py.Packages))
	}
}

// version0 is the version string of p.
func version0(p *Package) string { return p.Version.String() }

// TestIntegrationTrixieMirrorOverride reads trixie from the host's archive
// URL given as a mirror (as --mirror does), verified with apt's default
// trusted keys, and resolves libc6 and python3 there.
func TestIntegrationTrixieMirrorOverride(t *testing.T) {
	testutil.RequireNetwork(t, "the Debian mirror from the host's apt sources")
	if testing.Short() {
		t.Skip("downloads the trixie index (about 10 MB); skipped with -short")
	}
	host, err := Repositories(RepositoryConfig{Dist: "bookworm", Suites: []string{"bookworm"}})
	if err != nil {
		t.Skipf("the host's apt sources do not configure bookworm: %v", err)
	}
	repos, err := Repositories(RepositoryConfig{Dist: "trixie", Mirror: host[0].URL})
	if err != nil {
		t.Skipf("no trusted apt keys to verify trixie with: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := New(WithCacheDir(t.TempDir()), WithRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	rel, err := c.Release(ctx, repos[0])
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			t.Fatalf("the mirror answered but verification failed: %v", err)
		}
		t.Skipf("the mirror %s is unreachable: %v", repos[0].URL, err)
	}
	t.Logf("trixie InRelease signed by %s, dated %s", rel.Signer, rel.Date)
	ix, err := c.Index(ctx, repos, debianArch())
	if err != nil {
		t.Fatal(err)
	}
	res, err := ix.Resolve([]string{"libc6", "python3"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Why("libc6"); !ok {
		t.Fatal("no libc6")
	}
	t.Logf("trixie libc6+python3 closure: %d packages", len(res.Packages))
}
