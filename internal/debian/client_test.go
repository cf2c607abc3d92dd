package debian

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestClientFileMirror(t *testing.T) {
	fa := newFakeArchive(t, "testing", "amd64", twoDebs()...)
	root := t.TempDir()
	for _, p := range fa.paths("/debian/") {
		writeFile(t, root, strings.TrimPrefix(p, "/"), fa.get(p))
	}
	repo := fa.repo()
	repo.URL = "file://" + filepath.Join(root, "debian")
	c := testClient(t)
	ix, err := c.Index(context.Background(), []Repository{repo}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ix.Resolve([]string{"hello"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FetchAll(context.Background(), res.Packages); err != nil {
		t.Fatal(err)
	}
	// A missing file is a 404 like over HTTP.
	os.Remove(filepath.Join(root, "debian", "dists", "testing", "InRelease"))
	_, err = c.Release(context.Background(), repo)
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 404 {
		t.Fatalf("err = %v, want a 404", err)
	}
}

func TestClientIdleTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("half"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	c := testClient(t, WithIdleTimeout(100*time.Millisecond), WithRetries(1))
	start := time.Now()
	_, err := c.Fetch(context.Background(), &Package{Name: "stall", Architecture: "all", Filename: "pool/stall.deb", Size: 100, SHA256: strings.Repeat("0", 64), URL: srv.URL})
	if err == nil || !strings.Contains(err.Error(), "idle timeout") {
		t.Fatalf("err = %v, want an idle timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestClientFetchAllBoundsConcurrency(t *testing.T) {
	var debs []testDeb
	for i := 0; i < 8; i++ {
		debs = append(debs, testDeb{Name: fmt.Sprintf("pkg%d", i), Version: "1", Arch: "all", Files: map[string]string{"/f": "x"}, ControlExt: ".gz", DataExt: ".gz"})
	}
	fa := newFakeArchive(t, "testing", "amd64", debs...)
	var mu sync.Mutex
	inFlight, maxInFlight := 0, 0
	inner := fa.srv.Config.Handler
	fa.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".deb") {
			mu.Lock()
			inFlight++
			if inFlight > maxInFlight {
				maxInFlight = inFlight
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
		}
		inner.ServeHTTP(w, r)
	})
	c := testClient(t, WithConcurrency(2))
	ix, err := c.Index(context.Background(), []Repository{fa.repo()}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := ix.Packages()
	// Ask for each twice: duplicates share one download.
	paths, err := c.FetchAll(context.Background(), append(pkgs, pkgs...))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 16 || paths[0] != paths[8] {
		t.Fatalf("paths = %v", paths)
	}
	if maxInFlight > 2 || maxInFlight == 0 {
		t.Fatalf("max in flight = %d, want 1..2", maxInFlight)
	}
	for _, p := range pkgs {
		if n := fa.hitCount("/debian/" + p.Filename); n != 1 {
			t.Errorf("%s downloaded %d times", p.Name, n)
		}
	}
}

func TestClientFetchRefusesBadPackages(t *testing.T) {
	c := testClient(t)
	good := Package{Name: "aa", Architecture: "all", Filename: "pool/aa.deb", Size: 1, SHA256: strings.Repeat("0", 64), URL: "http://127.0.0.1:1"}
	for name, mutate := range map[string]func(p *Package){
		"no sha":        func(p *Package) { p.SHA256 = "" },
		"escaping path": func(p *Package) { p.Filename = "../x.deb" },
		"no size":       func(p *Package) { p.Size = 0 },
		"no url":        func(p *Package) { p.URL = "" },
	} {
		p := good
		mutate(&p)
		if _, err := c.Fetch(context.Background(), &p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestClientOptions(t *testing.T) {
	for name, o := range map[string]Option{
		"concurrency": WithConcurrency(0),
		"retries":     WithRetries(-1),
		"cache":       WithCacheDir(""),
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg-test")
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if c.CacheDir() != "/tmp/xdg-test/whittle/debian" {
		t.Fatalf("default cache = %s", c.CacheDir())
	}
}
