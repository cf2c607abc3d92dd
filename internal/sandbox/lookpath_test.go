package sandbox

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	sbin := filepath.Join(dir, "sbin")
	for _, d := range []string{bin, sbin, filepath.Join(bin, "adir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(bin, "tool"), 0o755)
	write(filepath.Join(sbin, "tool"), 0o755)
	write(filepath.Join(sbin, "only-sbin"), 0o755)
	write(filepath.Join(bin, "noexec"), 0o644)
	path := "PATH=" + bin + ":" + sbin

	tests := []struct {
		name     string
		file     string
		env      []string
		want     string
		notFound bool
		errIs    error
	}{
		{name: "first match wins", file: "tool", env: []string{path}, want: filepath.Join(bin, "tool")},
		{name: "later entry", file: "only-sbin", env: []string{path}, want: filepath.Join(sbin, "only-sbin")},
		{name: "not found", file: "missing", env: []string{path}, notFound: true},
		{name: "directory is skipped", file: "adir", env: []string{path}, notFound: true},
		{name: "not executable", file: "noexec", env: []string{path}, errIs: fs.ErrPermission},
		{name: "slash used as is", file: filepath.Join(sbin, "tool"), env: nil, want: filepath.Join(sbin, "tool")},
		{name: "slash, missing", file: filepath.Join(sbin, "nope"), env: []string{path}, errIs: fs.ErrNotExist},
		{name: "last PATH wins", file: "only-sbin", env: []string{"PATH=/nonexistent", path}, want: filepath.Join(sbin, "only-sbin")},
		{name: "empty PATH finds nothing", file: "tool", env: []string{"PATH="}, notFound: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lookPath(tc.file, tc.env)
			switch {
			case tc.want != "":
				if err != nil || got != tc.want {
					t.Fatalf("lookPath(%q) = %q, %v; want %q", tc.file, got, err, tc.want)
				}
			case tc.notFound:
				if !errors.Is(err, exec.ErrNotFound) {
					t.Fatalf("lookPath(%q) = %q, %v; want exec.ErrNotFound", tc.file, got, err)
				}
				want := `exec: "` + tc.file + `": executable file not found in $PATH`
				if err.Error() != want {
					t.Errorf("error %q, want %q", err, want)
				}
			case tc.errIs != nil:
				if !errors.Is(err, tc.errIs) {
					t.Fatalf("lookPath(%q) = %q, %v; want %v", tc.file, got, err, tc.errIs)
				}
			default:
				t.Fatal("bad test case")
			}
		})
	}
}

func TestLookPathDefaultPath(t *testing.T) {
	// Without PATH the default one applies: "sh" is found in /bin or /usr/bin
	// on any Linux host that runs these tests.
	got, err := lookPath("sh", []string{"HOME=/"})
	if err != nil {
		t.Skipf("no sh in the default PATH on this host: %v", err)
	}
	if !strings.HasSuffix(got, "/sh") || !filepath.IsAbs(got) {
		t.Errorf("lookPath(sh) = %q", got)
	}
}
