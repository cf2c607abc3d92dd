package sandbox

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// listTree returns the paths under root, relative, sorted.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestMountStubs(t *testing.T) {
	old := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	hostFile := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hostFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc"},
		{Destination: "/dev", Type: "tmpfs"},
		{Destination: "/dev/pts", Type: "devpts"}, // nested: left to the child
		{Destination: "/etc/hosts", Type: "bind", Source: hostFile},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: hostFile},
		{Destination: "/var/cache/apt", Type: "bind", Source: t.TempDir()},
		{Destination: "/usr/share", Type: "tmpfs"}, // exists: no stub
	}

	tests := []struct {
		name string
		// during runs between creation and cleanup (what the process does).
		during func(t *testing.T, root string)
		// wantAfter is the tree after cleanup; rootTimes whether the times
		// of the rootfs and /var are restored to the old ones.
		wantAfter     []string
		restoredTimes []string
		changedTimes  []string
	}{
		{
			// /proc and /dev stay, as in BuildKit's images: "/" keeps them.
			name:          "untouched: all but the runtime's mount points go, times restored",
			during:        func(*testing.T, string) {},
			wantAfter:     []string{"dev", "proc", "usr", "usr/share", "var"},
			restoredTimes: []string{"var"},
			changedTimes:  []string{"."},
		},
		{
			name: "process writes into a stub directory",
			during: func(t *testing.T, root string) {
				if err := os.WriteFile(filepath.Join(root, "etc/written"), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantAfter: []string{"dev", "etc", "etc/written", "proc", "usr", "usr/share", "var"},
			// "/" keeps a new entry (etc), so its times are not set back.
			restoredTimes: []string{"var"},
			changedTimes:  []string{"."},
		},
		{
			name: "process writes into a stub file and changes var",
			during: func(t *testing.T, root string) {
				if err := os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, "var/new"), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantAfter:    []string{"dev", "etc", "etc/hosts", "proc", "usr", "usr/share", "var", "var/new"},
			changedTimes: []string{".", "var"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range []string{"usr/share", "var"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, d := range []string{".", "var"} {
				if err := os.Chtimes(filepath.Join(root, d), old, old); err != nil {
					t.Fatal(err)
				}
			}
			s, err := createMountStubs(root, mounts, os.Geteuid(), os.Getegid())
			if err != nil {
				t.Fatal(err)
			}
			created := []string{"dev", "etc", "etc/hosts", "etc/resolv.conf", "proc", "usr", "usr/share", "var", "var/cache", "var/cache/apt"}
			if diff := cmp.Diff(created, listTree(t, root)); diff != "" {
				t.Fatalf("after creating stubs (-want +got):\n%s", diff)
			}
			if st, err := os.Stat(filepath.Join(root, "etc/hosts")); err != nil || !st.Mode().IsRegular() {
				t.Fatalf("/etc/hosts stub is not a file: %v", err)
			}
			tc.during(t, root)
			if err := s.cleanup(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantAfter, listTree(t, root)); diff != "" {
				t.Errorf("after cleanup (-want +got):\n%s", diff)
			}
			for _, d := range tc.restoredTimes {
				st, err := os.Stat(filepath.Join(root, d))
				if err != nil {
					t.Fatal(err)
				}
				if !st.ModTime().Equal(old) {
					t.Errorf("mtime of %s = %v, want it restored to %v", d, st.ModTime(), old)
				}
			}
			for _, d := range tc.changedTimes {
				st, err := os.Stat(filepath.Join(root, d))
				if err != nil {
					t.Fatal(err)
				}
				if st.ModTime().Equal(old) {
					t.Errorf("mtime of %s was set back to %v though the process changed it", d, old)
				}
			}
		})
	}
}

func TestMountStubsSymlinkStaysInside(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	// An image whose /etc/resolv.conf points to an absolute path: the stub
	// must be made at that path inside the rootfs, never on the host.
	if err := os.Symlink(outside+"/resolv.conf", filepath.Join(root, "etc/resolv.conf")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := createMountStubs(root, []specs.Mount{{Destination: "/etc/resolv.conf", Type: "bind", Source: src}}, os.Geteuid(), os.Getegid())
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("a stub was created outside the rootfs: %v", entries)
	}
	inside := filepath.Join(root, outside, "resolv.conf")
	if _, err := os.Stat(inside); err != nil {
		t.Fatalf("stub not created inside the rootfs at %s: %v", inside, err)
	}
	if err := s.cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/resolv.conf")); err != nil {
		t.Errorf("the image's symlink was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, filepath.Dir(outside))); err == nil {
		t.Errorf("stub directories left behind: %s", filepath.Dir(outside))
	}
}
