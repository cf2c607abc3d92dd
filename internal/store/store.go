package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/whittle-build/whittle/internal/userns"

	"golang.org/x/sys/unix"
)

// Store is an open local store. It is safe for concurrent use by several
// goroutines and, through file locks, by several processes.
type Store struct {
	root string
	// session is this Store's private staging directory under tmp/.
	session string
	// sessionLock is held (flock LOCK_EX) for the Store's lifetime so that
	// other processes know the session is alive.
	sessionLock *os.File
	// gcLock is held shared while the Store is open.
	gcLock *os.File
	// opaqueXattr is the xattr that marks opaque directories in snapshots.
	opaqueXattr string
	// bootID names the host's current boot, for the lists of snapshots
	// written without a sync (unsynced.go); empty when unknown.
	bootID string

	// layerMu serialises read-modify-write of layer metadata in this process.
	layerMu sync.Mutex
	// unpacks deduplicates concurrent unpacking of one layer.
	unpacks singleflight.Group
}

// DefaultRoot returns the store directory used when none is given:
// /var/lib/whittle for root, else (rootless, also inside whittle's own user
// namespace) $XDG_DATA_HOME/whittle, i.e. ~/.local/share/whittle.
func DefaultRoot() string {
	if !userns.Current().Rootless() {
		return "/var/lib/whittle"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "whittle")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), fmt.Sprintf("whittle-%d", os.Geteuid()))
	}
	return filepath.Join(home, ".local", "share", "whittle")
}

const layoutFile = `{"imageLayoutVersion":"1.0.0"}`

// Open opens the store at root, creating it if needed, sweeps staging
// directories left behind by processes that died and, in the first Open
// after the host rebooted, removes the snapshots a crash may have torn
// (unsynced.go).
func Open(root string) (*Store, error) {
	return openBoot(root, readBootID())
}

// openBoot is Open with the boot id given (tests reboot the host this way).
// A store that refuses this user anywhere Open writes (its directories,
// lock files, index) is named as such: the error wraps ErrNoAccess.
func openBoot(root, bootID string) (*Store, error) {
	s, err := openRoot(root, bootID)
	if errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("store %s: %w: %w", root, ErrNoAccess, err)
	}
	return s, err
}

func openRoot(root, bootID string) (*Store, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", root, err)
	}
	for _, d := range []string{"blobs/sha256", "layers/sha256", "snapshots/sha256", "cache/sha256", "snapshots/unsynced", "contexts", "mounts", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("opening store: %w", err)
		}
	}
	s := &Store{root: root, opaqueXattr: "trusted.overlay.opaque", bootID: bootID}
	if userns.Current().Rootless() {
		// Overlay mounts in a user namespace use userxattr (Linux 5.11+).
		s.opaqueXattr = "user.overlay.opaque"
	}
	if _, err := os.Stat(s.path("oci-layout")); errors.Is(err, os.ErrNotExist) {
		if err := s.writeFileAtomic("oci-layout", []byte(layoutFile)); err != nil {
			return nil, fmt.Errorf("opening store: %w", err)
		}
	}
	if _, err := os.Stat(s.path("index.json")); errors.Is(err, os.ErrNotExist) {
		if err := s.updateIndex(func(*index) error { return nil }); err != nil {
			return nil, fmt.Errorf("opening store: %w", err)
		}
	}
	s.gcLock, err = lockFile(s.path("gc.lock"), unix.LOCK_SH)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	if err := s.newSession(); err != nil {
		s.Close()
		return nil, err
	}
	s.sweep()
	if err := s.recoverUnsynced(); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening store: %w", err)
	}
	return s, nil
}

// Root returns the store's directory.
func (s *Store) Root() string { return s.root }

// Close releases the store's locks and removes its staging directory.
func (s *Store) Close() error {
	if s.session != "" {
		os.RemoveAll(s.session)
		os.Remove(s.session + ".lock")
	}
	if s.sessionLock != nil {
		s.sessionLock.Close()
	}
	if s.gcLock != nil {
		s.gcLock.Close()
	}
	return nil
}

func (s *Store) path(parts ...string) string {
	return filepath.Join(append([]string{s.root}, parts...)...)
}

// TempDir makes a new empty directory in the store's staging area, on the
// same filesystem as the store, for the caller to fill and then hand to a
// method that renames it into place (or remove).
func (s *Store) TempDir(prefix string) (string, error) {
	d, err := os.MkdirTemp(s.session, prefix)
	if err != nil {
		return "", fmt.Errorf("making a staging directory: %w", err)
	}
	return d, nil
}

func (s *Store) newSession() error {
	for attempt := 1; ; attempt++ {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		name := s.path("tmp", "s-"+hex.EncodeToString(b[:]))
		f, err := lockFile(name+".lock", unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			// Another process's sweep saw the lock file between its
			// creation and its locking, took it for a dead session's and
			// holds it to remove it: take another name.
			if errors.Is(err, unix.EWOULDBLOCK) && attempt < 10 {
				continue
			}
			return fmt.Errorf("opening store: %w", err)
		}
		if !isFile(f, name+".lock") {
			// Swept (locked, removed and released) before we locked it:
			// our lock is on a file no other process can see.
			f.Close()
			continue
		}
		if err := os.Mkdir(name, 0o700); err != nil {
			f.Close()
			return fmt.Errorf("opening store: %w", err)
		}
		s.session, s.sessionLock = name, f
		return nil
	}
}

// isFile reports whether the open file f is still the one at path.
func isFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// sweep removes staging directories whose owner is gone: their lock can be taken.
func (s *Store) sweep() {
	entries, err := os.ReadDir(s.path("tmp"))
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".lock") {
			continue
		}
		dir := s.path("tmp", strings.TrimSuffix(name, ".lock"))
		if dir == s.session {
			continue
		}
		f, err := lockFile(s.path("tmp", name), unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			continue // alive
		}
		removeAll(dir)
		os.Remove(s.path("tmp", name))
		f.Close()
	}
}

// removeAll removes a tree even when a crashed build left read-only
// directories in it.
func removeAll(dir string) error {
	err := os.RemoveAll(dir)
	if err == nil {
		return nil
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

func lockFile(name string, how int) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock(f, how); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	return f, nil
}
