package analyze

import (
	"archive/tar"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestHostDpkgDatabase reads this Debian host's real dpkg database: every
// installed package's name and version must match dpkg-query, and for a few
// packages whose files the test copies into the image, the bytes must match
// the files on the host (each inode once).
func TestHostDpkgDatabase(t *testing.T) {
	query := tool(t, "dpkg-query", "to read the host's package database as the reference")
	status, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		t.Skipf("needs a Debian host database: %v", err)
	}
	out, err := exec.Command(query, "-W", "-f=${Package}\t${Version}\t${db:Status-Status}\n").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 && dpkgInstalled("install ok "+f[2]) {
			want[f[0]] = f[1]
		}
	}

	// The image: the status file, and the lists and files of a few packages
	// (at their real paths: merged /usr resolved, the /bin-style symlinks
	// kept, as in a Debian image).
	chosen := []string{"base-files", "debianutils", "bash", "dpkg"}
	entries := []tf{file("/var/lib/dpkg/status", string(status))}
	for _, link := range []string{"/bin", "/sbin", "/lib", "/lib64"} {
		if target, err := os.Readlink(link); err == nil {
			entries = append(entries, symlink(link, target))
		}
	}
	added := map[string]bool{}
	wantBytes := map[string]int64{}
	for _, pkg := range chosen {
		list := "/var/lib/dpkg/info/" + pkg + ".list"
		body, err := os.ReadFile(list)
		if err != nil {
			t.Skipf("package %s has no file list here: %v", pkg, err)
		}
		entries = append(entries, file(list, string(body)))
		inodes := map[uint64]bool{}
		for _, p := range strings.Fields(string(body)) {
			real, err := realPath(p)
			if err != nil {
				continue // listed but absent (a diversion, a deleted doc)
			}
			fi, err := os.Lstat(real)
			if err != nil {
				continue
			}
			if fi.Mode().IsRegular() {
				if ino := fi.Sys().(*syscall.Stat_t).Ino; !inodes[ino] {
					inodes[ino] = true
					wantBytes[pkg] += fi.Size()
				}
			}
			if added[real] {
				continue
			}
			added[real] = true
			switch {
			case fi.IsDir():
				entries = append(entries, withMode(dir(real), int64(fi.Mode().Perm())))
			case fi.Mode()&os.ModeSymlink != 0:
				target, err := os.Readlink(real)
				if err != nil {
					t.Fatal(err)
				}
				entries = append(entries, symlink(real, target))
			case fi.Mode().IsRegular():
				b, err := os.ReadFile(real)
				if err != nil {
					t.Skipf("cannot read %s: %v", real, err)
				}
				entries = append(entries, tf{name: real, typ: tar.TypeReg, body: string(b), mode: int64(fi.Mode().Perm())})
			}
		}
	}
	img := imageOf(t, v1.Config{}, entries)
	r, err := Analyze(context.Background(), img, "host", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Package{}
	for _, p := range r.Packages {
		if p.Type == "deb" {
			got[p.Name] = p
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d packages, dpkg-query lists %d installed", len(got), len(want))
	}
	for name, version := range want {
		if got[name].Version != version {
			t.Errorf("package %s: version %q, dpkg-query says %q", name, got[name].Version, version)
		}
	}
	for _, pkg := range chosen {
		if got[pkg].Bytes != wantBytes[pkg] || wantBytes[pkg] == 0 {
			t.Errorf("package %s: %d bytes, the host's files hold %d", pkg, got[pkg].Bytes, wantBytes[pkg])
		}
	}
}

// realPath resolves the symlinks in p's parent directories, not in p.
func realPath(p string) (string, error) {
	parent, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return "", err
	}
	return filepath.Join(parent, filepath.Base(p)), nil
}
