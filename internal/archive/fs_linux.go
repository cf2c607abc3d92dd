package archive

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// lstat returns the metadata of path without following a final symlink.
func lstat(path string) (fileStat, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fileStat{}, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	s := fileStat{
		perm:  st.Mode & 0o7777,
		uid:   st.Uid,
		gid:   st.Gid,
		size:  st.Size,
		mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
		dev:   st.Dev,
		ino:   st.Ino,
		nlink: uint64(st.Nlink),
		major: unix.Major(st.Rdev),
		minor: unix.Minor(st.Rdev),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		s.kind = kindRegular
	case unix.S_IFDIR:
		s.kind = kindDir
	case unix.S_IFLNK:
		s.kind = kindSymlink
	case unix.S_IFCHR:
		s.kind = kindChar
	case unix.S_IFBLK:
		s.kind = kindBlock
	case unix.S_IFIFO:
		s.kind = kindFifo
	case unix.S_IFSOCK:
		s.kind = kindSocket
	default:
		return fileStat{}, fmt.Errorf("lstat %s: unknown file type %#o", path, st.Mode&unix.S_IFMT)
	}
	return s, nil
}

// listXattrs returns the extended attributes of path (not following a
// final symlink), sorted by name. buf is scratch space kept between calls.
// A file system without xattr support has none.
func listXattrs(path string, buf *[]byte) ([]xattr, error) {
	if len(*buf) == 0 {
		*buf = make([]byte, 4096)
	}
	var n int
	for {
		var err error
		n, err = unix.Llistxattr(path, *buf)
		if err == unix.ERANGE {
			size, err := unix.Llistxattr(path, nil)
			if err != nil {
				return nil, &os.PathError{Op: "llistxattr", Path: path, Err: err}
			}
			*buf = make([]byte, size+1024)
			continue
		}
		if err == unix.ENOTSUP {
			return nil, nil
		}
		if err != nil {
			return nil, &os.PathError{Op: "llistxattr", Path: path, Err: err}
		}
		break
	}
	if n == 0 {
		return nil, nil
	}
	names := strings.Split(strings.TrimSuffix(string((*buf)[:n]), "\x00"), "\x00")
	sort.Strings(names)
	out := make([]xattr, 0, len(names))
	for _, name := range names {
		if name == "" {
			continue
		}
		value, err := getXattr(path, name)
		if errors.Is(err, unix.ENODATA) {
			continue // removed since it was listed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, xattr{name: name, value: value})
	}
	return out, nil
}

// getXattr returns the value of the extended attribute name of path (not
// following a final symlink).
func getXattr(path, name string) ([]byte, error) {
	size := 256
	for {
		v := make([]byte, size)
		n, err := unix.Lgetxattr(path, name, v)
		if err == unix.ERANGE {
			n, err = unix.Lgetxattr(path, name, nil)
			if err != nil {
				return nil, &os.PathError{Op: "lgetxattr " + name, Path: path, Err: err}
			}
			size = n + 64
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "lgetxattr " + name, Path: path, Err: err}
		}
		return v[:n], nil
	}
}

// setXattr sets an extended attribute of path, not following a final
// symlink.
func setXattr(path, name string, value []byte) error {
	if err := unix.Lsetxattr(path, name, value, 0); err != nil {
		return &os.PathError{Op: "lsetxattr " + name, Path: path, Err: err}
	}
	return nil
}

// isNotSupported reports whether err says the file system lacks a feature.
func isNotSupported(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP)
}

// isPermission reports whether err is a refusal for lack of privilege.
func isPermission(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
}

// mknod makes a device node or fifo at path.
func mknod(path string, kind fileKind, perm uint32, major, minor uint32) error {
	var mode uint32
	switch kind {
	case kindChar:
		mode = unix.S_IFCHR
	case kindBlock:
		mode = unix.S_IFBLK
	case kindFifo:
		mode = unix.S_IFIFO
	default:
		return fmt.Errorf("mknod %s: not a device or fifo", path)
	}
	if err := unix.Mknod(path, mode|perm&0o7777, int(unix.Mkdev(major, minor))); err != nil {
		return &os.PathError{Op: "mknod", Path: path, Err: err}
	}
	return nil
}

// lchown sets the owner of path, not following a final symlink.
func lchown(path string, uid, gid int) error {
	if err := unix.Lchown(path, uid, gid); err != nil {
		return &os.PathError{Op: "lchown", Path: path, Err: err}
	}
	return nil
}

// chmod sets the permission bits of path, setuid, setgid and sticky
// included. It follows symlinks: call it on files this package made.
func chmod(path string, perm uint32) error {
	if err := unix.Chmod(path, perm&0o7777); err != nil {
		return &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	return nil
}

// lutimes sets the access and modification times of path, not following a
// final symlink.
func lutimes(path string, atime, mtime time.Time) error {
	// Not UnixNano: it overflows outside 1678-2262, and tars can say anything.
	ts := []unix.Timespec{
		{Sec: atime.Unix(), Nsec: int64(atime.Nanosecond())},
		{Sec: mtime.Unix(), Nsec: int64(mtime.Nanosecond())},
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: path, Err: err}
	}
	return nil
}

// openNoFollow opens path for reading, refusing a symlink.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
}

// createExclusive creates a new regular file at path for writing; it fails
// if anything, a symlink included, is already there.
func createExclusive(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
}
