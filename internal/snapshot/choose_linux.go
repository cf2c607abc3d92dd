package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/moby/sys/atomicwriter"
	"golang.org/x/sys/unix"
)

// checkVersion names what Supported checks; a stamp written by another
// version of the check is not trusted.
const checkVersion = 1

// supported is Supported; tests count its calls.
var supported = Supported

// New returns the overlay snapshotter where overlayfs works in workDir (see
// Supported), else the copying one.
//
// Checking mounts and unmounts a tiny overlay, a few milliseconds of every
// build (and many more on a busy disk), so when stamp is not empty a check
// that passed is remembered in that file for this kernel, filesystem and
// user namespace, and a later New with the same stamp trusts it without
// mounting. Should an overlay mount then fail, the stamp is removed and the
// check is run again: if overlayfs does not work after all, that Prepare
// and every later one copy instead, so a stale stamp costs one check.
func New(workDir, stamp string) (Snapshotter, error) {
	if err := os.MkdirAll(workDir, 0o711); err != nil {
		return nil, fmt.Errorf("creating snapshot directory: %w", err)
	}
	var fp []byte
	if stamp != "" {
		fp = fingerprint(workDir)
		if b, err := os.ReadFile(stamp); err == nil && fp != nil && bytes.Equal(b, fp) {
			ov, err := NewOverlay(workDir)
			if err != nil {
				return nil, err
			}
			return &trusted{overlay: ov, workDir: workDir, stamp: stamp}, nil
		}
	}
	if err := supported(workDir); err != nil {
		if stamp != "" {
			os.Remove(stamp)
		}
		return NewCopy(workDir)
	}
	if fp != nil {
		atomicwriter.WriteFile(stamp, fp, 0o644) // best effort: without it, the next build checks again
	}
	return NewOverlay(workDir)
}

// fingerprint describes what the overlay check's verdict depends on: the
// check itself, the kernel, the filesystem workDir is on (its type and
// device) and whether the process runs in a user namespace, as whom. nil
// if it cannot be told.
func fingerprint(workDir string) []byte {
	var u unix.Utsname
	var fs unix.Statfs_t
	var st unix.Stat_t
	if unix.Uname(&u) != nil || unix.Statfs(workDir, &fs) != nil || unix.Stat(workDir, &st) != nil {
		return nil
	}
	return fmt.Appendf(nil, "whittle overlay check %d\nkernel %s %s\nfilesystem %#x device %d\nuser namespace %v euid %d\n",
		checkVersion, unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Version[:]),
		fs.Type, st.Dev, inUserNamespace(), os.Geteuid())
}

// trusted is an overlay snapshotter chosen on a remembered verdict. The
// first mount failure makes it check overlayfs again, and if the check
// fails it falls back to copies for good.
type trusted struct {
	overlay        Snapshotter
	workDir, stamp string

	mu        sync.Mutex
	rechecked bool
	fallback  Snapshotter
}

func (t *trusted) Prepare(ctx context.Context, lowers []string) (Active, error) {
	t.mu.Lock()
	fallback := t.fallback
	t.mu.Unlock()
	if fallback != nil {
		return fallback.Prepare(ctx, lowers)
	}
	a, err := t.overlay.Prepare(ctx, lowers)
	if err == nil || ctx.Err() != nil {
		return a, err
	}
	t.mu.Lock()
	if !t.rechecked {
		t.rechecked = true
		os.Remove(t.stamp)
		if supported(t.workDir) == nil {
			if fp := fingerprint(t.workDir); fp != nil {
				atomicwriter.WriteFile(t.stamp, fp, 0o644)
			}
		} else if t.fallback, err = NewCopy(t.workDir); err != nil {
			t.mu.Unlock()
			return nil, err
		}
	}
	fallback = t.fallback
	t.mu.Unlock()
	if fallback == nil {
		// Overlay works: the failure was this mount's own.
		return nil, err
	}
	return fallback.Prepare(ctx, lowers)
}
