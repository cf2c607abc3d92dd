package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/zstd"

	"github.com/whittle-build/whittle/internal/secrets"
)

func randomSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "s3cr3t-" + hex.EncodeToString(b)
}

// leaks returns the files under root whose bytes, or decompressed bytes
// (gzip, zstd), contain secret.
func leaks(t *testing.T, root string, secret []byte) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, secret) {
			out = append(out, p)
			return nil
		}
		var plain []byte
		switch {
		case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
			if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
				plain, _ = io.ReadAll(zr)
			}
		case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
			if zr, err := zstd.NewReader(bytes.NewReader(b)); err == nil {
				plain, _ = io.ReadAll(zr)
				zr.Close()
			}
		}
		if bytes.Contains(plain, secret) {
			out = append(out, p+" (decompressed)")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestSecretNeverLeaks: a secret given as a file and one given through the
// environment reach the RUN (as files with the mount's owner and mode, and
// as a variable), and their bytes are nowhere afterwards: not in any layer,
// the config, the history, the store's cache records or anything else the
// store holds, not in the progress output, not in an error message, and not
// in a directory left behind on the host.
func TestSecretNeverLeaks(t *testing.T) {
	e := newEnv(t)
	fileSecret, envSecret := randomSecret(t), randomSecret(t)
	secretFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secretFile, []byte(fileSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WHITTLE_TEST_TOKEN", envSecret)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN --mount=type=secret,id=tok \
    sha256sum /run/secrets/tok | cut -d' ' -f1 > /file-sum && stat -c '%u:%g %a' /run/secrets/tok > /file-mode
RUN --mount=type=secret,id=api,env=API_TOKEN \
    printf %s "$API_TOKEN" | sha256sum | cut -d' ' -f1 > /env-sum && test ! -e /run/secrets/api
RUN --mount=type=secret,id=tok,target=/etc/app/token,uid=1000,gid=1000,mode=0440 \
    stat -c '%u:%g %a' /etc/app/token > /target-mode && sha256sum /etc/app/token | cut -d' ' -f1 > /target-sum
RUN --mount=type=secret,id=tok,env=TOK,target=/t \
    test "$TOK" = "$(cat /t)" && echo same > /both
`,
	})
	srcs := []secrets.Source{{ID: "tok", File: secretFile}, {ID: "api", Env: "WHITTLE_TEST_TOKEN"}}
	img, evs := e.mustBuild(dir, Options{Secrets: srcs, Tags: []string{"secret:test"}})
	fs := filesystem(t, img)
	want := map[string]string{
		"/file-sum":    sha256hex(fileSecret) + "\n",
		"/file-mode":   "0:0 400\n",
		"/env-sum":     sha256hex(envSecret) + "\n",
		"/target-mode": "1000:1000 440\n",
		"/target-sum":  sha256hex(fileSecret) + "\n",
		"/both":        "same\n",
	}
	for p, w := range want {
		if got := fs[p].content; got != w {
			t.Errorf("%s = %q, want %q", p, got, w)
		}
	}
	for _, p := range []string{"/run/secrets/tok", "/run/secrets", "/run", "/etc/app/token", "/etc/app", "/t"} {
		if _, ok := fs[p]; ok {
			t.Errorf("%s is in the image", p)
		}
	}
	// Each RUN's layer holds only the files it wrote: no mount point, and
	// not the directories the mount points were made in (the first also
	// the runtime's mount points that the base lacks, as in BuildKit).
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	wantLayers := [][]string{{"dev", "file-mode", "file-sum", "proc", "sys"}, {"env-sum"}, {"target-mode", "target-sum"}, {"both"}}
	if len(ls) != 1+len(wantLayers) {
		t.Fatalf("%d layers", len(ls))
	}
	for i, want := range wantLayers {
		if got := layerNames(t, ls[i+1]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("layer %d holds %q, want %q", i+1, got, want)
		}
	}

	// A failing step: its error must not carry the secret either.
	failing := contextDir(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=api,env=API_TOKEN --mount=type=secret,id=tok sh -c 'exit 3'\n",
	})
	_, fevs, err := e.build(failing, Options{Secrets: srcs})
	if err == nil {
		t.Fatal("the failing build succeeded")
	}

	for _, s := range []string{fileSecret, envSecret} {
		if l := leaks(t, e.st.Root(), []byte(s)); len(l) > 0 {
			t.Errorf("the secret is in the store: %v", l)
		}
		for _, out := range []string{evs.output(), fevs.output(), err.Error(), strings.Join(evs.executed(""), "\n")} {
			if strings.Contains(out, s) {
				t.Errorf("the secret is in the progress output or an error: %q", out)
			}
		}
		cfg, cerr := img.RawConfigFile()
		if cerr != nil {
			t.Fatal(cerr)
		}
		if bytes.Contains(cfg, []byte(s)) {
			t.Error("the secret is in the image config or history")
		}
		ls, _ := img.Layers()
		for i, l := range ls {
			rc, lerr := l.Uncompressed()
			if lerr != nil {
				t.Fatal(lerr)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("the secret is in layer %d", i)
			}
		}
	}
	// No private directory is left behind on the host.
	for _, d := range []string{"/dev/shm", "/run", os.Getenv("XDG_RUNTIME_DIR")} {
		if d == "" {
			continue
		}
		left, _ := filepath.Glob(filepath.Join(d, "whittle-run-*"))
		for _, l := range left {
			if l != "" {
				t.Errorf("left behind: %s", l)
			}
		}
	}

	// The secret's value is not part of the cache key: a new value does
	// not re-run the steps (as in BuildKit).
	if err := os.WriteFile(secretFile, []byte(randomSecret(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, evs = e.mustBuild(dir, Options{Secrets: srcs})
	if ran := evs.executed("RUN"); len(ran) != 0 {
		t.Errorf("a changed secret value re-ran %v", ran)
	}
}

func TestSecretRequiredAndOptional(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, run string
		wantErr   string
	}{
		{"optional missing", "RUN --mount=type=secret,id=nope test ! -e /run/secrets/nope && echo ok > /ok", ""},
		{"optional env missing", `RUN --mount=type=secret,id=nope,env=NOPE test -z "$NOPE" && echo ok > /ok`, ""},
		{"required missing", "RUN --mount=type=secret,id=nope,required=true echo ok > /ok", "secret nope is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := contextDir(t, map[string]string{"Dockerfile": "FROM busybox\n" + tt.run + "\n"})
			img, _, err := e.build(dir, Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := filesystem(t, img)["/ok"].content; got != "ok\n" {
				t.Errorf("/ok = %q", got)
			}
		})
	}
	// A --secret whose file does not exist fails before anything runs.
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN true\n"})
	_, _, err := e.build(dir, Options{Secrets: []secrets.Source{{ID: "x", File: "/nonexistent/file"}}})
	if err == nil || !strings.Contains(err.Error(), "id=x") {
		t.Errorf("a missing secret file gave %v", err)
	}
}

// layerNames lists the entries of a layer, sorted, without "./" and "/".
func layerNames(t *testing.T, l v1.Layer) []string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Trim(strings.TrimPrefix(h.Name, "./"), "/"))
	}
	sort.Strings(out)
	return out
}
