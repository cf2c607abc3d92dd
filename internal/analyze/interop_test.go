package analyze

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tool returns the path of a command-line tool or skips t.
func tool(t *testing.T, name, why string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("needs %s (%s); Debian: apt-get install %s", name, why, name)
	}
	return p
}

// run runs a command and fails t with its output when it fails.
func run(t *testing.T, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// layoutImage reads the image tagged ref from the OCI layout at dir.
func layoutImage(t *testing.T, dir, ref string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == ref {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("no image tagged %q in %s", ref, dir)
	return nil
}

// unpackedFileBytes counts the regular-file bytes under root, each inode
// once: the ground truth for TotalFileBytes.
func unpackedFileBytes(t *testing.T, root string) (total int64, files int) {
	t.Helper()
	seen := map[uint64]bool{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == root || fi.IsDir() {
			return nil
		}
		files++
		if !fi.Mode().IsRegular() {
			return nil
		}
		ino := fi.Sys().(*syscall.Stat_t).Ino
		if !seen[ino] {
			seen[ino] = true
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total, files
}

// TestUmociImage analyses an image that umoci made from real filesystem
// changes (its own whiteouts, hardlinks and modes), and checks the totals
// against umoci's own unpacking of the result.
func TestUmociImage(t *testing.T) {
	umoci := tool(t, "umoci", "to write an OCI layout from real filesystem changes")
	var rootless []string
	if os.Geteuid() != 0 {
		rootless = []string{"--rootless"}
	}
	dir := t.TempDir()
	lay, bundle := filepath.Join(dir, "layout"), filepath.Join(dir, "bundle")
	run(t, dir, umoci, "init", "--layout", lay)
	run(t, dir, umoci, "new", "--image", lay+":t")
	run(t, dir, umoci, append([]string{"unpack", "--image", lay + ":t", bundle}, rootless...)...)
	rootfs := filepath.Join(bundle, "rootfs")
	write := func(name string, size int, mode os.FileMode) {
		p := filepath.Join(rootfs, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/hello", 100, 0o644)
	write("big", 5000, 0o644)
	write("dir/a", 300, 0o644)
	write("dir/sub/b", 40, 0o644)
	write("usr/bin/suid", 10, 0o4755|os.ModeSetuid)
	write("usr/bin/busybox", 20, 0o755)
	if err := os.Link(filepath.Join(rootfs, "big"), filepath.Join(rootfs, "hl")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(rootfs, "usr/bin/sh")); err != nil {
		t.Fatal(err)
	}
	run(t, dir, umoci, "repack", "--image", lay+":t", bundle)

	// Second layer (umoci diffs against the image a bundle was unpacked
	// from, so unpack again): delete through the hardlink's other name,
	// delete a tree, overwrite a file.
	bundle = filepath.Join(dir, "bundle2")
	run(t, dir, umoci, append([]string{"unpack", "--image", lay + ":t", bundle}, rootless...)...)
	rootfs = filepath.Join(bundle, "rootfs")
	if err := os.Remove(filepath.Join(rootfs, "big")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(rootfs, "dir")); err != nil {
		t.Fatal(err)
	}
	write("etc/hello", 30, 0o644)
	run(t, dir, umoci, "repack", "--image", lay+":t", bundle)
	run(t, dir, umoci, "config", "--image", lay+":t", "--config.user", "65532")

	img := layoutImage(t, lay, "t")
	r, err := Analyze(context.Background(), img, "oci:"+lay+":t", Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Removing /big changes /hl's link count, so umoci writes /hl again in
	// the second layer: the first copy of the 5000 bytes is waste, as are
	// the old /etc/hello and /dir.
	if r.WastedBytes != 5000+100+300+40 {
		t.Errorf("wasted = %d, want 5440", r.WastedBytes)
	}
	lb, total, wasted := referenceCount(t, img)
	if lb != r.LayerFileBytes || total != r.TotalFileBytes || wasted != r.WastedBytes {
		t.Errorf("reference: layer bytes %d, total %d, wasted %d; analyze: %d, %d, %d", lb, total, wasted, r.LayerFileBytes, r.TotalFileBytes, r.WastedBytes)
	}

	// Ground truth: umoci unpacks the final image; count its files.
	check := filepath.Join(dir, "check")
	run(t, dir, umoci, append([]string{"unpack", "--image", lay + ":t", check}, rootless...)...)
	onDisk, files := unpackedFileBytes(t, filepath.Join(check, "rootfs"))
	if onDisk != r.TotalFileBytes || files != r.Files {
		t.Errorf("unpacked: %d bytes in %d files; analyze: %d bytes in %d files", onDisk, files, r.TotalFileBytes, r.Files)
	}

	var rules []string
	for _, f := range r.Findings {
		rules = append(rules, f.Rule+" "+f.Path)
	}
	want := []string{"setuid /usr/bin/suid", "shell /usr/bin/busybox", "shell /usr/bin/sh", "user-unresolvable config:User"}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// TestSkopeoCopies analyses the same image after skopeo copied it into an
// OCI layout and a docker-archive: the filesystem numbers must not change.
func TestSkopeoCopies(t *testing.T) {
	skopeo := tool(t, "skopeo", "to write an OCI layout and a docker-archive")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	p, err := layout.Write(src, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	orig := demoImage(t)
	if err := p.AppendImage(orig, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "demo"})); err != nil {
		t.Fatal(err)
	}
	want, err := Analyze(context.Background(), orig, "", Options{})
	if err != nil {
		t.Fatal(err)
	}

	ociDst, archive := filepath.Join(dir, "oci"), filepath.Join(dir, "demo.tar")
	run(t, dir, skopeo, "--insecure-policy", "copy", "oci:"+src+":demo", "oci:"+ociDst+":demo")
	run(t, dir, skopeo, "--insecure-policy", "copy", "oci:"+src+":demo", "docker-archive:"+archive+":demo:latest")

	fromArchive, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, img := range map[string]v1.Image{"oci layout": layoutImage(t, ociDst, "demo"), "docker-archive": fromArchive} {
		t.Run(name, func(t *testing.T) {
			got, err := Analyze(context.Background(), img, "", Options{})
			if err != nil {
				t.Fatal(err)
			}
			// Digests, media types and compressed sizes belong to the
			// copy; the filesystem and what is in it must be the same.
			ignore := cmpopts.IgnoreFields(Report{}, "Image", "CompressedSize", "Layers", "Base", "Notes")
			if diff := cmp.Diff(want, got, ignore); diff != "" {
				t.Errorf("report changed (-want +got):\n%s", diff)
			}
			if len(got.Layers) != len(want.Layers) {
				t.Fatalf("%d layers, want %d", len(got.Layers), len(want.Layers))
			}
			for i := range want.Layers {
				w, g := want.Layers[i], got.Layers[i]
				if w.Size != g.Size || w.Files != g.Files || w.FileBytes != g.FileBytes || w.WastedBytes != g.WastedBytes || w.DiffID != g.DiffID || w.CreatedBy != g.CreatedBy {
					t.Errorf("layer %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
