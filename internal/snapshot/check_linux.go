package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/whittle-build/whittle/internal/userns"
)

// Supported reports whether overlay snapshots work in workDir: it mounts a
// tiny overlay there, checks that a lower file shows through, that deleting
// it leaves a whiteout in the upper directory and that an opaque directory
// hides the lower one, and unmounts it (containerd's overlayutils check,
// extended to what Commit relies on). nil means NewOverlay(workDir) works.
func Supported(workDir string) error {
	if err := os.MkdirAll(workDir, 0o711); err != nil {
		return fmt.Errorf("checking overlay support: %w", err)
	}
	dir, err := os.MkdirTemp(workDir, "overlay-check-")
	if err != nil {
		return fmt.Errorf("checking overlay support: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := checkOverlay(dir, inUserNamespace()); err != nil {
		return fmt.Errorf("checking overlay support in %s: %w", workDir, err)
	}
	return nil
}

func checkOverlay(dir string, userxattr bool) error {
	lower := filepath.Join(dir, "lower")
	for _, d := range []string{"lower/d", "upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(lower, "f"), []byte("x"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(lower, "d/g"), []byte("x"), 0o644); err != nil {
		return err
	}
	merged := filepath.Join(dir, "merged")
	opts := overlayOptions{lowers: []string{lower}, upper: filepath.Join(dir, "upper"), work: filepath.Join(dir, "work"), userxattr: userxattr}
	err := mountOverlay(opts, merged)
	if errors.Is(err, errNoLowerdirPlus) {
		err = mountOverlayClassic(opts, merged)
	}
	if err != nil {
		return err
	}
	checkErr := func() error {
		if b, err := os.ReadFile(filepath.Join(merged, "f")); err != nil || !bytes.Equal(b, []byte("x")) {
			return fmt.Errorf("a lower file does not show through: %v", err)
		}
		if err := os.Remove(filepath.Join(merged, "f")); err != nil {
			return err
		}
		if err := os.RemoveAll(filepath.Join(merged, "d")); err != nil {
			return err
		}
		if err := os.Mkdir(filepath.Join(merged, "d"), 0o755); err != nil {
			return err
		}
		if entries, err := os.ReadDir(filepath.Join(merged, "d")); err != nil || len(entries) != 0 {
			return fmt.Errorf("a recreated directory is not opaque: %v %v", entries, err)
		}
		return nil
	}()
	if err := unmount(merged); err != nil {
		return err
	}
	if checkErr != nil {
		return checkErr
	}
	st, err := lstat(filepath.Join(dir, "upper/f"))
	if err != nil || !isWhiteout(st) {
		return fmt.Errorf("deleting a lower file left no whiteout in the upper directory: %v", err)
	}
	if !isOpaque(filepath.Join(dir, "upper/d")) {
		return errors.New("a recreated directory has no opaque attribute in the upper directory")
	}
	return nil
}

// inUserNamespace reports whether the process runs in a user namespace
// other than the initial one, where overlayfs needs userxattr.
func inUserNamespace() bool {
	return !userns.Current().Initial()
}

// checkLowers makes sure every lower is a directory.
func checkLowers(lowers []string) error {
	for i, l := range lowers {
		st, err := os.Stat(l)
		if err != nil {
			return fmt.Errorf("preparing snapshot: lower %d: %w", i, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("preparing snapshot: lower %d: %s is not a directory", i, l)
		}
	}
	return nil
}

// opaqueXattrName is the attribute this process's snapshots mark opaque
// directories with.
func opaqueXattrName() string {
	if inUserNamespace() {
		return UserOpaqueXattr
	}
	return OpaqueXattr
}
