package distroless

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeDeb(t *testing.T, d testDeb) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), d.Name+".deb")
	if err := os.WriteFile(p, d.build(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadDeb(t *testing.T) {
	d := testDeb{Name: "libc-bin", Version: "2.36", Arch: "amd64", Files: []testFile{
		{name: "sbin/ldconfig", body: "ldconfig", mode: 0o755},
		{name: "usr/bin/getent", body: "getent", mode: 0o755},
		{name: "usr/lib/locale/C.utf8/LC_CTYPE", body: "ctype"},
		{name: "usr/lib/locale/C.utf8/LC_COLLATE", typ: tar.TypeLink, link: "./usr/bin/getent"},
		{name: "etc/ld.so.conf", body: "include /etc/ld.so.conf.d/*.conf\n"},
		{name: "usr/share/doc/libc-bin/copyright", body: "(c)"},
	}}
	file := writeDeb(t, d)
	s, _ := LookupSuite("bookworm")
	r, _ := Builtin("java", s)

	t.Run("whole, merged", func(t *testing.T) {
		rules := rulesFor("libc-bin", &Recipe{}, newUsrMerge("amd64"))
		dl, err := readDeb(context.Background(), file, t.TempDir(), rules)
		if err != nil {
			t.Fatal(err)
		}
		defer dl.close()
		var b bytes.Buffer
		if err := dl.tree.write(&b, dl.spool, nil); err != nil {
			t.Fatal(err)
		}
		hdrs, bodies := readTar(t, b.Bytes())
		var names []string
		for _, h := range hdrs {
			names = append(names, h.Name)
		}
		got := strings.Join(names, " ")
		for _, want := range []string{"usr/sbin/ldconfig", "var/lib/dpkg/status.d/libc-bin", "var/lib/dpkg/status.d/libc-bin.md5sums", "usr/lib/locale/C.utf8/LC_COLLATE"} {
			if !strings.Contains(" "+got+" ", " "+want+" ") {
				t.Errorf("lacks %s: %s", want, got)
			}
		}
		if strings.Contains(got, " sbin/") || strings.HasPrefix(got, "sbin/") {
			t.Errorf("sbin not merged: %s", got)
		}
		if bodies["var/lib/dpkg/status.d/libc-bin"] != d.control() || !strings.Contains(bodies["var/lib/dpkg/status.d/libc-bin.md5sums"], "  sbin/ldconfig\n") {
			t.Errorf("status.d: %q / %q", bodies["var/lib/dpkg/status.d/libc-bin"], bodies["var/lib/dpkg/status.d/libc-bin.md5sums"])
		}
		if string(dl.facts.Captured["etc/ld.so.conf"]) != "include /etc/ld.so.conf.d/*.conf\n" || dl.facts.MaxMTime != testMTime.Unix() || dl.facts.Moved != 1 {
			t.Errorf("facts %+v", dl.facts)
		}
	})

	t.Run("only the locale", func(t *testing.T) {
		dl, err := readDeb(context.Background(), file, t.TempDir(), rulesFor("libc-bin", r, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer dl.close()
		var b bytes.Buffer
		if err := dl.tree.write(&b, dl.spool, nil); err != nil {
			t.Fatal(err)
		}
		hdrs, bodies := readTar(t, b.Bytes())
		var files []string
		for _, h := range hdrs {
			if h.Typeflag != tar.TypeDir {
				files = append(files, h.Name)
			}
		}
		if got, want := strings.Join(files, " "), "usr/lib/locale/C.utf8/LC_COLLATE usr/lib/locale/C.utf8/LC_CTYPE usr/share/doc/libc-bin/copyright var/lib/dpkg/status.d/libc-bin"; got != want {
			t.Errorf("files %q, want %q", got, want)
		}
		// The hard link's target was left out: the link became a copy.
		if bodies["usr/lib/locale/C.utf8/LC_COLLATE"] != "getent" {
			t.Errorf("LC_COLLATE = %q", bodies["usr/lib/locale/C.utf8/LC_COLLATE"])
		}
	})

	t.Run("merge conflict", func(t *testing.T) {
		bad := writeDeb(t, testDeb{Name: "bad", Version: "1", Arch: "amd64", Files: []testFile{
			{name: "bin/x", body: "1"}, {name: "usr/bin/x", body: "2"},
		}})
		_, err := readDeb(context.Background(), bad, t.TempDir(), rulesFor("bad", &Recipe{}, newUsrMerge("amd64")))
		if err == nil || !strings.Contains(err.Error(), "both become /usr/bin/x") {
			t.Errorf("err = %v", err)
		}
	})
}
