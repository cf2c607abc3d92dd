package snapshot

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/whittle-build/whittle/internal/testutil"
)

// countChecks makes supported count its calls for the test's duration.
func countChecks(t *testing.T) *int {
	n := new(int)
	t.Cleanup(func() { supported = Supported })
	supported = func(dir string) error {
		*n++
		return Supported(dir)
	}
	return n
}

// writeAndCommit writes a file through a snapshot of sn and checks that
// the diff holds it.
func writeAndCommit(t *testing.T, sn Snapshotter) {
	t.Helper()
	a, err := sn.Prepare(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	if err := os.WriteFile(filepath.Join(a.Root(), "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	diff, err := a.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(diff)
	if b, err := os.ReadFile(filepath.Join(diff, "f")); err != nil || string(b) != "x" {
		t.Fatalf("diff has f = %q, %v; want x", b, err)
	}
}

func TestNewRemembersCheck(t *testing.T) {
	testutil.RequireRoot(t)
	workDir := filepath.Join(t.TempDir(), "snapshots")
	if err := os.MkdirAll(workDir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := Supported(workDir); err != nil {
		t.Skipf("overlay not supported here: %v", err)
	}
	stamp := filepath.Join(t.TempDir(), "overlay-check")
	checks := countChecks(t)

	sn, err := New(workDir, stamp)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sn.(*overlay); !ok || *checks != 1 {
		t.Fatalf("first New: %T after %d checks; want *overlay after 1", sn, *checks)
	}
	b, err := os.ReadFile(stamp)
	if err != nil || !bytes.Equal(b, fingerprint(workDir)) {
		t.Fatalf("stamp = %q, %v; want the fingerprint %q", b, err, fingerprint(workDir))
	}

	sn, err = New(workDir, stamp)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sn.(*trusted); !ok || *checks != 1 {
		t.Fatalf("second New: %T after %d checks; want *trusted without another check", sn, *checks)
	}
	writeAndCommit(t, sn)
	if *checks != 1 {
		t.Errorf("a working mount checked again (%d checks)", *checks)
	}

	// A stamp from another kernel (or check, or filesystem) is not trusted.
	if err := os.WriteFile(stamp, bytes.Replace(b, []byte("kernel "), []byte("kernel 0.0 "), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if sn, err = New(workDir, stamp); err != nil {
		t.Fatal(err)
	}
	if _, ok := sn.(*overlay); !ok || *checks != 2 {
		t.Errorf("New with a foreign stamp: %T after %d checks; want *overlay after 2", sn, *checks)
	}

	// Without a stamp file name nothing is remembered.
	if sn, err = New(workDir, ""); err != nil {
		t.Fatal(err)
	}
	if _, ok := sn.(*overlay); !ok || *checks != 3 {
		t.Errorf("New without a stamp: %T after %d checks; want *overlay after 3", sn, *checks)
	}
}

// TestNewStaleStamp trusts a stamp where overlayfs cannot work (an upper
// directory on overlayfs itself) and checks that the first Prepare notices,
// forgets the stamp and copies instead.
func TestNewStaleStamp(t *testing.T) {
	testutil.RequireRoot(t)
	outer, err := NewOverlay(filepath.Join(t.TempDir(), "outer"))
	if err != nil {
		t.Fatal(err)
	}
	mnt, err := outer.Prepare(context.Background(), nil)
	if err != nil {
		t.Skipf("overlay not supported here: %v", err)
	}
	t.Cleanup(func() { mnt.Release() })
	workDir := filepath.Join(mnt.Root(), "snapshots")
	if err := os.MkdirAll(workDir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := Supported(workDir); err == nil {
		t.Skip("this kernel takes an overlay upper directory on overlayfs; no stale stamp to test")
	}
	stamp := filepath.Join(t.TempDir(), "overlay-check")
	if err := os.WriteFile(stamp, fingerprint(workDir), 0o644); err != nil {
		t.Fatal(err)
	}
	checks := countChecks(t)

	sn, err := New(workDir, stamp)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sn.(*trusted); !ok || *checks != 0 {
		t.Fatalf("New: %T after %d checks; want *trusted without a check", sn, *checks)
	}
	writeAndCommit(t, sn)
	if *checks != 1 {
		t.Errorf("the failed mount led to %d checks; want 1", *checks)
	}
	if _, err := os.Stat(stamp); !os.IsNotExist(err) {
		t.Errorf("the stale stamp is still there (%v)", err)
	}
	writeAndCommit(t, sn)
	if *checks != 1 {
		t.Errorf("later snapshots checked again (%d checks); want the copies kept", *checks)
	}
}
