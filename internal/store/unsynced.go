package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Snapshots are written without syncs: overlay mounts are volatile, and
// neither unpacking nor COPY calls fsync. After a crash of the host, one
// committed shortly before could hold empty or short files under a name
// that says it is complete, and every later build would use it (the
// failure containerd's users met as zero-byte binaries after a power cut).
// So CommitSnapshot first notes each snapshot in a list named after the
// boot it happens in (snapshots/unsynced/<boot id>), and Open, in a later
// boot, removes the snapshots its list names: they are unpacked again from
// their blobs, or their steps run again. A list that has not grown for
// syncAfter, or has grown to syncAtSize, is made void by one syncfs of the
// store's filesystem, so that a clean reboot costs at most the snapshots
// of the last minute's builds, or the last 250 or so.

// syncAfter is how long a boot's list must have been left alone before
// Open syncs the filesystem and drops it.
const syncAfter = time.Minute

// syncAtSize is the size at which a list is synced away even while builds
// keep adding to it (about 250 snapshots): a store in constant use must
// not lose a day of snapshots to one reboot.
const syncAtSize = 16 << 10

// due reports whether the list described by fi should be synced away now.
func due(fi os.FileInfo, now time.Time) bool {
	return now.Sub(fi.ModTime()) >= syncAfter || fi.Size() >= syncAtSize
}

// bootIDFile names the current boot (a random UUID per boot).
const bootIDFile = "/proc/sys/kernel/random/boot_id"

func readBootID() string {
	b, err := os.ReadFile(bootIDFile)
	if err != nil {
		return ""
	}
	id := strings.TrimSpace(string(b))
	if id == "" || strings.ContainsAny(id, "./") {
		return ""
	}
	return id
}

func (s *Store) unsyncedDir() string { return s.path("snapshots", "unsynced") }

// noteUnsynced records that the snapshot of diffID is about to be written
// into place without a sync. Without a boot id (no /proc), nothing is
// noted and nothing is recovered.
func (s *Store) noteUnsynced(diffID string) error {
	if s.bootID == "" {
		return nil
	}
	list := filepath.Join(s.unsyncedDir(), s.bootID)
	for {
		f, err := os.OpenFile(list, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("noting snapshot %s: %w", diffID, err)
		}
		// Shared with other writers, exclusive with the rename of an Open
		// that syncs and drops the list (rotate): an entry is either in a
		// list that is synced after it was written or in the next one.
		if err := flock(f, unix.LOCK_SH); err != nil {
			f.Close()
			return fmt.Errorf("noting snapshot %s: %w", diffID, err)
		}
		if !isFile(f, list) {
			f.Close() // dropped meanwhile: start a new list
			continue
		}
		_, err = f.WriteString(diffID + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("noting snapshot %s: %w", diffID, err)
		}
		return nil
	}
}

// recoverUnsynced removes the snapshots that lists of earlier boots name,
// and syncs away this boot's list once it is old enough. Processes of one
// boot do it one at a time, each before it uses any snapshot, so a snapshot
// named by an earlier boot's list is gone before anyone can use it.
func (s *Store) recoverUnsynced() error {
	if s.bootID == "" {
		return nil
	}
	dir := s.unsyncedDir()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		return nil
	}
	now := time.Now()
	if len(entries) == 1 && entries[0].Name() == s.bootID {
		if fi, err := entries[0].Info(); err == nil && !due(fi, now) {
			return nil // the common case: a recent list of this boot
		}
	}
	lock, err := lockFile(s.path("snapshots", "unsynced.lock"), unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer lock.Close()
	if entries, err = os.ReadDir(dir); err != nil {
		return nil
	}
	var toSync []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		boot, _, rotated := strings.Cut(e.Name(), ".")
		switch {
		case boot != s.bootID:
			if err := s.dropListed(p); err != nil {
				return err
			}
		case rotated:
			toSync = append(toSync, p) // a process died before it synced
		default:
			if fi, err := e.Info(); err != nil || !due(fi, now) {
				continue
			}
			q, err := rotate(p)
			if err != nil {
				return err
			}
			if q != "" {
				toSync = append(toSync, q)
			}
		}
	}
	if len(toSync) == 0 {
		return nil
	}
	if err := unix.Syncfs(int(lock.Fd())); err != nil {
		return fmt.Errorf("syncing the store's filesystem: %w", err)
	}
	for _, p := range toSync {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// dropListed removes the snapshots the list at p names, then the list.
func (s *Store) dropListed(p string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	for line := range strings.Lines(string(b)) {
		h, err := v1.NewHash("sha256:" + strings.TrimSuffix(line, "\n"))
		if err != nil {
			continue // a line torn by the crash
		}
		if err := s.discard(s.SnapshotPath(h)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing snapshot %s, written before the host's last crash or reboot: %w", h, err)
		}
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// rotate renames the list at p aside, to be synced and removed, and returns
// its new name ("" when it is gone). It holds the list exclusively only for
// the rename: every entry in the renamed list was written before it, and
// so before the sync that follows; a writer that comes later starts a new
// list (noteUnsynced).
func rotate(p string) (string, error) {
	f, err := os.OpenFile(p, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := flock(f, unix.LOCK_EX); err != nil {
		return "", err
	}
	if !isFile(f, p) {
		return "", nil
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	q := p + "." + hex.EncodeToString(b[:])
	if err := os.Rename(p, q); err != nil {
		return "", err
	}
	return q, nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}
