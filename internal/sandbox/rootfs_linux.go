package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// prepareRootfs builds the sandbox's mount tree and moves into it: the
// root filesystem bound on itself, the spec's mounts, /dev's devices and
// links, pivot_root, then the masked and read-only paths. It runs in the
// child's fresh mount namespace.
func prepareRootfs(s *specs.Spec) error {
	rootfs := s.Root.Path
	// Nothing mounted from here on may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return step("making / a recursive slave mount", err)
	}
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return stepf(err, "bind-mounting the root filesystem %s on itself", rootfs)
	}
	if err := unix.Mount("", rootfs, "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return step("making the root filesystem mount private", err)
	}
	setupDev := false
	for _, m := range s.Mounts {
		if err := mountInto(rootfs, m); err != nil {
			return err
		}
		if filepath.Clean(m.Destination) == "/dev" && !isBind(m) {
			setupDev = true
		}
	}
	// As runc: devices and /dev links only in a /dev of our own.
	if setupDev {
		for _, d := range s.Linux.Devices {
			if err := createDevice(rootfs, d); err != nil {
				return stepf(err, "creating device %s", d.Path)
			}
		}
		if err := setupDevLinks(rootfs); err != nil {
			return step("creating /dev links", err)
		}
	}
	if err := pivotRoot(rootfs); err != nil {
		return step("pivoting into the root filesystem", err)
	}
	for _, p := range s.Linux.MaskedPaths {
		if err := maskPath(p); err != nil {
			return stepf(err, "masking %s", p)
		}
	}
	for _, p := range s.Linux.ReadonlyPaths {
		if err := readonlyPath(p); err != nil {
			return stepf(err, "making %s read-only", p)
		}
	}
	return nil
}

// mountInto performs one spec mount at its destination inside rootfs. The
// destination is resolved with securejoin, so a symlink in the image cannot
// send the mount outside the root filesystem; a missing destination is
// created (the parent made the ones in the root filesystem itself as mount
// stubs; the ones here are nested in earlier mounts).
func mountInto(rootfs string, m specs.Mount) error {
	dest := filepath.Clean("/" + m.Destination)
	typ := m.Type
	if isBind(m) {
		typ = "bind"
	}
	op := fmt.Sprintf("mounting %s on %s", typ, dest)
	target, err := securejoin.SecureJoin(rootfs, dest)
	if err != nil {
		return step(op, err)
	}
	opts := parseMountOptions(m.Options)
	if typ == "bind" {
		st, err := os.Stat(m.Source)
		if err != nil {
			return step(op, fmt.Errorf("bind source: %w", err))
		}
		if err := createTarget(target, st.IsDir()); err != nil {
			return step(op, err)
		}
		if err := unix.Mount(m.Source, target, "", unix.MS_BIND|opts.flags&unix.MS_REC, ""); err != nil {
			return step(op, err)
		}
		if opts.flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 {
			if err := remountBind(target, opts.flags&^unix.MS_REC, false); err != nil {
				return stepf(err, "remounting %s with %v", dest, m.Options)
			}
		}
	} else {
		if err := createTarget(target, true); err != nil {
			return step(op, err)
		}
		err := unix.Mount(m.Source, target, m.Type, opts.flags, opts.data)
		if errors.Is(err, unix.EPERM) && m.Type == "sysfs" {
			// Only the owner of the network namespace may mount sysfs;
			// bind the host's read-only instead, as runc does rootless.
			err = unix.Mount("/sys", target, "", unix.MS_BIND|unix.MS_REC, "")
			if err == nil {
				err = remountBind(target, opts.flags|unix.MS_RDONLY, true)
			}
		}
		if err != nil {
			return step(op, err)
		}
	}
	for _, p := range opts.propagation {
		if err := unix.Mount("", target, "", p, ""); err != nil {
			return stepf(err, "changing the propagation of %s", dest)
		}
	}
	return nil
}

// remountBind changes the flags of the bind mount at target. keep adds the
// flags the mount has now (so a read-only remount cannot drop nosuid or
// noexec); without keep they are added only when the kernel refuses the
// change because they are locked (a user namespace).
func remountBind(target string, flags uintptr, keep bool) error {
	current := func() (uintptr, error) {
		var st unix.Statfs_t
		if err := unix.Statfs(target, &st); err != nil {
			return 0, err
		}
		return statfsToMountFlags(st.Flags), nil
	}
	if keep {
		cur, err := current()
		if err != nil {
			return err
		}
		flags |= cur
	}
	err := unix.Mount("", target, "", flags|unix.MS_BIND|unix.MS_REMOUNT, "")
	if errors.Is(err, unix.EPERM) && !keep {
		cur, cerr := current()
		if cerr != nil {
			return err
		}
		err = unix.Mount("", target, "", flags|cur|unix.MS_BIND|unix.MS_REMOUNT, "")
	}
	return err
}

