//go:build !linux

package archive

import (
	"errors"
	"os"
	"time"
)

// errUnsupported is returned on systems other than Linux.
var errUnsupported = errors.New("not supported on this operating system")

func lstat(path string) (fileStat, error) {
	return fileStat{}, &os.PathError{Op: "lstat", Path: path, Err: errUnsupported}
}

func listXattrs(path string, buf *[]byte) ([]xattr, error) { return nil, nil }

func getXattr(path, name string) ([]byte, error) {
	return nil, &os.PathError{Op: "lgetxattr", Path: path, Err: errUnsupported}
}

func setXattr(path, name string, value []byte) error {
	return &os.PathError{Op: "lsetxattr", Path: path, Err: errUnsupported}
}

func isNotSupported(err error) bool { return false }

func isPermission(err error) bool { return os.IsPermission(err) }

func mknod(path string, kind fileKind, perm uint32, major, minor uint32) error {
	return &os.PathError{Op: "mknod", Path: path, Err: errUnsupported}
}

func lchown(path string, uid, gid int) error { return os.Lchown(path, uid, gid) }

func chmod(path string, perm uint32) error {
	return &os.PathError{Op: "chmod", Path: path, Err: errUnsupported}
}

func lutimes(path string, atime, mtime time.Time) error {
	return &os.PathError{Op: "utimensat", Path: path, Err: errUnsupported}
}

func openNoFollow(path string) (*os.File, error) {
	return nil, &os.PathError{Op: "open", Path: path, Err: errUnsupported}
}

func createExclusive(path string) (*os.File, error) {
	return nil, &os.PathError{Op: "create", Path: path, Err: errUnsupported}
}
