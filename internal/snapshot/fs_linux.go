package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// lstat returns the stat of p, with errors naming p.
func lstat(p string) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	return &st, nil
}

func isDir(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFDIR }

// isWhiteout reports whether st is an overlay whiteout: a 0/0 char device.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// makeWhiteout creates a whiteout at p.
func makeWhiteout(p string) error {
	if err := unix.Mknod(p, unix.S_IFCHR, 0); err != nil {
		return &fs.PathError{Op: "mknod whiteout", Path: p, Err: err}
	}
	return nil
}

// isOpaque reports whether the directory p is marked opaque with either
// attribute name.
func isOpaque(p string) bool {
	buf := make([]byte, 8)
	for _, name := range []string{OpaqueXattr, UserOpaqueXattr} {
		n, err := unix.Lgetxattr(p, name, buf)
		if err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

// isOverlayXattr reports whether name is one of overlayfs's own attributes
// (origin, impure, redirect, metacopy, opaque, ...), which are not content.
func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

// listXattrs returns the names of p's extended attributes.
func listXattrs(p string) ([]string, error) {
	size := 256
	for {
		buf := make([]byte, size)
		n, err := unix.Llistxattr(p, buf)
		if errors.Is(err, unix.ERANGE) {
			size *= 4
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, &fs.PathError{Op: "llistxattr", Path: p, Err: err}
		}
		var names []string
		for _, name := range bytes.Split(buf[:n], []byte{0}) {
			if len(name) > 0 {
				names = append(names, string(name))
			}
		}
		return names, nil
	}
}

// getXattr returns the value of p's attribute name.
func getXattr(p, name string) ([]byte, error) {
	size := 256
	for {
		buf := make([]byte, size)
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			size *= 4
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "lgetxattr " + name, Path: p, Err: err}
		}
		return buf[:n], nil
	}
}

// contentXattrs returns p's attributes other than overlayfs's own.
func contentXattrs(p string) (map[string][]byte, error) {
	names, err := listXattrs(p)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, name := range names {
		if isOverlayXattr(name) {
			continue
		}
		v, err := getXattr(p, name)
		if errors.Is(err, unix.ENODATA) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// removeOverlayXattrs drops overlayfs's bookkeeping attributes from p
// (origin, impure, ...), keeping the opaque marks.
func removeOverlayXattrs(p string) error {
	names, err := listXattrs(p)
	if err != nil {
		return err
	}
	for _, name := range names {
		if !isOverlayXattr(name) || name == OpaqueXattr || name == UserOpaqueXattr {
			continue
		}
		if err := unix.Lremovexattr(p, name); err != nil && !errors.Is(err, unix.ENODATA) {
			return &fs.PathError{Op: "lremovexattr " + name, Path: p, Err: err}
		}
	}
	return nil
}

// copyMetadata gives dst the owner, mode, extended attributes (other than
// overlayfs's) and times of src (whose stat is st). With exact, attributes
// dst has and src has not are removed (a directory taking over another's
// metadata). Times come last, so nothing after changes them.
func copyMetadata(src string, st *unix.Stat_t, dst string, exact bool) error {
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return &fs.PathError{Op: "lchown", Path: dst, Err: err}
	}
	symlink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if !symlink {
		// After chown, which clears set-id bits.
		if err := unix.Fchmodat(unix.AT_FDCWD, dst, st.Mode&0o7777, 0); err != nil {
			return &fs.PathError{Op: "chmod", Path: dst, Err: err}
		}
	}
	xattrs, err := contentXattrs(src)
	if err != nil {
		return err
	}
	if exact {
		have, err := listXattrs(dst)
		if err != nil {
			return err
		}
		for _, name := range have {
			if _, keep := xattrs[name]; !keep && !isOverlayXattr(name) {
				if err := unix.Lremovexattr(dst, name); err != nil && !errors.Is(err, unix.ENODATA) {
					return &fs.PathError{Op: "lremovexattr " + name, Path: dst, Err: err}
				}
			}
		}
	}
	for name, v := range xattrs {
		if err := unix.Lsetxattr(dst, name, v, 0); err != nil {
			return &fs.PathError{Op: "lsetxattr " + name, Path: dst, Err: err}
		}
	}
	return setTimes(dst, st)
}

// setTimes gives p the access and modification times of st.
func setTimes(p string, st *unix.Stat_t) error {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "utimensat", Path: p, Err: err}
	}
	return nil
}

// copyEntry creates dst as a copy of the non-directory src (stat st): a
// regular file's content, a symlink's target, a device's numbers. Metadata
// is copied too.
func copyEntry(src string, st *unix.Stat_t, dst string) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if err := copyFile(src, dst); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return &fs.PathError{Op: "mknod", Path: dst, Err: err}
		}
	default:
		return fmt.Errorf("copying %s: unsupported file type %#o", src, st.Mode&unix.S_IFMT)
	}
	return copyMetadata(src, st, dst, false)
}

// copyFile copies a regular file's content (copy_file_range, so reflinks
// where the filesystem has them).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return out.Close()
}

// sameEntry reports whether a (stat sa) and b (stat sb) are equal as layer
// content: type, mode, owner, device numbers, symlink target, size,
// modification time, attributes (other than overlayfs's) and, for regular
// files, bytes.
func sameEntry(a string, sa *unix.Stat_t, b string, sb *unix.Stat_t) (bool, error) {
	if sa.Mode != sb.Mode || sa.Uid != sb.Uid || sa.Gid != sb.Gid || sa.Mtim != sb.Mtim {
		return false, nil
	}
	switch sa.Mode & unix.S_IFMT {
	case unix.S_IFCHR, unix.S_IFBLK:
		if sa.Rdev != sb.Rdev {
			return false, nil
		}
	case unix.S_IFREG, unix.S_IFLNK:
		if sa.Size != sb.Size {
			return false, nil
		}
	}
	xa, err := contentXattrs(a)
	if err != nil {
		return false, err
	}
	xb, err := contentXattrs(b)
	if err != nil {
		return false, err
	}
	if len(xa) != len(xb) {
		return false, nil
	}
	for k, v := range xa {
		if w, ok := xb[k]; !ok || !bytes.Equal(v, w) {
			return false, nil
		}
	}
	switch sa.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		ta, err := os.Readlink(a)
		if err != nil {
			return false, err
		}
		tb, err := os.Readlink(b)
		if err != nil {
			return false, err
		}
		return ta == tb, nil
	case unix.S_IFREG:
		return sameContent(a, b)
	}
	return true, nil
}

// sameContent compares two files byte by byte.
func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		aDone := ea == io.EOF || ea == io.ErrUnexpectedEOF
		bDone := eb == io.EOF || eb == io.ErrUnexpectedEOF
		if aDone || bDone {
			return aDone && bDone, nil
		}
		if ea != nil {
			return false, ea
		}
		if eb != nil {
			return false, eb
		}
	}
}

// readDirNames returns the sorted names in dir.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}
