package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whittle-build/whittle/internal/testutil"
)

func TestOverlay(t *testing.T) {
	testutil.RequireRoot(t)
	testSnapshotter(t, func(t *testing.T, workDir string) Snapshotter {
		if err := Supported(workDir); err != nil {
			t.Skipf("overlay not supported here: %v", err)
		}
		sn, err := NewOverlay(workDir)
		if err != nil {
			t.Fatal(err)
		}
		return sn
	})
}

// TestOverlayClassicMount runs the suite with mount(2) and a single option
// string, as on kernels before 6.8.
func TestOverlayClassicMount(t *testing.T) {
	testutil.RequireRoot(t)
	testSnapshotter(t, func(t *testing.T, workDir string) Snapshotter {
		sn, err := NewOverlay(workDir)
		if err != nil {
			t.Fatal(err)
		}
		sn.(*overlay).classic = true
		return sn
	})
}

func TestCopy(t *testing.T) {
	// Owners, devices and trusted.* attributes need root.
	testutil.RequireRoot(t)
	testSnapshotter(t, func(t *testing.T, workDir string) Snapshotter {
		sn, err := NewCopy(workDir)
		if err != nil {
			t.Fatal(err)
		}
		return sn
	})
}

// TestMountErrorLog checks that a failed mount says what the kernel logged,
// without the log's severity prefix: here, an upper directory on overlayfs.
func TestMountErrorLog(t *testing.T) {
	testutil.RequireRoot(t)
	outer, err := NewOverlay(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mnt, err := outer.Prepare(context.Background(), nil)
	if err != nil {
		t.Skipf("overlay not supported here: %v", err)
	}
	defer mnt.Release()
	dir := mnt.Root()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err = mountOverlay(overlayOptions{lowers: []string{dir + "/lower"}, upper: dir + "/upper", work: dir + "/work"}, dir+"/merged")
	if err == nil {
		unmount(dir + "/merged")
		t.Skip("this kernel takes an upper directory on overlayfs")
	}
	if !strings.Contains(err.Error(), "(kernel: overlay: ") {
		t.Errorf("error %q does not end with the kernel's log message", err)
	}
}

// TestOverlayVolatile checks that snapshots are mounted volatile, with
// both mount APIs: unmounting one must not sync the store's filesystem.
func TestOverlayVolatile(t *testing.T) {
	testutil.RequireRoot(t)
	for _, classic := range []bool{false, true} {
		sn, err := NewOverlay(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		sn.(*overlay).classic = classic
		a, err := sn.Prepare(context.Background(), nil)
		if err != nil {
			t.Skipf("overlay not supported here: %v", err)
		}
		opts, err := superOptions(a.Root())
		a.Release()
		if err != nil {
			t.Fatal(err)
		}
		// Linux 6.7 and later show it as fsync=volatile.
		if o := "," + opts + ","; !strings.Contains(o, ",volatile,") && !strings.Contains(o, ",fsync=volatile,") {
			t.Errorf("classic=%v: the overlay's options are %q, without volatile", classic, opts)
		}
	}
}

// TestOverlayWithoutVolatile: on a kernel without the volatile option the
// mount is made without it, and later mounts do not ask again.
func TestOverlayWithoutVolatile(t *testing.T) {
	testutil.RequireRoot(t)
	sn, err := NewOverlay(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := sn.(*overlay)
	o.refuseVolatile = true
	for i := range 2 {
		a, err := sn.Prepare(context.Background(), nil)
		if err != nil {
			t.Fatalf("mount %d: %v", i, err)
		}
		opts, err := superOptions(a.Root())
		a.Release()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(opts, "volatile") {
			t.Errorf("mount %d: options %q", i, opts)
		}
	}
	if !o.noVolatile.Load() {
		t.Error("the refusal was not remembered")
	}
}

// superOptions returns the super options /proc/self/mountinfo gives for the
// mount at target.
func superOptions(target string) (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if f := strings.Fields(pre); ok && len(f) > 4 && f[4] == target {
			if g := strings.Fields(post); len(g) == 3 {
				return g[2], nil
			}
		}
	}
	return "", fmt.Errorf("%s is not in /proc/self/mountinfo", target)
}
