package main

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

// whittleCmd runs the command line in process.
func whittleCmd(t *testing.T, args ...string) error {
	t.Helper()
	cmd := newRoot()
	cmd.SetArgs(args)
	return cmd.ExecuteContext(context.Background())
}

func TestPush(t *testing.T) {
	root := t.TempDir()
	img := testutil.BusyboxImage(t)
	if err := putImage(root, img, "bb"); err != nil {
		t.Fatal(err)
	}
	reg := testutil.Registry(t)
	dest := reg + "/team/bb:1"
	if err := whittleCmd(t, "--root", root, "push", "bb", dest); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	ref, _ := name.ParseReference(dest)
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); d != want {
		t.Errorf("pushed %s, the registry has %s", want, d)
	}
	// NAME as the destination, by its own name.
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := st.Lookup("bb")
	if err == nil {
		err = st.Tag(reg+"/self:2", desc)
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := whittleCmd(t, "--root", root, "push", reg+"/self:2"); err != nil {
		t.Fatal(err)
	}
	selfRef, err := name.ParseReference(reg + "/self:2")
	if err != nil {
		t.Fatal(err)
	}
	self, err := remote.Image(selfRef)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := self.Digest(); err != nil || d != want {
		t.Errorf("pushed %s as NAME, the registry has %s (%v)", want, d, err)
	}
	if err := whittleCmd(t, "--root", root, "push", "missing"); err == nil {
		t.Error("pushing a name the store lacks succeeded")
	}
}

func TestLogin(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	cfg := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfg)

	withStdin(t, "wrong\n", func() {
		if err := whittleCmd(t, "login", "-u", "alice", "--password-stdin", host); err == nil {
			t.Error("login with a wrong password succeeded")
		}
	})
	if _, err := os.Stat(filepath.Join(cfg, "config.json")); err == nil {
		b, _ := os.ReadFile(filepath.Join(cfg, "config.json"))
		if strings.Contains(string(b), host) {
			t.Error("a refused login was recorded")
		}
	}
	withStdin(t, "s3cret\n", func() {
		if err := whittleCmd(t, "login", "-u", "alice", "--password-stdin", host); err != nil {
			t.Fatal(err)
		}
	})
	b, err := os.ReadFile(filepath.Join(cfg, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))) {
		t.Errorf("config.json lacks the credentials:\n%s", b)
	}
}

// withStdin runs fn with os.Stdin reading s.
func withStdin(t *testing.T, s string, fn func()) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString(s)
	w.Close()
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old; r.Close() }()
	fn()
}
