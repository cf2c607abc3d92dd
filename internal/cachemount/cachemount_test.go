package cachemount

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whittle-build/whittle/internal/store"
)

func newDirs(t *testing.T) *Dirs {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(st)
}

func acquire(t *testing.T, d *Dirs, key string, s Sharing, init Init) *Mount {
	t.Helper()
	m, err := d.Acquire(context.Background(), key, s, init)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPersistsAndInitsOnce(t *testing.T) {
	d := newDirs(t)
	var inits atomic.Int32
	init := func(dir string) error {
		inits.Add(1)
		return os.WriteFile(filepath.Join(dir, "seed"), []byte("s"), 0o644)
	}
	m := acquire(t, d, "k", Shared, init)
	if err := os.WriteFile(filepath.Join(m.Dir, "data"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.Release()
	m2 := acquire(t, d, "k", Locked, init)
	defer m2.Release()
	if m2.Dir != m.Dir {
		t.Errorf("second use got %s, first %s", m2.Dir, m.Dir)
	}
	for _, f := range []string{"seed", "data"} {
		if _, err := os.Stat(filepath.Join(m2.Dir, f)); err != nil {
			t.Errorf("%s did not persist: %v", f, err)
		}
	}
	if n := inits.Load(); n != 1 {
		t.Errorf("init ran %d times, want 1", n)
	}
	fi, err := os.Stat(m2.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", fi.Mode().Perm())
	}
	if other := acquire(t, d, "other", Shared, nil); other.Dir == m.Dir {
		t.Error("two keys share a directory")
	}
}

func TestSharing(t *testing.T) {
	tests := []struct {
		name        string
		first, next Sharing
		// waits: the second Acquire blocks until the first is released.
		waits bool
		// sameDir: both get the main directory.
		sameDir bool
	}{
		{"shared+shared", Shared, Shared, false, true},
		{"locked+locked", Locked, Locked, true, true},
		{"shared+locked", Shared, Locked, true, true},
		{"locked+shared", Locked, Shared, true, true},
		{"private+private", Private, Private, false, false},
		{"shared+private", Shared, Private, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDirs(t)
			first := acquire(t, d, "k", tt.first, nil)
			got := make(chan *Mount, 1)
			go func() {
				m, err := d.Acquire(context.Background(), "k", tt.next, nil)
				if err != nil {
					t.Error(err)
				}
				got <- m
			}()
			var second *Mount
			select {
			case second = <-got:
				if tt.waits {
					t.Fatal("the second user did not wait for the first")
				}
			case <-time.After(300 * time.Millisecond):
				if !tt.waits {
					t.Fatal("the second user waits")
				}
				first.Release()
				second = <-got
			}
			defer second.Release()
			defer first.Release()
			if (second.Dir == first.Dir) != tt.sameDir {
				t.Errorf("first %s, second %s; same directory wanted: %v", first.Dir, second.Dir, tt.sameDir)
			}
		})
	}
}

func TestPrivateInstancesAreReused(t *testing.T) {
	d := newDirs(t)
	a := acquire(t, d, "k", Private, nil)
	b := acquire(t, d, "k", Private, nil)
	c := acquire(t, d, "k", Private, nil)
	if a.Dir == b.Dir || b.Dir == c.Dir || a.Dir == c.Dir {
		t.Fatalf("concurrent private users share: %s %s %s", a.Dir, b.Dir, c.Dir)
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "mark"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	b.Release()
	again := acquire(t, d, "k", Private, nil)
	defer again.Release()
	if again.Dir != b.Dir {
		t.Errorf("a free instance was not reused: got %s, want %s", again.Dir, b.Dir)
	}
	if _, err := os.Stat(filepath.Join(again.Dir, "mark")); err != nil {
		t.Error("a private instance lost its contents")
	}
	a.Release()
	c.Release()
}

func TestWaitEndsWithContext(t *testing.T) {
	d := newDirs(t)
	held := acquire(t, d, "k", Locked, nil)
	defer held.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := d.Acquire(ctx, "k", Locked, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
}

func TestFailedInitLeavesNothing(t *testing.T) {
	d := newDirs(t)
	boom := errors.New("boom")
	if _, err := d.Acquire(context.Background(), "k", Shared, func(string) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	if _, err := os.Stat(d.dir("k")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed init left %s: %v", d.dir("k"), err)
	}
	m := acquire(t, d, "k", Shared, nil)
	m.Release()
}

func TestUnknownSharing(t *testing.T) {
	d := newDirs(t)
	if _, err := d.Acquire(context.Background(), "k", "sometimes", nil); err == nil {
		t.Fatal("an unknown sharing mode was accepted")
	}
}

// A fresh acquisition (a step run with --no-cache) starts from what init
// makes, not from what earlier builds left; later builds see what it left.
func TestAcquireFresh(t *testing.T) {
	for _, sharing := range []Sharing{Shared, Locked, Private} {
		t.Run(string(sharing), func(t *testing.T) {
			d := newDirs(t)
			seed := func(dir string) error { return os.WriteFile(filepath.Join(dir, "seed"), nil, 0o644) }
			write := func(m *Mount, name string) {
				t.Helper()
				if err := os.WriteFile(filepath.Join(m.Dir, name), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			list := func(m *Mount) []string {
				t.Helper()
				ents, err := os.ReadDir(m.Dir)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				return names
			}
			old := acquire(t, d, "k", sharing, seed)
			write(old, "old")
			old.Release()

			fresh, err := d.AcquireFresh(context.Background(), "k", sharing, seed)
			if err != nil {
				t.Fatal(err)
			}
			if got := list(fresh); !slices.Equal(got, []string{"seed"}) {
				t.Errorf("fresh mount holds %v, want only the seed", got)
			}
			write(fresh, "new")
			fresh.Release()

			later := acquire(t, d, "k", sharing, seed)
			defer later.Release()
			if got := list(later); !slices.Equal(got, []string{"new", "seed"}) {
				t.Errorf("the next build sees %v, want what the fresh one left", got)
			}
		})
	}
}

// A fresh shared mount waits for the builds using the old directory.
func TestAcquireFreshWaitsForSharedUsers(t *testing.T) {
	d := newDirs(t)
	user := acquire(t, d, "k", Shared, nil)
	if err := os.WriteFile(filepath.Join(user.Dir, "in-use"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got := make(chan *Mount, 1)
	go func() {
		m, err := d.AcquireFresh(context.Background(), "k", Shared, nil)
		if err != nil {
			t.Error(err)
		}
		got <- m
	}()
	select {
	case m := <-got:
		m.Release()
		t.Fatal("the fresh mount did not wait for the shared user")
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := os.Stat(filepath.Join(user.Dir, "in-use")); err != nil {
		t.Fatalf("a shared user's files went while it used them: %v", err)
	}
	user.Release()
	m := <-got
	defer m.Release()
	if _, err := os.Stat(filepath.Join(m.Dir, "in-use")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the fresh mount kept the old files: %v", err)
	}
}
