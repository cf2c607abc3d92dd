package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// commitSnapshot commits a one-file snapshot and returns its (made-up) diffID.
func commitSnapshot(t *testing.T, s *Store, content string) v1.Hash {
	t.Helper()
	sum := sha256.Sum256([]byte(content))
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	dir, err := s.TempDir("snap-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitSnapshot(h, dir); err != nil {
		t.Fatal(err)
	}
	return h
}

func openAt(t *testing.T, root, boot string) *Store {
	t.Helper()
	s, err := openBoot(root, boot)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// age makes the list at p look untouched for longer than syncAfter.
func age(t *testing.T, p string) {
	t.Helper()
	old := time.Now().Add(-2 * syncAfter)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
}

// snapshotIn commits the snapshot "a" in a new store opened in boot and
// closes it; it returns the store's root, the boot's list of unsynced
// snapshots and a's diffID.
func snapshotIn(t *testing.T, boot string) (root, list string, a v1.Hash) {
	t.Helper()
	root = t.TempDir()
	s := openAt(t, root, boot)
	a = commitSnapshot(t, s, "a")
	s.Close()
	return root, filepath.Join(root, "snapshots/unsynced", boot), a
}

// keptIn opens the store in boot and reports whether the snapshot h is there.
func keptIn(t *testing.T, root, boot string, h v1.Hash) bool {
	t.Helper()
	s := openAt(t, root, boot)
	defer s.Close()
	return s.HasSnapshot(h)
}

// TestSnapshotsOfACrashedBootAreDropped: snapshots committed in one boot and
// never synced are gone when the store is opened in the next boot, and so
// is the cache record that has no other copy of their layer; what a later
// boot committed stays.
func TestSnapshotsOfACrashedBootAreDropped(t *testing.T) {
	root := t.TempDir()
	s := openAt(t, root, "boot-a")
	a := commitSnapshot(t, s, "a")
	key := v1.Hash{Algorithm: "sha256", Hex: a.Hex} // any key
	if err := s.PutCache(key, &CacheRecord{Layers: []v1.Hash{a}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	if !keptIn(t, root, "boot-a", a) {
		t.Fatal("a snapshot of the current boot was dropped")
	}
	// The crash tore the list's last line; an entry names a snapshot that
	// is gone already.
	f, err := os.OpenFile(filepath.Join(root, "snapshots/unsynced/boot-a"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(strings.Repeat("0", 64) + "\n01234")
	f.Close()

	s = openAt(t, root, "boot-b")
	if s.HasSnapshot(a) {
		t.Error("a snapshot written unsynced before a reboot is still there")
	}
	if _, err := s.Cache(key); !errors.Is(err, ErrNotFound) {
		t.Errorf("the record of a dropped snapshot: %v, want a miss", err)
	}
	b := commitSnapshot(t, s, "b")
	s.Close()
	if _, err := os.Stat(filepath.Join(root, "snapshots/unsynced/boot-a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the old boot's list is still there: %v", err)
	}

	if !keptIn(t, root, "boot-b", b) {
		t.Error("a snapshot of the current boot was dropped")
	}
}

// TestSyncedListIsDropped: once a boot's list is older than syncAfter, the
// next Open syncs and drops it, and a reboot then keeps the snapshots.
func TestSyncedListIsDropped(t *testing.T) {
	root, list, a := snapshotIn(t, "boot-a")
	age(t, list)
	openAt(t, root, "boot-a").Close()
	if _, err := os.Stat(list); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a list older than %v was not dropped: %v", syncAfter, err)
	}
	if !keptIn(t, root, "boot-b", a) {
		t.Error("a synced snapshot was dropped after a reboot")
	}
}

// TestUnknownBootNotesNothing: without a boot id (no /proc), snapshots are
// neither noted nor dropped.
func TestUnknownBootNotesNothing(t *testing.T) {
	root, _, a := snapshotIn(t, "")
	entries, _ := os.ReadDir(filepath.Join(root, "snapshots/unsynced"))
	if len(entries) != 0 {
		t.Errorf("lists without a boot id: %v", entries)
	}
	if !keptIn(t, root, "boot-b", a) {
		t.Error("snapshot dropped")
	}
}

// TestRotatedListOfACrashedBoot: a list an Open had renamed aside to sync,
// when the host crashed before the sync ended, still names snapshots to
// drop in the next boot; in its own boot it is synced and removed.
func TestRotatedListOfACrashedBoot(t *testing.T) {
	root, list, a := snapshotIn(t, "boot-a")
	if err := os.Rename(list, list+".0123"); err != nil {
		t.Fatal(err)
	}
	if !keptIn(t, root, "boot-a", a) {
		t.Fatal("a snapshot of the current boot was dropped")
	}
	if _, err := os.Stat(list + ".0123"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the boot's own renamed list was not synced away: %v", err)
	}

	s := openAt(t, root, "boot-a")
	b := commitSnapshot(t, s, "b")
	s.Close()
	if err := os.Rename(list, list+".4567"); err != nil {
		t.Fatal(err)
	}
	if keptIn(t, root, "boot-b", b) {
		t.Error("a snapshot named by a renamed list of a crashed boot is still there")
	}
	if !keptIn(t, root, "boot-b", a) {
		t.Error("a synced snapshot was dropped")
	}
}

// TestNoteAfterRotation: a writer that opened the list before an Open
// renamed it aside, and got its lock after, writes to a new list: the
// renamed one is synced and removed without the writer's entry.
func TestNoteAfterRotation(t *testing.T) {
	root := t.TempDir()
	s := openAt(t, root, "boot-a")
	defer s.Close()
	commitSnapshot(t, s, "a")
	list := filepath.Join(root, "snapshots/unsynced/boot-a")
	f, err := os.Open(list)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := flock(f, unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- s.noteUnsynced("x") }()
	time.Sleep(50 * time.Millisecond) // let it open the list and wait for the lock
	if err := os.Rename(list, list+".r"); err != nil {
		t.Fatal(err)
	}
	flock(f, unix.LOCK_UN)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	renamed, _ := os.ReadFile(list + ".r")
	fresh, _ := os.ReadFile(list)
	if string(fresh) != "x\n" || strings.Contains(string(renamed), "x") {
		t.Errorf("after the rename: new list %q, renamed list %q; want the entry in the new one", fresh, renamed)
	}
}

// TestLongListIsSynced: a list that keeps growing is synced away once it
// reaches syncAtSize, however recent its last entry.
func TestLongListIsSynced(t *testing.T) {
	root := t.TempDir()
	s := openAt(t, root, "boot-a")
	a := commitSnapshot(t, s, "a")
	for i := 0; i < syncAtSize/65; i++ {
		if err := s.noteUnsynced(a.Hex); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if !keptIn(t, root, "boot-a", a) {
		t.Fatal("a snapshot of the current boot was dropped")
	}
	if !keptIn(t, root, "boot-b", a) {
		t.Error("a snapshot of a list synced for its size was dropped after a reboot")
	}
}

// TestDuplicateIsNotNoted: committing a snapshot that is in place already
// (synced since) notes nothing, so a crash afterwards does not drop it.
func TestDuplicateIsNotNoted(t *testing.T) {
	root, list, a := snapshotIn(t, "boot-a")
	age(t, list)
	s := openAt(t, root, "boot-a") // syncs and drops the list
	commitSnapshot(t, s, "a")
	s.Close()
	if b, err := os.ReadFile(list); err == nil {
		t.Errorf("the duplicate was noted: %q", b)
	}
	if !keptIn(t, root, "boot-b", a) {
		t.Error("a synced snapshot was dropped after its duplicate was committed")
	}
}
