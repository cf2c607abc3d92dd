package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fileServer serves named files with an ETag and Last-Modified, answers
// If-None-Match, and counts full transfers.
type fileServer struct {
	mu        sync.Mutex
	files     map[string]string
	etags     map[string]string
	modified  time.Time
	transfers int
}

func (s *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, ok := s.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if et := s.etags[r.URL.Path]; et != "" {
		w.Header().Set("ETag", et)
		if r.Header.Get("If-None-Match") == et {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Last-Modified", s.modified.UTC().Format(http.TimeFormat))
	s.transfers++
	w.Write([]byte(body))
}

func (s *fileServer) set(path, body, etag string) {
	s.mu.Lock()
	s.files[path], s.etags[path] = body, etag
	s.mu.Unlock()
}

func (s *fileServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transfers
}

func tarGz(t *testing.T, name, content string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	zw.Close()
	return b.String()
}

func TestAddURL(t *testing.T) {
	e := newEnv(t)
	modified := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	srv := &fileServer{files: map[string]string{}, etags: map[string]string{}, modified: modified}
	srv.set("/dl/tool.txt", "tool v1\n", `"v1"`)
	srv.set("/dl/other", "other\n", "")
	srv.set("/dl/pkg.tar.gz", tarGz(t, "inside.txt", "unpacked\n"), `"p1"`)
	ts := httptest.NewServer(srv) // listens on 127.0.0.1
	defer ts.Close()
	sum := sha256.Sum256([]byte("other\n"))
	goodSum := "sha256:" + hex.EncodeToString(sum[:])

	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
ADD ` + ts.URL + `/dl/tool.txt /opt/
ADD --chmod=755 --chown=1000:1000 ` + ts.URL + `/dl/tool.txt /usr/local/bin/tool
ADD --checksum=` + goodSum + ` ` + ts.URL + `/dl/other /checked
ADD ` + ts.URL + `/dl/pkg.tar.gz /archives/
ADD --unpack=true ` + ts.URL + `/dl/pkg.tar.gz /unpacked/
`,
	})
	img, _ := e.mustBuild(dir, Options{})
	fs := filesystem(t, img)
	f := fs["/opt/tool.txt"]
	if f.content != "tool v1\n" {
		t.Fatalf("/opt/tool.txt = %q", f.content)
	}
	if f.hdr.Mode&0o7777 != 0o600 || f.hdr.Uid != 0 || f.hdr.Gid != 0 {
		t.Errorf("/opt/tool.txt mode %o owner %d:%d, want 600 0:0 as BuildKit", f.hdr.Mode, f.hdr.Uid, f.hdr.Gid)
	}
	if !f.hdr.ModTime.Equal(modified) {
		t.Errorf("/opt/tool.txt mtime %v, want Last-Modified %v", f.hdr.ModTime, modified)
	}
	tool := fs["/usr/local/bin/tool"]
	if tool.content != "tool v1\n" || tool.hdr.Mode&0o7777 != 0o755 || tool.hdr.Uid != 1000 || tool.hdr.Gid != 1000 {
		t.Errorf("/usr/local/bin/tool = %q mode %o owner %d:%d", tool.content, tool.hdr.Mode, tool.hdr.Uid, tool.hdr.Gid)
	}
	if got := fs["/checked"].content; got != "other\n" {
		t.Errorf("/checked = %q", got)
	}
	if _, ok := fs["/archives/pkg.tar.gz"]; !ok {
		t.Error("a downloaded archive was unpacked without --unpack")
	}
	if got := fs["/unpacked/inside.txt"].content; got != "unpacked\n" {
		t.Errorf("--unpack=true gave %q", got)
	}

	// Unchanged on the server: conditional requests, nothing transferred,
	// every ADD cached.
	before := srv.count()
	_, evs := e.mustBuild(dir, Options{})
	if ran := evs.executed("ADD"); len(ran) != 0 {
		t.Errorf("unchanged URLs re-ran %v", ran)
	}
	// The ETag ones are revalidated, the --checksum one is not even asked.
	if n := srv.count() - before; n != 0 {
		t.Errorf("%d downloads for an unchanged server, want none", n)
	}

	// Changed on the server: the ADDs of that URL run again.
	srv.set("/dl/tool.txt", "tool v2\n", `"v2"`)
	img, evs = e.mustBuild(dir, Options{})
	if ran := evs.executed("tool.txt"); len(ran) != 2 {
		t.Errorf("a changed URL re-ran %v, want both of its ADDs", ran)
	}
	if got := filesystem(t, img)["/opt/tool.txt"].content; got != "tool v2\n" {
		t.Errorf("after the change /opt/tool.txt = %q", got)
	}
}

func TestAddURLErrors(t *testing.T) {
	e := newEnv(t)
	srv := &fileServer{files: map[string]string{}, etags: map[string]string{}, modified: time.Unix(0, 0)}
	srv.set("/f", "content\n", "")
	ts := httptest.NewServer(srv)
	defer ts.Close()
	wrong := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct{ name, line, want string }{
		{"checksum mismatch", "ADD --checksum=" + wrong + " " + ts.URL + "/f /f", "digest mismatch"},
		{"not found", "ADD " + ts.URL + "/missing /f", "404"},
		{"two sources, file destination", "ADD " + ts.URL + "/f " + ts.URL + "/f /f", "must be a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := contextDir(t, map[string]string{"Dockerfile": "FROM busybox\n" + tt.line + "\n"})
			_, _, err := e.build(dir, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}
