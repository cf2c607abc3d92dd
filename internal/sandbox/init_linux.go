package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/whittle-build/whittle/internal/passwd"
)

// childMain is the entry point of the re-executed binary: it reads the spec,
// sets the sandbox up and executes the command. It only returns by exiting.
func childMain() {
	// Capabilities and a few prctl settings are per thread: everything from
	// here to exec happens on this one.
	runtime.LockOSThread()
	status := os.NewFile(childStatusFd, "sandbox-status")
	unix.CloseOnExec(childStatusFd)
	unix.CloseOnExec(childConfigFd)

	c := &child{status: status}
	err := c.run()
	// run only returns on failure.
	msg := childMessage{Type: "error", Op: "setting up", Msg: fmt.Sprint(err), Errno: errnoOf(err)}
	var ee *execError
	var se *stepError
	switch {
	case errors.As(err, &ee):
		msg = childMessage{Type: "exec", Name: ee.name, Msg: ee.err.Error(), Errno: errnoOf(ee.err), NotFound: ee.notFound}
	case errors.As(err, &se):
		msg = childMessage{Type: "error", Op: se.op, Msg: se.err.Error(), Errno: errnoOf(se.err)}
	}
	c.send(msg, nil)
	os.Exit(1)
}

func errnoOf(err error) int {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return int(errno)
	}
	return 0
}

// stepError is a child failure with the step it happened in.
type stepError struct {
	op  string
	err error
}

func (e *stepError) Error() string { return e.op + ": " + e.err.Error() }

func step(op string, err error) error {
	if err == nil {
		return nil
	}
	return &stepError{op: op, err: err}
}

func stepf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &stepError{op: fmt.Sprintf(format, args...), err: err}
}

// execError is a failure to execute the command itself.
type execError struct {
	name     string
	err      error
	notFound bool
}

func (e *execError) Error() string { return e.err.Error() }

type child struct {
	status *os.File
	spec   *specs.Spec
}

// send writes one message (and optionally a descriptor) to the parent.
func (c *child) send(m childMessage, fd *os.File) {
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	var oob []byte
	if fd != nil {
		oob = unix.UnixRights(int(fd.Fd()))
	}
	_ = unix.Sendmsg(int(c.status.Fd()), b, oob, nil, 0)
}

func (c *child) run() error {
	config := os.NewFile(childConfigFd, "sandbox-config")
	b, err := io.ReadAll(config)
	config.Close()
	if err != nil {
		return step("reading the spec", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return step("decoding the spec", err)
	}
	c.spec = &s
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	netns := false
	for _, ns := range s.Linux.Namespaces {
		netns = netns || ns.Type == specs.NetworkNamespace
	}
	if netns {
		if err := loopbackUp(); err != nil {
			return step("bringing up the loopback interface", err)
		}
	}
	if err := prepareRootfs(&s); err != nil {
		return err
	}
	var console *os.File
	if s.Process.Terminal {
		if console, err = c.setupConsole(); err != nil {
			return step("setting up the terminal", err)
		}
		defer console.Close()
	}
	if err := setupCwd(s.Process); err != nil {
		return err
	}
	if s.Root.Readonly {
		if err := remount("/", unix.MS_RDONLY|unix.MS_BIND|unix.MS_REC); err != nil {
			return step("remounting the root filesystem read-only", err)
		}
	}
	if s.Hostname != "" {
		if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
			return step("setting the hostname", err)
		}
	}
	if s.Domainname != "" {
		if err := unix.Setdomainname([]byte(s.Domainname)); err != nil {
			return step("setting the domain name", err)
		}
	}
	for _, rl := range s.Process.Rlimits {
		if err := setRlimit(rl); err != nil {
			return stepf(err, "setting %s", rl.Type)
		}
	}
	unix.Umask(0o022)
	env := s.Process.Env
	if !hasEnv(env, "HOME") {
		home := "/"
		if ids, err := passwd.Lookup("/", strconv.FormatUint(uint64(s.Process.User.UID), 10)); err == nil && ids.Home != "" {
			home = ids.Home
		}
		env = append(env, "HOME="+home)
	}
	if s.Process.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return step("setting no_new_privs", err)
		}
	}
	// The filter goes on while the process may still install one without
	// no_new_privs (it has CAP_SYS_ADMIN until setupUserAndCaps); nothing
	// the setup does from here on is a call it refuses.
	if s.Linux.Seccomp != nil {
		if err := loadSeccomp(s.Linux.Seccomp); err != nil {
			return step("applying the seccomp profile", err)
		}
	}
	if err := setupUserAndCaps(s.Process); err != nil {
		return err
	}
	// Changing credentials clears the parent-death signal; set it again.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return step("setting the parent-death signal", err)
	}
	if err := os.Chdir(s.Process.Cwd); err != nil {
		return stepf(err, "changing to the working directory %s", s.Process.Cwd)
	}
	name := s.Process.Args[0]
	p, err := lookPath(name, env)
	if err != nil {
		var xe *exec.Error
		notFound := false
		if errors.As(err, &xe) {
			notFound = errors.Is(xe.Err, exec.ErrNotFound) || errors.Is(xe.Err, fs.ErrNotExist)
		}
		return &execError{name: name, err: err, notFound: notFound}
	}
	c.send(childMessage{Type: "ready"}, nil)
	err = syscall.Exec(p, s.Process.Args, env)
	return &execError{name: name, err: &exec.Error{Name: name, Err: err}, notFound: errors.Is(err, unix.ENOENT)}
}

