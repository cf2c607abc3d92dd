package cachemount

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/whittle-build/whittle/internal/store"
)

// Sharing says how concurrent users of one cache mount are treated.
type Sharing string

// The sharing modes of RUN --mount=type=cache.
const (
	Shared  Sharing = "shared"
	Private Sharing = "private"
	Locked  Sharing = "locked"
)

// Init fills a new, empty cache directory: seeds it and sets the
// permissions of its root. It runs once per directory, before anyone uses it.
type Init func(dir string) error

// Dirs hands out the cache mount directories of one store.
type Dirs struct {
	dir     func(key string) string
	staging func(prefix string) (string, error)
}

// New returns the cache mount directories of st.
func New(st *store.Store) *Dirs {
	return &Dirs{dir: st.CacheMountDir, staging: st.TempDir}
}

// Mount is a cache directory in use; Release ends the use.
type Mount struct {
	// Dir is the directory to mount.
	Dir  string
	lock *os.File
}

// Release unlocks the directory for other users.
func (m *Mount) Release() error {
	if m == nil || m.lock == nil {
		return nil
	}
	err := m.lock.Close()
	m.lock = nil
	return err
}

// Acquire returns the directory of the cache mount with identity key,
// locked for sharing until Release. A directory that does not exist yet
// is made with init (nil: empty, mode 0755). Waiting for a lock ends when
// ctx is done.
func (d *Dirs) Acquire(ctx context.Context, key string, sharing Sharing, init Init) (*Mount, error) {
	return d.acquire(ctx, key, sharing, init, false)
}

// AcquireFresh is Acquire for a step run with the cache ignored
// (--no-cache, or its stage named by --no-cache-filter): what the
// directory held is thrown away and it is made again with init, so the
// step starts as on a new machine, and later builds use what it leaves,
// as in BuildKit. A shared mount is held exclusively meanwhile: the
// others using it keep their files until they are done.
func (d *Dirs) AcquireFresh(ctx context.Context, key string, sharing Sharing, init Init) (*Mount, error) {
	return d.acquire(ctx, key, sharing, init, true)
}

func (d *Dirs) acquire(ctx context.Context, key string, sharing Sharing, init Init, fresh bool) (*Mount, error) {
	base := d.dir(key)
	switch sharing {
	case Shared, "":
		how := unix.LOCK_SH
		if fresh {
			how = unix.LOCK_EX
		}
		return d.use(ctx, base, how, init, fresh)
	case Locked:
		return d.use(ctx, base, unix.LOCK_EX, init, fresh)
	case Private:
		for n := 0; ; n++ {
			dir := base
			if n > 0 {
				dir = base + "." + strconv.Itoa(n)
			}
			f, err := openLock(dir + ".lock")
			if err != nil {
				return nil, err
			}
			ok, err := tryLock(f, unix.LOCK_EX)
			if err != nil {
				f.Close()
				return nil, err
			}
			if !ok {
				f.Close()
				continue
			}
			if err := d.prepare(dir, init, fresh); err != nil {
				f.Close()
				return nil, err
			}
			return &Mount{Dir: dir, lock: f}, nil
		}
	}
	return nil, fmt.Errorf("cache mount: unknown sharing mode %q (want shared, private or locked)", sharing)
}

// use locks base (how: LOCK_SH or LOCK_EX), waiting, and makes sure it
// exists (fresh: anew).
func (d *Dirs) use(ctx context.Context, base string, how int, init Init, fresh bool) (*Mount, error) {
	f, err := openLock(base + ".lock")
	if err != nil {
		return nil, err
	}
	if err := lock(ctx, f, how); err != nil {
		f.Close()
		return nil, err
	}
	if err := d.prepare(base, init, fresh); err != nil {
		f.Close()
		return nil, err
	}
	return &Mount{Dir: base, lock: f}, nil
}

// prepare makes sure dir exists, with fresh after removing what was
// there. The caller holds dir's exclusive lock when fresh.
func (d *Dirs) prepare(dir string, init Init, fresh bool) error {
	if fresh {
		if err := d.remove(dir); err != nil {
			return err
		}
	}
	return d.ensure(dir, init)
}

// remove takes dir away at once (a rename into the store's staging area,
// which the next Open sweeps should we die) and then deletes it.
func (d *Dirs) remove(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	trash, err := d.staging("cachemount-old-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(trash)
	if err := os.Rename(dir, filepath.Join(trash, "old")); err != nil {
		return fmt.Errorf("emptying cache mount: %w", err)
	}
	return nil
}

// ensure makes dir, through a staging directory, unless it exists.
func (d *Dirs) ensure(dir string, init Init) error {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("cache mount %s is not a directory", dir)
		}
		return nil
	}
	tmp, err := d.staging("cachemount-")
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("creating cache mount: %w", err)
	}
	if init != nil {
		if err := init(tmp); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("creating cache mount: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		// Another user made it first (shared users may race): theirs wins.
		if st, serr := os.Stat(dir); serr == nil && st.IsDir() {
			return nil
		}
		return fmt.Errorf("creating cache mount: %w", err)
	}
	return nil
}

// Lock opens and takes the flock(2) lock of the cache mount directory dir
// (the file dir+".lock" beside it; how: LOCK_SH or LOCK_EX), the lock that
// builds using the mount hold. With wait it polls until it gets it or ctx
// ends; without, it returns nil, nil when another process holds it. The
// caller releases it by closing the file.
func Lock(ctx context.Context, dir string, how int, wait bool) (*os.File, error) {
	f, err := openLock(dir + ".lock")
	if err != nil {
		return nil, err
	}
	if wait {
		err = lock(ctx, f, how)
	} else {
		var ok bool
		if ok, err = tryLock(f, how); err == nil && !ok {
			f.Close()
			return nil, nil
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func openLock(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening cache mount lock: %w", err)
	}
	return f, nil
}

// tryLock takes the lock without waiting; false when someone holds it.
func tryLock(f *os.File, how int) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, unix.EINTR):
			continue
		}
		return false, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
}

// lock takes the lock, polling so that ctx can end the wait.
func lock(ctx context.Context, f *os.File, how int) error {
	wait := 10 * time.Millisecond
	for {
		ok, err := tryLock(f, how)
		if err != nil || ok {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if wait < 200*time.Millisecond {
			wait *= 2
		}
	}
}
