package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// copyFile copies exactly size bytes of the regular file path to w,
// refusing a symlink, through buf. It works on the raw descriptor: an
// os.File costs a poller registration per file, and layers have many small
// files. It fails if the file is shorter than size.
func copyFile(ctx context.Context, w io.Writer, path string, size int64, buf []byte) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	for done := int64(0); done < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := buf
		if rest := size - done; rest < int64(len(chunk)) {
			chunk = chunk[:rest]
		}
		n, err := unix.Read(fd, chunk)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return fmt.Errorf("reading %s: file shrank from %d to %d bytes while being written", path, size, done)
		}
		if _, err := w.Write(chunk[:n]); err != nil {
			return err
		}
		done += int64(n)
	}
	return nil
}

// newFile is a regular file this package just created, open for writing.
// It works on the raw descriptor: an os.File costs a poller registration
// per file, and layers have many small files.
type newFile struct {
	fd   int
	path string
}

// createExclusive creates a new regular file at path for writing; it fails
// (with an error matching fs.ErrExist) if anything, a symlink included, is
// already there.
func createExclusive(path string) (*newFile, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: path, Err: err}
	}
	return &newFile{fd: fd, path: path}, nil
}

func (f *newFile) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(f.fd, p[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, &os.PathError{Op: "write", Path: f.path, Err: err}
		}
		done += n
	}
	return done, nil
}

func (f *newFile) chown(uid, gid int) error {
	if err := unix.Fchown(f.fd, uid, gid); err != nil {
		return &os.PathError{Op: "fchown", Path: f.path, Err: err}
	}
	return nil
}

func (f *newFile) chmod(perm uint32) error {
	if err := unix.Fchmod(f.fd, perm&0o7777); err != nil {
		return &os.PathError{Op: "fchmod", Path: f.path, Err: err}
	}
	return nil
}

func (f *newFile) setXattr(name string, value []byte) error {
	if err := unix.Fsetxattr(f.fd, name, value, 0); err != nil {
		return &os.PathError{Op: "fsetxattr " + name, Path: f.path, Err: err}
	}
	return nil
}

func (f *newFile) Close() error {
	if err := unix.Close(f.fd); err != nil {
		return &os.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}

// xattrListSize returns the size of path's list of extended attribute
// names (not following a final symlink): 0 when it has none, or when the
// file system keeps none.
func xattrListSize(path string) (int, error) {
	n, err := unix.Llistxattr(path, nil)
	if err == unix.ENOTSUP {
		return 0, nil
	}
	if err != nil {
		return 0, &os.PathError{Op: "llistxattr", Path: path, Err: err}
	}
	return n, nil
}
