package snapshot

import (
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
