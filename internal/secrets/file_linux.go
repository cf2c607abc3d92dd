package secrets

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// memoryDirs are where a private directory on a memory filesystem is
// looked for, in order; $XDG_RUNTIME_DIR comes first.
var memoryDirs = []string{"/dev/shm", "/run"}

// TempDir makes a private directory (mode 0700) for the files of one RUN's
// secrets and ssh sockets, on a memory filesystem when one is writable
// ($XDG_RUNTIME_DIR, /dev/shm, /run; else in fallback), with a tmpfs of its
// own mounted on it when the process may mount (root, or root of a user
// namespace): whittle runs in a private mount namespace, so that mount and
// what is in it vanish with the process, even when it is killed. The path
// is short enough for unix socket names. remove unmounts and removes it.
func TempDir(fallback string) (dir string, remove func() error, err error) {
	candidates := memoryDirs
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		candidates = append([]string{d}, candidates...)
	}
	for _, c := range candidates {
		var st unix.Statfs_t
		if err := unix.Statfs(c, &st); err != nil || st.Type != unix.TMPFS_MAGIC {
			continue
		}
		if dir, err = os.MkdirTemp(c, "whittle-run-"); err == nil {
			break
		}
	}
	if dir == "" {
		if dir, err = os.MkdirTemp(fallback, "run-"); err != nil {
			return "", nil, fmt.Errorf("making a directory for secrets: %w", err)
		}
	}
	mounted := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700,size=16m") == nil
	remove = func() error {
		if mounted {
			if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
				return fmt.Errorf("unmounting %s: %w", dir, err)
			}
		}
		return os.RemoveAll(dir)
	}
	return dir, remove, nil
}

// WriteFile writes the secret data as the file name in dir (made by
// TempDir), owned by uid:gid (when running as root) with mode perm, and
// returns its path.
func WriteFile(dir, name string, data []byte, uid, gid int, perm os.FileMode) (string, error) {
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", fmt.Errorf("writing secret file: %w", err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(p)
		return "", fmt.Errorf("writing secret file: %w", firstErr(werr, cerr))
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(p, uid, gid); err != nil {
			os.Remove(p)
			return "", fmt.Errorf("writing secret file: %w", err)
		}
	}
	if err := os.Chmod(p, perm); err != nil {
		os.Remove(p)
		return "", fmt.Errorf("writing secret file: %w", err)
	}
	return p, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
