package archive

import (
	"archive/tar"
	"errors"
	"os"
	"sort"
	"strings"
	"time"
)

// attrSetter sets the attributes of one file: by path, or through an open
// descriptor.
type attrSetter interface {
	chown(uid, gid int) error
	chmod(perm uint32) error
	setXattr(name string, value []byte) error
}

// pathAttrs sets attributes by path, never following a final symlink
// (chmod, which would, is only used on files this package made).
type pathAttrs string

func (p pathAttrs) chown(uid, gid int) error                 { return lchown(string(p), uid, gid) }
func (p pathAttrs) chmod(perm uint32) error                  { return chmod(string(p), perm) }
func (p pathAttrs) setXattr(name string, value []byte) error { return setXattr(string(p), name, value) }

// attrs sets the owner, mode and extended attributes that hdr names on the
// file it made. Directories get their mode at the end, with their times.
func (a *applier) attrs(f attrSetter, hdr *tar.Header) error {
	if !a.opts.NoChown {
		if err := f.chown(hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	// Mode after owner: chown clears setuid and setgid.
	if hdr.Typeflag != tar.TypeSymlink && hdr.Typeflag != tar.TypeDir {
		if err := f.chmod(uint32(hdr.Mode)); err != nil {
			return err
		}
	}
	return a.xattrs(f, hdr)
}

// times sets the access and modification times hdr names on abs; for a
// directory (rel is its relative path) it records them, with its mode, for
// finishDirs.
func (a *applier) times(abs, rel string, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeDir {
		m := dirMeta{rel: rel, mode: uint32(hdr.Mode), atime: accessTime(hdr), mtime: hdr.ModTime}
		if i, ok := a.dirIndex[rel]; ok {
			a.dirs[i] = m // a later entry for the same directory wins
			return nil
		}
		a.dirIndex[rel] = len(a.dirs)
		a.dirs = append(a.dirs, m)
		return nil
	}
	return fileTimes(abs, hdr)
}

// fileTimes sets the access and modification times hdr names on abs, a
// file that is not a directory. It touches no applier state: the parallel
// writers call it too.
func fileTimes(abs string, hdr *tar.Header) error {
	return lutimes(abs, accessTime(hdr), hdr.ModTime)
}

// accessTime is hdr's access time, or its modification time when the tar
// records none.
func accessTime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

// xattrs sets the extended attributes of the entry hdr on f.
func (a *applier) xattrs(f attrSetter, hdr *tar.Header) error {
	var keys []string
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, paxXattrPrefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := k[len(paxXattrPrefix):]
		if isOverlayXattr(name) || name == a.opaque {
			continue
		}
		err := f.setXattr(name, []byte(hdr.PAXRecords[k]))
		switch {
		case err == nil:
		case isNotSupported(err):
			// The file system has no such attributes: nothing to keep them in.
		case isPermission(err) && a.opts.NoChown:
			// Unprivileged: trusted.* and security.* are not ours to set.
		case isPermission(err) && strings.HasPrefix(name, "user.") &&
			hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeDir:
			// user.* attributes exist only on regular files and directories.
		default:
			return err
		}
	}
	return nil
}

// finishDirs sets the mode and times of the directories the tar wrote, now
// that nothing more is written in them. Children go first, so that a parent
// made unsearchable does not hide them. Each is resolved again: the tar may
// have replaced it since.
func (a *applier) finishDirs() error {
	for i := len(a.dirs) - 1; i >= 0; i-- {
		d := a.dirs[i]
		abs := a.root
		if d.rel != "" {
			parentRel, base := splitPath(d.rel)
			parent, err := a.parent(parentRel, false)
			if errors.Is(err, errNoParent) {
				continue
			}
			if err != nil {
				return err
			}
			abs = parent + "/" + base
		}
		if fi, err := os.Lstat(abs); err != nil || !fi.IsDir() {
			continue
		}
		if err := chmod(abs, d.mode); err != nil {
			return err
		}
		if err := lutimes(abs, d.atime, d.mtime); err != nil {
			return err
		}
	}
	return nil
}
