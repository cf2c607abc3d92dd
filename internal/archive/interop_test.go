package archive

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestApplyGNUTar applies tars written by GNU tar, in its POSIX (PAX) and
// GNU formats, with sparse files: layers come from many writers.
func TestApplyGNUTar(t *testing.T) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("no tar(1) on this machine")
	}
	src := t.TempDir()
	build(t, src, richTree())
	sparse := filepath.Join(src, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("middle"), 5<<20)
	f.Truncate(12 << 20)
	f.Close()
	lutimes(sparse, testTime, testTime)
	lutimes(src, testTime, testTime)

	want := describe(t, src)
	delete(want, "sock")
	for _, format := range []string{"posix", "gnu"} {
		t.Run(format, func(t *testing.T) {
			cmd := exec.Command(tarBin, "--format="+format, "--sparse", "--numeric-owner",
				"--xattrs", "--xattrs-include=*", "-C", src, "-cf", "-", ".")
			var out, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("tar: %v: %s", err, stderr.String())
			}
			dst := t.TempDir()
			apply(t, dst, out.Bytes(), ApplyOptions{NoChown: !isRoot(), NoDevices: !isRoot()})
			got := describe(t, dst)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tree from GNU tar (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteDirReadByGNUTar checks that GNU tar lists and extracts what
// WriteDir writes, contents, links and xattrs included.
func TestWriteDirReadByGNUTar(t *testing.T) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("no tar(1) on this machine")
	}
	src := t.TempDir()
	build(t, src, richTree())
	layer := writeDir(t, src, WriteOptions{})
	dst := t.TempDir()
	cmd := exec.Command(tarBin, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", dst, "-xpf", "-")
	cmd.Stdin = bytes.NewReader(layer)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v: %s", err, out)
	}
	want := describe(t, src)
	delete(want, "sock")
	if diff := cmp.Diff(want, describe(t, dst)); diff != "" {
		t.Errorf("GNU tar's extraction of a WriteDir layer (-want +got):\n%s", diff)
	}
}
