package buildcontext

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whittle-build/whittle/internal/archive"
)

// tarOf makes a tar of name → content ("" with a trailing slash in the name
// is a directory), compressed with c.
func tarOf(t *testing.T, c archive.Compression, entries [][2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := archive.Compress(&buf, c)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{Name: e[0], Mode: 0o644, Size: int64(len(e[1])), Typeflag: tar.TypeReg}
		if strings.HasSuffix(e[0], "/") {
			h = &tar.Header{Name: e[0], Mode: 0o755, Typeflag: tar.TypeDir}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e[1]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFromReader(t *testing.T) {
	// A Dockerfile, long or short, comes back as is; dir stays empty.
	for _, df := range []string{"FROM busybox\n", strings.Repeat("# a comment line\n", 200) + "FROM busybox\n", ""} {
		dir := t.TempDir()
		got, err := FromReader(t.Context(), strings.NewReader(df), dir, "standard input")
		if err != nil || string(got) != df {
			t.Errorf("FromReader(Dockerfile of %d bytes) = %d bytes, %v", len(df), len(got), err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("a Dockerfile on stdin left %d entries in the context", len(ents))
		}
	}
	// A tar, plain or compressed, is unpacked.
	entries := [][2]string{{"Dockerfile", "FROM busybox\nCOPY a /a\n"}, {"sub/", ""}, {"sub/a", strings.Repeat("x", 3000)}}
	for _, c := range []archive.Compression{archive.None, archive.Gzip, archive.Zstd} {
		dir := t.TempDir()
		got, err := FromReader(t.Context(), bytes.NewReader(tarOf(t, c, entries)), dir, "standard input")
		if err != nil || got != nil {
			t.Errorf("%s tar: Dockerfile %q, %v; want an unpacked context", c, got, err)
			continue
		}
		for _, e := range entries {
			if strings.HasSuffix(e[0], "/") {
				continue
			}
			if b, err := os.ReadFile(filepath.Join(dir, e[0])); err != nil || string(b) != e[1] {
				t.Errorf("%s tar: %s = %d bytes, %v", c, e[0], len(b), err)
			}
		}
	}
	// A hostile tar is refused, and writes nothing outside dir.
	parent := t.TempDir()
	dir := filepath.Join(parent, "ctx")
	_, err := FromReader(t.Context(), bytes.NewReader(tarOf(t, archive.Gzip, [][2]string{{"../escaped", "x"}})), dir, "standard input")
	if !errors.Is(err, archive.ErrUnsafePath) || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("a tar with ../: %v, want an unsafe-path error about standard input", err)
	}
	if _, err := os.Stat(filepath.Join(parent, "escaped")); err == nil {
		t.Errorf("the tar wrote outside the context")
	}
	// Compressed, but not a valid stream.
	if _, err := FromReader(t.Context(), bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}), t.TempDir(), "standard input"); err == nil {
		t.Errorf("a broken gzip stream was read as a Dockerfile")
	}
}
