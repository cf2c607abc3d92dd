package archive

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/whittle-build/whittle/internal/testutil"
	"golang.org/x/sys/unix"
)

// mountOverlay mounts an overlay at merged and unmounts it at cleanup.
func mountOverlay(t *testing.T, merged, lower, upper, work string, userxattr bool) {
	t.Helper()
	opts := "lowerdir=" + lower
	if upper != "" {
		opts += ",upperdir=" + upper + ",workdir=" + work
	}
	if userxattr {
		// userxattr already rules out redirects and metacopy; the kernel
		// refuses redirect_dir=off (which means "follow") beside it.
		opts += ",userxattr"
	} else if upper != "" {
		opts += ",redirect_dir=off,metacopy=off"
	}
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mounting overlay (%s): %v", opts, err)
	}
	t.Cleanup(func() { unix.Unmount(merged, unix.MNT_DETACH) })
}

// TestOverlayLayers runs a change through a real overlayfs mount: the
// upper dir becomes a layer with WriteDir, and that layer applied (flat, or
// as an overlay snapshot under a new mount) gives back what the mount
// showed.
func TestOverlayLayers(t *testing.T) {
	testutil.RequireRoot(t)
	for _, userxattr := range []bool{false, true} {
		xattr := OverlayOpaqueXattr
		if userxattr {
			xattr = UserOverlayOpaqueXattr
		}
		t.Run(xattr, func(t *testing.T) {
			tmp := t.TempDir()
			dirs := map[string]string{}
			for _, d := range []string{"base", "s1", "upper", "work", "merged", "s2", "merged2", "flat"} {
				dirs[d] = filepath.Join(tmp, d)
				if err := os.Mkdir(dirs[d], 0o755); err != nil {
					t.Fatal(err)
				}
			}
			build(t, dirs["base"], []node{
				file("a", "1", 0o644),
				dirNode("d", 0o755),
				file("d/x", "2", 0o644),
				dirNode("d/sub", 0o755),
				file("d/sub/y", "3", 0o644),
				dirNode("keep", 0o755),
				file("keep/k", "4", 0o644),
				file("keep/gone", "5", 0o644),
				file("hl", "6", 0o644),
				hardlink("hl2", "hl"),
			})
			layer1 := writeDir(t, dirs["base"], WriteOptions{})
			opts := ApplyOptions{Overlay: true, OpaqueXattr: xattr}
			apply(t, dirs["s1"], layer1, opts)

			mountOverlay(t, dirs["merged"], dirs["s1"], dirs["upper"], dirs["work"], userxattr)
			m := dirs["merged"]
			steps := []func() error{
				func() error { return os.Remove(filepath.Join(m, "a")) },
				func() error { return os.RemoveAll(filepath.Join(m, "d")) },
				func() error { return os.Mkdir(filepath.Join(m, "d"), 0o700) },
				func() error { return os.WriteFile(filepath.Join(m, "d/new"), []byte("7"), 0o644) },
				func() error { return os.Remove(filepath.Join(m, "keep/gone")) },
				func() error { return os.WriteFile(filepath.Join(m, "keep/k"), []byte("8"), 0o644) },
				func() error { return os.WriteFile(filepath.Join(m, "hl"), []byte("9"), 0o644) },
				func() error { return os.Symlink("keep/k", filepath.Join(m, "ln")) },
			}
			for i, step := range steps {
				if err := step(); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			want := listTree(t, m, xattr)
			if err := unix.Unmount(m, 0); err != nil {
				t.Fatal(err)
			}

			layer2 := writeDir(t, dirs["upper"], WriteOptions{OpaqueXattr: xattr})
			names := strings.Join(tarNames(t, layer2), " ")
			for _, must := range []string{".wh.a", "d/ d/.wh..wh..opq d/new", "keep/.wh.gone", "keep/k"} {
				if !strings.Contains(names, must) {
					t.Errorf("layer from the upper dir lacks %q: %s", must, names)
				}
			}

			// Flattened: layer 1 then layer 2 into one directory.
			apply(t, dirs["flat"], layer1, ApplyOptions{})
			apply(t, dirs["flat"], layer2, ApplyOptions{})
			if diff := cmp.Diff(want, listTree(t, dirs["flat"], xattr)); diff != "" {
				t.Errorf("flattened layers differ from the overlay view (-want +got):\n%s", diff)
			}

			// As snapshots: layer 2 unpacked in overlay format over layer 1.
			apply(t, dirs["s2"], layer2, opts)
			mountOverlay(t, dirs["merged2"], dirs["s2"]+":"+dirs["s1"], "", "", userxattr)
			if diff := cmp.Diff(want, listTree(t, dirs["merged2"], xattr)); diff != "" {
				t.Errorf("stacked snapshots differ from the overlay view (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteDirRefusesRedirect(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	build(t, dir, []node{{path: "moved", kind: kindDir, mode: 0o755, uid: -1, mtime: testTime,
		xattrs: map[string]string{"trusted.overlay.redirect": "/orig"}}})
	if err := WriteDir(t.Context(), &strings.Builder{}, dir, WriteOptions{}); err == nil || !strings.Contains(err.Error(), "redirect_dir=off") {
		t.Errorf("WriteDir of a redirected dir: %v, want an error", err)
	}
	// Other overlay bookkeeping is dropped, not written.
	clean := t.TempDir()
	build(t, clean, []node{{path: "f", kind: kindRegular, data: "x", mode: 0o644, uid: -1, mtime: testTime,
		xattrs: map[string]string{"trusted.overlay.origin": "\x00\xfb", "user.overlay.impure": "y", "user.keep": "1"}}})
	for _, h := range readTar(t, writeDir(t, clean, WriteOptions{})) {
		want := map[string]string{paxXattrPrefix + "user.keep": "1"}
		if diff := cmp.Diff(want, h.PAXRecords); diff != "" {
			t.Errorf("%s: PAX records (-want +got):\n%s", h.Name, diff)
		}
	}
}
