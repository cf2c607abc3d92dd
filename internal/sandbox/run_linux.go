package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/moby/sys/reexec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The child's inherited descriptors: the status socket and the config pipe.
const (
	childStatusFd = 3
	childConfigFd = 4
)

// childMessage is what the child sends on the status socket: a failure
// before exec, or (with a terminal) the pseudo-terminal's master.
type childMessage struct {
	// Type is "error" (setup failed), "exec" (the command could not be
	// executed), "ready" (about to execute the command) or "pty" (a
	// descriptor rides along).
	Type  string `json:"type"`
	Op    string `json:"op,omitempty"`
	Msg   string `json:"msg,omitempty"`
	Errno int    `json:"errno,omitempty"`
	// Name and NotFound describe an exec failure.
	Name     string `json:"name,omitempty"`
	NotFound bool   `json:"notFound,omitempty"`
}

func run(ctx context.Context, spec *specs.Spec, stdio Stdio) (retErr error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if spec == nil || spec.Process == nil || len(spec.Process.Args) == 0 || spec.Root == nil || spec.Root.Path == "" {
		return fmt.Errorf("running sandbox: the spec needs a process with args and a root path")
	}
	rootfs, err := filepath.Abs(spec.Root.Path)
	if err != nil {
		return fmt.Errorf("running sandbox: %w", err)
	}
	if st, err := os.Stat(rootfs); err != nil {
		return fmt.Errorf("running sandbox: root filesystem: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("running sandbox: root filesystem %s is not a directory", rootfs)
	}

	// Work on a copy: the caller's spec is not changed.
	s := *spec
	s.Root = &specs.Root{Path: rootfs, Readonly: spec.Root.Readonly}
	s.Mounts = slices.Clone(spec.Mounts)
	if !slices.ContainsFunc(s.Mounts, func(m specs.Mount) bool { return filepath.Clean(m.Destination) == "/etc/hosts" }) {
		// Beside the root filesystem, not in $TMPDIR: whatever area the
		// caller keeps that in (the store's session) is swept after a
		// crash. $TMPDIR only when that directory is not ours to write.
		hosts, cleanup, err := WriteHostsFile(filepath.Dir(rootfs), s.Hostname, nil)
		if err != nil {
			hosts, cleanup, err = WriteHostsFile("", s.Hostname, nil)
		}
		if err != nil {
			return err
		}
		defer cleanup()
		s.Mounts = append(s.Mounts, HostsMount(hosts))
	}

	var uidMaps, gidMaps []syscall.SysProcIDMap
	var nsFlags uintptr
	if s.Linux != nil {
		for _, ns := range s.Linux.Namespaces {
			if ns.Path != "" {
				return fmt.Errorf("running sandbox: joining an existing %s namespace is not supported", ns.Type)
			}
			f, ok := map[specs.LinuxNamespaceType]uintptr{
				specs.PIDNamespace:     unix.CLONE_NEWPID,
				specs.NetworkNamespace: unix.CLONE_NEWNET,
				specs.MountNamespace:   unix.CLONE_NEWNS,
				specs.IPCNamespace:     unix.CLONE_NEWIPC,
				specs.UTSNamespace:     unix.CLONE_NEWUTS,
				specs.UserNamespace:    unix.CLONE_NEWUSER,
				specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
			}[ns.Type]
			if !ok {
				return fmt.Errorf("running sandbox: unsupported namespace %q", ns.Type)
			}
			nsFlags |= f
		}
		for _, m := range s.Linux.UIDMappings {
			uidMaps = append(uidMaps, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		for _, m := range s.Linux.GIDMappings {
			gidMaps = append(gidMaps, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
	}
	if nsFlags&unix.CLONE_NEWNS == 0 || nsFlags&unix.CLONE_NEWPID == 0 {
		return fmt.Errorf("running sandbox: the spec must ask for mount and pid namespaces")
	}
	if (nsFlags&unix.CLONE_NEWUSER != 0) != (len(uidMaps) > 0 && len(gidMaps) > 0) {
		return fmt.Errorf("running sandbox: a user namespace needs uid and gid mappings, and mappings need a user namespace")
	}

	// Stubs belong to the sandbox's root: its host ids under a user namespace.
	stubUID, stubGID := os.Geteuid(), os.Getegid()
	if len(uidMaps) > 0 {
		stubUID, stubGID = -1, -1
		for _, m := range uidMaps {
			if m.ContainerID == 0 {
				stubUID = m.HostID
			}
		}
		for _, m := range gidMaps {
			if m.ContainerID == 0 {
				stubGID = m.HostID
			}
		}
		if stubUID < 0 || stubGID < 0 {
			return fmt.Errorf("running sandbox: the user namespace does not map root (uid and gid 0)")
		}
	}
	stubs, err := createMountStubs(rootfs, s.Mounts, stubUID, stubGID)
	defer func() {
		if cerr := stubs.cleanup(); cerr != nil && retErr == nil {
			retErr = fmt.Errorf("cleaning up mount points: %w", cerr)
		}
	}()
	if err != nil {
		return &SetupError{Op: "creating mount points", Err: err}
	}

	config, err := json.Marshal(&s)
	if err != nil {
		return fmt.Errorf("running sandbox: encoding the spec: %w", err)
	}

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("running sandbox: creating the status socket: %w", err)
	}
	statusParent := os.NewFile(uintptr(fds[0]), "sandbox-status")
	statusChild := os.NewFile(uintptr(fds[1]), "sandbox-status-child")
	defer statusParent.Close()
	defer statusChild.Close()
	configR, configW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("running sandbox: creating the config pipe: %w", err)
	}
	defer configR.Close()
	defer configW.Close()

	cmd := reexec.Command(initName)
	cmd.Env = []string{}
	cmd.ExtraFiles = []*os.File{statusChild, configR} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  nsFlags,
		UidMappings: uidMaps,
		GidMappings: gidMaps,
		// Only a privileged parent may allow setgroups in the namespace.
		GidMappingsEnableSetgroups: len(gidMaps) > 0 && os.Geteuid() == 0,
		// If whittle dies, the sandbox dies with it.
		Pdeathsig: syscall.SIGKILL,
	}
	if len(uidMaps) > 0 {
		// Become the namespace's root before exec, so the child keeps its
		// capabilities in the namespace: the caller's own ids are usually
		// not mapped (or mapped to another id).
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: !cmd.SysProcAttr.GidMappingsEnableSetgroups}
	}
	// Bound the wait for stdio copying once the process is gone.
	cmd.WaitDelay = 5 * time.Second
	terminal := s.Process.Terminal
	if !terminal {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	}

	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting sandbox: %w", err)
	}
	statusChild.Close()
	configR.Close()

	// From here on the child is running: kill it when ctx is done.
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	defer stop()

	go func() {
		_, _ = configW.Write(config)
		configW.Close()
	}()

	msgs, ptmx, recvErr := readChildMessages(statusParent)
	var ioWG sync.WaitGroup
	if ptmx != nil {
		defer ptmx.Close()
		copyTerminal(&ioWG, ptmx, stdio, s.Process.ConsoleSize)
	}
	waitErr := cmd.Wait()
	ioWG.Wait()

	if ctx.Err() != nil {
		return ctx.Err()
	}
	if recvErr != nil {
		return fmt.Errorf("running sandbox: reading the child's status: %w", recvErr)
	}
	for _, m := range msgs {
		switch m.Type {
		case "error":
			return &SetupError{Op: m.Op, Err: &childError{msg: m.Msg, errno: syscall.Errno(m.Errno)}}
		case "exec":
			e := &ExitError{Code: 126, Err: &exec.Error{Name: m.Name, Err: &childError{msg: m.Msg, errno: syscall.Errno(m.Errno)}}}
			if m.NotFound {
				e.Code = 127
				e.Err = &exec.Error{Name: m.Name, Err: exec.ErrNotFound}
			}
			return e
		}
	}
	if !slices.ContainsFunc(msgs, func(m childMessage) bool { return m.Type == "ready" }) {
		// The child died before reaching the command (a crash, a kill).
		return &SetupError{Op: "starting the sandbox child", Err: fmt.Errorf("it exited before running the command: %v", waitErr)}
	}
	if waitErr != nil {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return &ExitError{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
			}
			return &ExitError{Code: ee.ExitCode()}
		}
		return fmt.Errorf("running sandbox: %w", waitErr)
	}
	return nil
}

