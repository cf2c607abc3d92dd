package build

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHeredocsAuthorAndAdd(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
MAINTAINER someone@example.com
RUN <<EOF
echo one > /one
echo two > /two
EOF
RUN <<EOF
#!/bin/sh
echo "script $0" > /script
EOF
COPY <<EOF /etc/app.conf
key=value
EOF
ONBUILD RUN true
ADD app.tar /unpacked/
ADD --unpack=false app.tar /kept/
`,
	})
	writeTar(t, filepath.Join(dir, "app.tar"))
	img, _ := e.mustBuild(dir, Options{})
	fs := filesystem(t, img)
	checks := map[string]string{
		"/one": "one\n", "/two": "two\n", "/script": "script /dev/pipes/EOF\n",
		"/etc/app.conf": "key=value\n", "/unpacked/inside": "content",
	}
	for p, want := range checks {
		if got := fs[p].content; got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if _, ok := fs["/kept/app.tar"]; !ok {
		t.Error("ADD --unpack=false unpacked the archive")
	}
	if _, ok := fs["/dev/pipes/EOF"]; ok {
		t.Error("the heredoc script was left in the image")
	}
	cfg, _ := img.ConfigFile()
	if cfg.Author != "someone@example.com" {
		t.Errorf("Author = %q", cfg.Author)
	}
	for _, h := range cfg.History {
		if strings.Contains(h.CreatedBy, "ONBUILD") {
			t.Errorf("history has %q", h.CreatedBy)
		}
	}
}

func writeTar(t *testing.T, p string) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "inside", Typeflag: tar.TypeReg, Mode: 0o644, Size: 7})
	tw.Write([]byte("content"))
	tw.Close()
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
