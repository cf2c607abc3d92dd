package mountns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/whittle-build/whittle/internal/userns"
)

// Marker values of envMarker.
const (
	// markerInside: this process runs in the namespaces Ensure made.
	markerInside = "1"
	// markerWaitMaps: this process is in a new user namespace whose id
	// maps its parent is writing (newuidmap); it waits, then executes
	// itself again to gain its capabilities as root of the namespace.
	markerWaitMaps = "wait-maps"
	// syncFD is the pipe on which the parent says the maps are written.
	syncFD = 3
)

// Ensure makes sure the process runs in a private mount namespace of its
// own: the first time, it re-executes the binary with the same arguments in
// new namespaces, relays signals to it and exits with its status (it does
// not return). In the re-executed process it makes every mount private (so
// nothing propagates back to the host) and returns nil.
//
// As root, the new namespace is a mount namespace. As any other user it is
// a user namespace too (rootless mode), in which the user is root: uid and
// gid 0 map to the user's, and 1 and up to the ranges /etc/subuid and
// /etc/subgid grant the user, through newuidmap and newgidmap, when both
// exist; otherwise only the user's own ids are mapped.
func Ensure() error {
	switch os.Getenv(envMarker) {
	case markerInside:
		os.Unsetenv(envMarker)
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("making mounts private: %w", err)
		}
		return nil
	case markerWaitMaps:
		return waitForMaps()
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the whittle binary: %w", err)
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = withMarker(markerInside)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}

	var maps *idMaps
	if os.Geteuid() != 0 {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		maps = subordinateMaps()
		if maps == nil {
			// Only our own ids: the kernel lets us write that map ourselves.
			cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
			cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
			cmd.SysProcAttr.GidMappingsEnableSetgroups = false
		} else {
			cmd.Env = withMarker(markerWaitMaps)
		}
	}
	var syncW *os.File
	if maps != nil {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		defer r.Close()
		cmd.ExtraFiles = []*os.File{r} // fd 3
		syncW = w
	}

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("entering a private mount namespace: %w", err)
	}
	if maps != nil {
		err := maps.write(cmd.Process.Pid)
		if err == nil {
			_, err = syncW.Write([]byte{1})
		}
		syncW.Close()
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return err
		}
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	signal.Stop(sigs)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(ee.ExitCode())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "whittle:", err)
		os.Exit(1)
	}
	os.Exit(0)
	return nil
}

// waitForMaps runs in a new user namespace until the parent has written
// its id maps, then executes the binary again: only an execve as the
// mapped root gives the process its capabilities in the namespace.
func waitForMaps() error {
	f := os.NewFile(syncFD, "sync")
	var b [1]byte
	n, err := f.Read(b[:])
	f.Close()
	if n != 1 {
		return fmt.Errorf("setting up the user namespace: the parent did not map ids: %v", err)
	}
	if err := unix.Setresuid(0, 0, 0); err != nil {
		return fmt.Errorf("becoming root in the user namespace: %w", err)
	}
	if err := unix.Setresgid(0, 0, 0); err != nil {
		return fmt.Errorf("becoming root in the user namespace: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(exe, os.Args, withMarker(markerInside))
}

// withMarker returns the environment with envMarker set to v (and only
// once: with duplicates, the first would win).
func withMarker(v string) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, envMarker+"=") {
			env = append(env, e)
		}
	}
	return append(env, envMarker+"="+v)
}

// idMaps are the newuidmap/newgidmap arguments for the user's ranges.
type idMaps struct {
	uidArgs, gidArgs []string
}

// subordinateMaps returns the maps for the user's /etc/subuid and
// /etc/subgid ranges, or nil when there are none or newuidmap/newgidmap
// are missing.
func subordinateMaps() *idMaps {
	if _, err := exec.LookPath("newuidmap"); err != nil {
		return nil
	}
	if _, err := exec.LookPath("newgidmap"); err != nil {
		return nil
	}
	name := strconv.Itoa(os.Geteuid())
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	uids, _ := userns.SubIDs("/etc/subuid", name, os.Geteuid())
	gids, _ := userns.SubIDs("/etc/subgid", name, os.Geteuid())
	if len(uids) == 0 || len(gids) == 0 {
		return nil
	}
	m := &idMaps{
		uidArgs: []string{"0", strconv.Itoa(os.Geteuid()), "1"},
		gidArgs: []string{"0", strconv.Itoa(os.Getegid()), "1"},
	}
	next := uint32(1)
	for _, r := range uids {
		m.uidArgs = append(m.uidArgs, fmt.Sprint(next), fmt.Sprint(r.Start), fmt.Sprint(r.Count))
		next += r.Count
	}
	next = 1
	for _, r := range gids {
		m.gidArgs = append(m.gidArgs, fmt.Sprint(next), fmt.Sprint(r.Start), fmt.Sprint(r.Count))
		next += r.Count
	}
	return m
}

func (m *idMaps) write(pid int) error {
	for _, c := range []struct {
		tool string
		args []string
	}{{"newuidmap", m.uidArgs}, {"newgidmap", m.gidArgs}} {
		args := append([]string{strconv.Itoa(pid)}, c.args...)
		if out, err := exec.Command(c.tool, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("mapping ids with %s %v: %v: %s", c.tool, args, err, out)
		}
	}
	return nil
}
