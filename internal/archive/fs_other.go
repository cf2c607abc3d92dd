//go:build !linux

package archive

import (
	"context"
	"errors"
	"io"
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

func copyFile(ctx context.Context, w io.Writer, path string, size int64, buf []byte) error {
	return &os.PathError{Op: "open", Path: path, Err: errUnsupported}
}

type newFile struct{}

func createExclusive(path string) (*newFile, error) {
	return nil, &os.PathError{Op: "create", Path: path, Err: errUnsupported}
}

func (f *newFile) Write(p []byte) (int, error)              { return 0, errUnsupported }
func (f *newFile) chown(uid, gid int) error                 { return errUnsupported }
func (f *newFile) chmod(perm uint32) error                  { return errUnsupported }
func (f *newFile) setXattr(name string, value []byte) error { return errUnsupported }
func (f *newFile) Close() error                             { return errUnsupported }

func xattrListSize(path string) (int, error) { return 0, nil }