// readChildMessages reads the status socket until the child closes it (by
// executing the command, or by exiting), returning its messages and the
// terminal master it sent, if any.
func readChildMessages(sock *os.File) ([]childMessage, *os.File, error) {
	var msgs []childMessage
	var ptmx *os.File
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return msgs, ptmx, err
		}
		if n == 0 && oobn == 0 {
			return msgs, ptmx, nil
		}
		var m childMessage
		if err := json.Unmarshal(buf[:n], &m); err != nil {
			return msgs, ptmx, fmt.Errorf("decoding a message: %w", err)
		}
		if m.Type == "pty" && oobn > 0 {
			cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				return msgs, ptmx, err
			}
			for _, c := range cmsgs {
				fds, err := unix.ParseUnixRights(&c)
				if err != nil {
					return msgs, ptmx, err
				}
				for _, fd := range fds {
					if ptmx == nil {
						ptmx = os.NewFile(uintptr(fd), "ptmx")
					} else {
						unix.Close(fd)
					}
				}
			}
			continue
		}
		msgs = append(msgs, m)
	}
}

// copyTerminal connects the terminal master with stdio: Stdin is copied to
// it and its output to Stdout. The output copy ends when the process side of
// the terminal is closed.
func copyTerminal(wg *sync.WaitGroup, ptmx *os.File, stdio Stdio, size *specs.Box) {
	if size != nil {
		_ = unix.IoctlSetWinsize(int(ptmx.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)})
	}
	if stdio.Stdin != nil {
		// Not waited for: a terminal's reader may block forever.
		go func() { _, _ = io.Copy(ptmx, stdio.Stdin) }()
	}
	out := stdio.Stdout
	if out == nil {
		out = io.Discard
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Reading the master fails with EIO once the process side is closed.
		_, _ = io.Copy(out, ptmx)
	}()
}