// remount changes the flags of the mount at target, keeping its current ones.
func remount(target string, flags uintptr) error {
	return remountBind(target, flags&^unix.MS_REC, true)
}

// createTarget makes a mount destination that does not exist: a directory,
// or an empty file when the source is not a directory.
func createTarget(target string, dir bool) error {
	if _, err := os.Lstat(target); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if dir {
		return os.MkdirAll(target, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// createDevice makes device d in rootfs: a bind mount of the host's node at
// the same path when it is the same device (this works in a user namespace
// too), otherwise mknod.
func createDevice(rootfs string, d specs.LinuxDevice) error {
	target, err := securejoin.SecureJoin(rootfs, d.Path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	var mode uint32
	switch d.Type {
	case "c", "u":
		mode = unix.S_IFCHR
	case "b":
		mode = unix.S_IFBLK
	case "p":
		mode = unix.S_IFIFO
	default:
		return fmt.Errorf("unknown device type %q", d.Type)
	}
	var host unix.Stat_t
	if err := unix.Stat(d.Path, &host); err == nil && host.Mode&unix.S_IFMT == mode &&
		int64(unix.Major(host.Rdev)) == d.Major && int64(unix.Minor(host.Rdev)) == d.Minor {
		if err := createTarget(target, false); err != nil {
			return err
		}
		return unix.Mount(d.Path, target, "", unix.MS_BIND, "")
	}
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	_ = os.Remove(target)
	if err := unix.Mknod(target, mode|perm, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		return err
	}
	if err := unix.Chmod(target, perm); err != nil {
		return err
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	return unix.Lchown(target, uid, gid)
}

// setupDevLinks makes /dev/ptmx point into the devpts instance, and the
// /dev/fd, stdin, stdout, stderr (and core) links runc makes.
func setupDevLinks(rootfs string) error {
	links := [][2]string{
		{"pts/ptmx", "/dev/ptmx"},
		{"/proc/self/fd", "/dev/fd"},
		{"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"},
		{"/proc/self/fd/2", "/dev/stderr"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "/dev/core"})
	}
	for _, l := range links {
		p := filepath.Join(rootfs, l[1])
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Symlink(l[0], p); err != nil {
			return err
		}
	}
	return nil
}

// pivotRoot makes rootfs the root of the mount namespace and detaches the
// old root (runc's pivot_root(".", ".") variant, which needs no directory
// for the old root).
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	// The old root is now stacked under the new one; detach it without
	// letting the unmount propagate anywhere.
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmounting the old root: %w", err)
	}
	return unix.Chdir("/")
}

// maskPath hides p: a read-only empty tmpfs over a directory, /dev/null over
// a file. A missing path needs no mask.
func maskPath(p string) error {
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.IsDir() {
		return unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "")
	}
	return unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
}

// readonlyPath binds p on itself read-only. A missing path is skipped.
func readonlyPath(p string) error {
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return remount(p, unix.MS_RDONLY)
}

// setupConsole gives the process a pseudo-terminal of the sandbox's devpts
// as its controlling terminal and stdio, binds it at /dev/console, and sends
// the master to the parent.
func (c *child) setupConsole() (*os.File, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return nil, fmt.Errorf("unlocking the terminal: %w", err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return nil, fmt.Errorf("naming the terminal: %w", err)
	}
	name := "/dev/pts/" + strconv.FormatUint(uint64(n), 10)
	slave, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	if err := createTarget("/dev/console", false); err != nil {
		slave.Close()
		return nil, err
	}
	if err := unix.Mount(name, "/dev/console", "", unix.MS_BIND, ""); err != nil {
		slave.Close()
		return nil, fmt.Errorf("binding /dev/console: %w", err)
	}
	if _, err := unix.Setsid(); err != nil {
		slave.Close()
		return nil, fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		slave.Close()
		return nil, fmt.Errorf("setting the controlling terminal: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			slave.Close()
			return nil, err
		}
	}
	c.send(childMessage{Type: "pty"}, master)
	return slave, nil
}