// loopbackUp sets the IFF_UP flag of "lo" in the current network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// setupCwd creates the working directory when it is missing, owned by the
// process's user, as BuildKit does.
func setupCwd(p *specs.Process) error {
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
		p.Cwd = cwd
	}
	if _, err := os.Stat(cwd); err == nil {
		return nil
	}
	// Create one component at a time, so that only what was made is chowned.
	parts := strings.Split(strings.Trim(cwd, "/"), "/")
	dir := ""
	for _, part := range parts {
		dir += "/" + part
		err := os.Mkdir(dir, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return stepf(err, "creating the working directory %s", cwd)
		}
		if err := os.Lchown(dir, int(p.User.UID), int(p.User.GID)); err != nil {
			return stepf(err, "creating the working directory %s", cwd)
		}
	}
	return nil
}

// setupUserAndCaps drops to the process's user and capabilities in runc's
// order: bounding set first, then ids with the permitted set kept, then the
// effective, permitted, inheritable and ambient sets.
func setupUserAndCaps(p *specs.Process) error {
	caps, err := capability.NewPid2(0)
	if err != nil {
		return step("reading capabilities", err)
	}
	var bounding, effective, permitted, inheritable, ambient []capability.Cap
	if c := p.Capabilities; c != nil {
		sets := []struct {
			names []string
			out   *[]capability.Cap
		}{{c.Bounding, &bounding}, {c.Effective, &effective}, {c.Permitted, &permitted}, {c.Inheritable, &inheritable}, {c.Ambient, &ambient}}
		for _, set := range sets {
			if *set.out, err = parseCaps(set.names); err != nil {
				return step("parsing capabilities", err)
			}
		}
	}
	caps.Clear(capability.BOUNDS)
	caps.Set(capability.BOUNDING, bounding...)
	if err := caps.Apply(capability.BOUNDS); err != nil {
		return step("dropping bounding capabilities", err)
	}

	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return step("keeping capabilities across setuid", err)
	}
	u := p.User
	if err := setGroups(u.AdditionalGids); err != nil {
		return step("setting supplementary groups", err)
	}
	// syscall's Setgid and Setuid change every thread of the process.
	if err := syscall.Setgid(int(u.GID)); err != nil {
		return stepf(err, "setting gid %d", u.GID)
	}
	if err := syscall.Setuid(int(u.UID)); err != nil {
		return stepf(err, "setting uid %d", u.UID)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return step("clearing keepcaps", err)
	}

	caps.Clear(capability.CAPS | capability.AMBS)
	caps.Set(capability.EFFECTIVE, effective...)
	caps.Set(capability.PERMITTED, permitted...)
	caps.Set(capability.INHERITABLE, inheritable...)
	caps.Set(capability.AMBIENT, ambient...)
	if err := caps.Apply(capability.CAPS | capability.AMBS); err != nil {
		return step("setting capabilities", err)
	}
	return nil
}

// setGroups sets the supplementary groups, unless setgroups(2) is denied in
// this user namespace (an unprivileged single-id mapping), where it cannot
// be done and the process keeps none.
func setGroups(gids []uint32) error {
	if b, err := os.ReadFile("/proc/self/setgroups"); err == nil && strings.TrimSpace(string(b)) == "deny" {
		return nil
	}
	groups := make([]int, len(gids))
	for i, g := range gids {
		groups[i] = int(g)
	}
	return syscall.Setgroups(groups)
}

// parseCaps maps runtime-spec capability names ("CAP_CHOWN") to capabilities.
func parseCaps(names []string) ([]capability.Cap, error) {
	known := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		known["CAP_"+strings.ToUpper(c.String())] = c
	}
	last, err := capability.LastCap()
	if err != nil {
		return nil, err
	}
	var out []capability.Cap
	for _, n := range names {
		c, ok := known[strings.ToUpper(n)]
		if !ok {
			return nil, fmt.Errorf("unknown capability %q", n)
		}
		if c > last {
			continue // not supported by this kernel, as runc does
		}
		out = append(out, c)
	}
	return out, nil
}

// setRlimit applies one rlimit. It uses syscall.Setrlimit so that the Go
// runtime does not restore its saved RLIMIT_NOFILE at exec.
func setRlimit(rl specs.POSIXRlimit) error {
	res, ok := map[string]int{
		"RLIMIT_AS":         unix.RLIMIT_AS,
		"RLIMIT_CORE":       unix.RLIMIT_CORE,
		"RLIMIT_CPU":        unix.RLIMIT_CPU,
		"RLIMIT_DATA":       unix.RLIMIT_DATA,
		"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
		"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
		"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
		"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
		"RLIMIT_NICE":       unix.RLIMIT_NICE,
		"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
		"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
		"RLIMIT_RSS":        unix.RLIMIT_RSS,
		"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
		"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
		"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
		"RLIMIT_STACK":      unix.RLIMIT_STACK,
	}[rl.Type]
	if !ok {
		return fmt.Errorf("unknown rlimit %q", rl.Type)
	}
	return syscall.Setrlimit(res, &syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard})
}
