package passwd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
)

// The files Lookup reads, as paths inside the root filesystem.
const (
	PasswdPath = "/etc/passwd"
	GroupPath  = "/etc/group"
)

// maxFileBytes bounds how much of /etc/passwd or /etc/group Lookup reads, so a
// huge or endless file in an image cannot exhaust memory (BuildKit uses the
// same limit).
const maxFileBytes = 10 << 20

// IDs is what a user spec resolves to.
type IDs struct {
	// UID and GID are the numeric user and primary group.
	UID, GID uint32
	// Groups are the supplementary groups: the groups of /etc/group that list
	// the named user as a member. Empty when the spec names a group or when
	// the user has no passwd entry. The primary group is not added.
	Groups []uint32
	// Home is the user's home directory from /etc/passwd; empty when the user
	// has no entry.
	Home string
}

// Lookup resolves spec against rootfs/etc/passwd and rootfs/etc/group.
//
// spec is "user", "user:group", "uid", "uid:gid" or a mix of names and
// numbers. Numeric ids need no entry: "1000" without a passwd entry is uid
// 1000, gid 0. A user given by name or number that has an entry takes its
// primary group and home from it, and its supplementary groups from
// /etc/group unless spec names a group. A name without an entry is an error
// naming it and the file (it wraps user.ErrNoPasswdEntries or
// user.ErrNoGroupEntries). An empty spec means root ("0"), and then an
// unreadable passwd file is not an error, as in BuildKit.
//
// "uid:gid" with both parts numeric (or "root") does not depend on the files:
// they are read only for Home, and errors reading them are ignored.
func Lookup(rootfs, spec string) (IDs, error) {
	isDefault := spec == ""
	if isDefault {
		spec = "0"
	}
	usr, grp, hasGroup := strings.Cut(spec, ":")
	if usr == "" || (hasGroup && grp == "") {
		return IDs{}, fmt.Errorf("parsing user %q: want user, user:group, uid or uid:gid", spec)
	}

	// The fast path of BuildKit: both parts numeric, no file needed.
	if hasGroup {
		uid, uerr := parseID(usr)
		gid, gerr := parseID(grp)
		if uerr == nil && gerr == nil {
			ids := IDs{UID: uid, GID: gid}
			if passwd, err := openUserFile(rootfs, PasswdPath); err == nil {
				if users, err := user.ParsePasswdFilter(passwd, func(u user.User) bool { return u.Uid == int(uid) }); err == nil && len(users) > 0 {
					ids.Home = users[0].Home
				}
				passwd.Close()
			}
			return ids, nil
		}
	}

	// A file that cannot be read counts as missing unless the spec has a name
	// only that file can resolve (BuildKit treats it as missing throughout).
	_, usrErr := parseID(usr)
	_, grpErr := parseID(grp)
	passwd, err := openUserFile(rootfs, PasswdPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && usrErr != nil && !isDefault {
		return IDs{}, fmt.Errorf("looking up user %q: %w", usr, err)
	}
	group, gerr := openUserFile(rootfs, GroupPath)
	if gerr != nil && !errors.Is(gerr, fs.ErrNotExist) && hasGroup && grpErr != nil {
		if passwd != nil {
			passwd.Close()
		}
		return IDs{}, fmt.Errorf("looking up group %q: %w", grp, gerr)
	}
	defer func() {
		if passwd != nil {
			passwd.Close()
		}
		if group != nil {
			group.Close()
		}
	}()

	// GetExecUser tells a missing file from an empty one by a nil reader, so
	// a nil *limitedFile must become a nil interface.
	var passwdR, groupR io.Reader
	if passwd != nil {
		passwdR = passwd
	}
	if group != nil {
		groupR = group
	}
	eu, err := user.GetExecUser(spec, nil, passwdR, groupR)
	if err != nil {
		if isDefault {
			return IDs{}, nil
		}
		return IDs{}, lookupError(spec, usr, grp, passwd == nil, group == nil, err)
	}
	ids := IDs{UID: uint32(eu.Uid), GID: uint32(eu.Gid), Home: eu.Home}
	for _, g := range eu.Sgids {
		ids.Groups = append(ids.Groups, uint32(g))
	}
	return ids, nil
}

// LookupOwner resolves the owner spec of a file operation (COPY and ADD
// --chown) against rootfs, by BuildKit's rules for file operations, which
// differ from a process's (Lookup):
//
//   - the user part: a number (or "root") is that uid and, as the group,
//     the same number, whatever /etc/passwd says; a name takes the uid and
//     primary group of its passwd entry; an empty part is root (0:0);
//   - the group part, when given: a number is that gid, a name is looked up
//     in /etc/group, and an empty part changes nothing.
//
// Unlike BuildKit, which silently makes files root's when a name has no
// entry, a name without an entry is an error naming it and the file (it
// wraps user.ErrNoPasswdEntries or user.ErrNoGroupEntries), as for Lookup:
// --chown asks for that owner. Only UID and GID of the result are set.
func LookupOwner(rootfs, spec string) (IDs, error) {
	return lookupOwner(rootfs, spec, false)
}

// LookupOwnerOrRoot is LookupOwner for an owner that the Dockerfile does
// not name for the operation: the directory WORKDIR makes for the USER in
// effect. As in BuildKit, a user name without an entry is root and a group
// name without one changes nothing, so that a stage whose USER only the
// running container resolves (a scratch stage has no /etc/passwd) builds.
func LookupOwnerOrRoot(rootfs, spec string) (IDs, error) {
	return lookupOwner(rootfs, spec, true)
}

func lookupOwner(rootfs, spec string, unknownIsRoot bool) (IDs, error) {
	usr, grp, hasGroup := strings.Cut(spec, ":")
	known := func(err error) error {
		if unknownIsRoot && (errors.Is(err, user.ErrNoPasswdEntries) || errors.Is(err, user.ErrNoGroupEntries)) {
			return nil
		}
		return err
	}
	var ids IDs
	if id, err := parseID(usr); err == nil {
		ids.UID, ids.GID = id, id
	} else if usr != "" {
		u, err := findEntry(rootfs, PasswdPath, usr, user.ParsePasswdFilter, func(u user.User) string { return u.Name })
		if err := known(err); err != nil {
			return IDs{}, err
		}
		ids.UID, ids.GID = uint32(u.Uid), uint32(u.Gid)
	}
	if !hasGroup || grp == "" {
		return ids, nil
	}
	if id, err := parseID(grp); err == nil {
		ids.GID = id
		return ids, nil
	}
	g, err := findEntry(rootfs, GroupPath, grp, user.ParseGroupFilter, func(g user.Group) string { return g.Name })
	if err != nil {
		if err := known(err); err != nil {
			return IDs{}, err
		}
		return ids, nil
	}
	ids.GID = uint32(g.Gid)
	return ids, nil
}

// findEntry returns the entry called name of the passwd or group file at
// path inside rootfs, parsed by parse.
func findEntry[T any](rootfs, path, name string, parse func(io.Reader, func(T) bool) ([]T, error), nameOf func(T) string) (T, error) {
	var zero T
	what, missing := "user", user.ErrNoPasswdEntries
	if path == GroupPath {
		what, missing = "group", user.ErrNoGroupEntries
	}
	f, err := openUserFile(rootfs, path)
	if errors.Is(err, fs.ErrNotExist) {
		return zero, fmt.Errorf("looking up %s %q: %s does not exist in the root filesystem: %w", what, name, path, missing)
	}
	if err != nil {
		return zero, fmt.Errorf("looking up %s %q: %w", what, name, err)
	}
	defer f.Close()
	found, err := parse(f, func(e T) bool { return nameOf(e) == name })
	if err != nil {
		return zero, fmt.Errorf("looking up %s %q in %s: %w", what, name, path, err)
	}
	if len(found) == 0 {
		return zero, fmt.Errorf("looking up %s %q in %s: %w", what, name, path, missing)
	}
	return found[0], nil
}

// lookupError rewrites the errors of user.GetExecUser so they name the file
// that lacks the entry.
func lookupError(spec, usr, grp string, noPasswd, noGroup bool, err error) error {
	switch {
	case errors.Is(err, user.ErrNoPasswdEntries):
		if noPasswd {
			return fmt.Errorf("looking up user %q: %s does not exist in the root filesystem: %w", usr, PasswdPath, user.ErrNoPasswdEntries)
		}
		return fmt.Errorf("looking up user %q in %s: %w", usr, PasswdPath, user.ErrNoPasswdEntries)
	case errors.Is(err, user.ErrNoGroupEntries):
		if noGroup {
			return fmt.Errorf("looking up group %q: %s does not exist in the root filesystem: %w", grp, GroupPath, user.ErrNoGroupEntries)
		}
		return fmt.Errorf("looking up group %q in %s: %w", grp, GroupPath, user.ErrNoGroupEntries)
	}
	return fmt.Errorf("looking up user %q: %w", spec, err)
}

// parseID parses one numeric part of a user spec; "root" is 0, as in
// BuildKit's fast path.
func parseID(s string) (uint32, error) {
	if s == "root" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, err
	}
	return uint32(n), nil
}

// openUserFile opens name (a path inside rootfs) for reading, refusing
// anything but a regular file (a FIFO would block the build) and limiting how
// much can be read.
func openUserFile(rootfs, name string) (*limitedFile, error) {
	f, err := openInRoot(rootfs, name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file (%s)", name, st.Mode().Type())
	}
	return &limitedFile{f: f, r: io.LimitReader(f, maxFileBytes+1), name: name}, nil
}

// limitedFile reads at most maxFileBytes of a file and fails beyond that.
type limitedFile struct {
	f    *os.File
	r    io.Reader
	n    int64
	name string
}

func (l *limitedFile) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > maxFileBytes {
		return n, fmt.Errorf("%s: larger than %d bytes", l.name, maxFileBytes)
	}
	return n, err
}

func (l *limitedFile) Close() error { return l.f.Close() }
