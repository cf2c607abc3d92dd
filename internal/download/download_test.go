package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/store"
)

// server serves one file whose content, ETag and Last-Modified the test
// sets, and counts requests and full transfers.
type server struct {
	mu       sync.Mutex
	content  string
	etag     string
	modified time.Time
	requests int
	bodies   int
	ifNone   []string
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.URL.Path == "/missing" {
		http.NotFound(w, r)
		return
	}
	s.ifNone = append(s.ifNone, r.Header.Get("If-None-Match"))
	if s.etag != "" {
		w.Header().Set("ETag", s.etag)
		if r.Header.Get("If-None-Match") == s.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if !s.modified.IsZero() {
		w.Header().Set("Last-Modified", s.modified.UTC().Format(http.TimeFormat))
	}
	s.bodies++
	io.WriteString(w, s.content)
}

func (s *server) set(content, etag string) {
	s.mu.Lock()
	s.content, s.etag = content, etag
	s.mu.Unlock()
}

func (s *server) counts() (requests, bodies int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.bodies
}

func digest(s string) v1.Hash {
	sum := sha256.Sum256([]byte(s))
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func setup(t *testing.T) (*Fetcher, *server, *httptest.Server) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := &server{content: "v1", etag: `"e1"`, modified: time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return New(st, ts.Client()), srv, ts
}

func read(t *testing.T, f *Fetcher, fl *File) string {
	t.Helper()
	r, err := f.Open(fl)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestResolveUsesETag(t *testing.T) {
	f, srv, ts := setup(t)
	ctx := context.Background()
	u := ts.URL + "/dir/tool.tar.gz"
	fl, err := f.Resolve(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if fl.Digest != digest("v1") || read(t, f, fl) != "v1" {
		t.Fatalf("got %s %q", fl.Digest, read(t, f, fl))
	}
	if want := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC); !fl.LastModified.Equal(want) {
		t.Errorf("LastModified %v, want %v", fl.LastModified, want)
	}
	// Unchanged: a conditional request, no transfer.
	again, err := f.Resolve(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if *again != *fl {
		t.Errorf("second resolve %+v, first %+v", again, fl)
	}
	if req, bodies := srv.counts(); req != 2 || bodies != 1 {
		t.Errorf("%d requests, %d transfers; want 2 and 1", req, bodies)
	}
	if got := srv.ifNone[1]; got != `"e1"` {
		t.Errorf("If-None-Match %q, want the stored ETag", got)
	}
	// Changed: the new content.
	srv.set("v2", `"e2"`)
	changed, err := f.Resolve(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if changed.Digest != digest("v2") || read(t, f, changed) != "v2" {
		t.Errorf("after a change got %s", changed.Digest)
	}
	// Without an ETag every resolve downloads.
	srv.set("v3", "")
	for i := 0; i < 2; i++ {
		if fl, err := f.Resolve(ctx, u); err != nil || fl.Digest != digest("v3") {
			t.Fatalf("%+v, %v", fl, err)
		}
	}
	if _, bodies := srv.counts(); bodies != 4 {
		t.Errorf("%d transfers, want 4", bodies)
	}
}

func TestFetchChecksum(t *testing.T) {
	f, srv, ts := setup(t)
	ctx := context.Background()
	u := ts.URL + "/f"
	fl, err := f.Fetch(ctx, u, digest("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if read(t, f, fl) != "v1" || fl.LastModified.IsZero() {
		t.Fatalf("%+v", fl)
	}
	// Known: no request at all.
	if _, err := f.Fetch(ctx, u, digest("v1")); err != nil {
		t.Fatal(err)
	}
	if req, _ := srv.counts(); req != 1 {
		t.Errorf("%d requests, want 1", req)
	}
	// A mismatch fails, naming both digests, and nothing is recorded.
	_, err = f.Fetch(ctx, ts.URL+"/other", digest("something else"))
	if err == nil || !strings.Contains(err.Error(), "digest mismatch") || !strings.Contains(err.Error(), digest("v1").String()) {
		t.Fatalf("got %v, want a digest mismatch", err)
	}
	if f.load(ts.URL+"/other") != nil {
		t.Error("a mismatching download was recorded")
	}
	if f.st.HasBlob(digest("something else")) {
		t.Error("a blob was stored under the wrong digest")
	}
}

func TestErrors(t *testing.T) {
	f, _, ts := setup(t)
	ctx := context.Background()
	if _, err := f.Resolve(ctx, ts.URL+"/missing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404 gave %v", err)
	}
	if _, err := f.Resolve(ctx, "ftp://example/x"); err == nil {
		t.Error("an ftp URL was accepted")
	}
	secret := strings.Replace(ts.URL, "http://", "http://user:hunter2@", 1)
	_, err := f.Resolve(ctx, secret+"/missing")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v shows the password", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err = f.Resolve(ctx, strings.Replace(closed.URL, "http://", "http://user:hunter2@", 1)+"/x")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v shows the password", err)
	}
}

func TestName(t *testing.T) {
	tests := map[string]string{
		"https://example.com/a/tool.tar.gz":  "tool.tar.gz",
		"https://example.com/a/dir/":         "dir",
		"https://example.com/":               "__unnamed__",
		"https://example.com":                "__unnamed__",
		"https://example.com/get?file=x.zip": "get",
		"https://example.com/a%20b.txt#frag": "a b.txt",
	}
	for in, want := range tests {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}
