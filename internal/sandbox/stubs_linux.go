package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountStubs are the mount points Run created in a root filesystem, to be
// removed again when the process is gone (BuildKit's CreateMountStubs and
// MountStubsCleaner, with the parent directory's times restored exactly),
// except those of the runtime's own mounts (see keptStub).
type mountStubs struct {
	// created are host paths in creation order (parents first).
	created []string
	// parents are the directories that existed and got a stub, by host path.
	parents map[string]*stubParent
}

// stubParent remembers the times of a directory that got stubs.
type stubParent struct {
	// before and after are its times before the first stub was made in it
	// and after the last one was.
	before, after [2]unix.Timespec
	// stubs are its direct children that are stubs.
	stubs []string
}

// keptStub reports whether the mount point dest stays in the root
// filesystem after the process when Run had to create it. BuildKit's
// MountStubsCleaner removes /etc/hosts, /etc/resolv.conf and the step's own
// mount points, but runc creates the directories of the runtime's mounts,
// /proc, /dev and /sys, and they stay in the images BuildKit builds (a RUN
// on a base without them adds them to its layer); whittle does the same.
func keptStub(dest string) bool {
	switch dest {
	case "/proc", "/dev", "/sys":
		return true
	}
	return false
}

// createMountStubs creates, inside rootfs, the destinations of mounts that
// do not exist: directories, or empty files for bind mounts of a non-directory.
// Destinations below another mount's destination are left to the child: they
// are made inside that mount, not in the root filesystem. Stubs are owned by
// uid:gid (the host ids of the sandbox's root).
func createMountStubs(rootfs string, mounts []specs.Mount, uid, gid int) (*mountStubs, error) {
	s := &mountStubs{parents: map[string]*stubParent{}}
	dests := make([]string, 0, len(mounts))
	for _, m := range mounts {
		dests = append(dests, filepath.Clean("/"+m.Destination))
	}
	for i, m := range mounts {
		dest := dests[i]
		if dest == "/" || slices.ContainsFunc(dests, func(other string) bool {
			return other != dest && (other == "/" || strings.HasPrefix(dest, other+"/"))
		}) {
			continue
		}
		file := false
		if isBind(m) {
			if st, err := os.Stat(m.Source); err == nil && !st.IsDir() {
				file = true
			}
		}
		if err := s.create(rootfs, dest, file, keptStub(dest), uid, gid); err != nil {
			return s, fmt.Errorf("creating mount point %s: %w", dest, err)
		}
	}
	for p, parent := range s.parents {
		t, err := fileTimes(p)
		if err != nil {
			return s, fmt.Errorf("creating mount points: %w", err)
		}
		parent.after = t
	}
	return s, nil
}

// create makes dest (a clean absolute path inside rootfs) and the missing
// directories above it, recording what it made for cleanup unless keep.
func (s *mountStubs) create(rootfs, dest string, file, keep bool, uid, gid int) error {
	real, err := securejoin.SecureJoin(rootfs, dest)
	if err != nil {
		return err
	}
	// Walk up to the deepest existing ancestor.
	var missing []string
	p := real
	for {
		st, err := os.Lstat(p)
		if err == nil {
			if len(missing) == 0 {
				return nil // exists; the child checks its type
			}
			if !st.IsDir() {
				// The child reports the error with the mount's context.
				return nil
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, p)
		next := filepath.Dir(p)
		if next == p || (next != rootfs && !strings.HasPrefix(next, rootfs+"/")) {
			return fmt.Errorf("no existing parent of %s in %s", dest, rootfs)
		}
		p = next
	}
	// The times to restore are those of a directory of the image, not of
	// one that is itself a stub.
	if parent := p; !slices.Contains(s.created, parent) {
		if _, ok := s.parents[parent]; !ok {
			t, err := fileTimes(parent)
			if err != nil {
				return err
			}
			s.parents[parent] = &stubParent{before: t}
		}
		s.parents[parent].stubs = append(s.parents[parent].stubs, missing[len(missing)-1])
	}
	for i := len(missing) - 1; i >= 0; i-- {
		p := missing[i]
		if i == 0 && file {
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o644)
			if err != nil {
				return err
			}
			f.Close()
		} else if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
		if !keep {
			s.created = append(s.created, p)
		}
		if uid != os.Geteuid() || gid != os.Getegid() {
			if err := os.Lchown(p, uid, gid); err != nil {
				return err
			}
		}
	}
	return nil
}

// cleanup removes the stubs that are still empty (an empty directory, or an
// empty regular file), deepest first, and restores the times of the
// directories they were made in: to their times before the stubs when the
// process left the directory alone and every stub in it is gone, otherwise
// to their times before the removal. Errors are collected, not fatal.
func (s *mountStubs) cleanup() error {
	if s == nil {
		return nil
	}
	var errs []error
	now := map[string][2]unix.Timespec{}
	for p := range s.parents {
		t, err := fileTimes(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		now[p] = t
	}
	removed := map[string]bool{}
	for i := len(s.created) - 1; i >= 0; i-- {
		p := s.created[i]
		st, err := os.Lstat(p)
		if err != nil {
			continue
		}
		switch {
		case st.IsDir():
			entries, err := os.ReadDir(p)
			if err != nil || len(entries) != 0 {
				continue
			}
		case st.Mode().IsRegular():
			if st.Size() != 0 {
				continue
			}
		default:
			continue
		}
		if err := os.Remove(p); err != nil {
			errs = append(errs, fmt.Errorf("removing mount point: %w", err))
			continue
		}
		removed[p] = true
	}
	for p, parent := range s.parents {
		t, ok := now[p]
		if !ok {
			continue
		}
		restore := t
		allGone := !slices.ContainsFunc(parent.stubs, func(c string) bool { return !removed[c] })
		if allGone && t[1] == parent.after[1] {
			restore = parent.before
		}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, restore[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
			errs = append(errs, fmt.Errorf("restoring the times of %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// fileTimes returns the access and modification times of p.
func fileTimes(p string) ([2]unix.Timespec, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return [2]unix.Timespec{}, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	return [2]unix.Timespec{st.Atim, st.Mtim}, nil
}
