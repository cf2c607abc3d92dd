package sandbox

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Network modes of [Options.Network].
const (
	// NetworkHost shares the host's network namespace (the default, as in
	// `docker build`), with the host's /etc/resolv.conf.
	NetworkHost = "host"
	// NetworkNone gives the command a network namespace with only a
	// loopback interface, which is up.
	NetworkNone = "none"
)

// DefaultHostname is the hostname when [Options.Hostname] is empty. It is
// BuildKit's, so a RUN that records `hostname` gives the same result.
const DefaultHostname = "buildkitsandbox"

// DefaultPathEnv is the PATH set when [Options.Env] has none, as Docker and
// BuildKit do for Linux containers.
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultCapabilities returns Docker's default capability set: the bounding
// set of every sandboxed process, and its effective and permitted sets when
// it runs as uid 0.
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN",
		"CAP_DAC_OVERRIDE",
		"CAP_FSETID",
		"CAP_FOWNER",
		"CAP_MKNOD",
		"CAP_NET_RAW",
		"CAP_SETGID",
		"CAP_SETUID",
		"CAP_SETFCAP",
		"CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT",
		"CAP_KILL",
		"CAP_AUDIT_WRITE",
	}
}

// Options describe the process NewSpec configures. The zero value of each
// field is a usable default except Args.
type Options struct {
	// Args is the command and its arguments; Args[0] is looked up in the PATH
	// of Env inside the root filesystem unless it contains a slash. Required.
	Args []string
	// Env is the environment, "KEY=value" entries. PATH is added with
	// DefaultPathEnv when missing; HOME is set by Run from the user's
	// /etc/passwd entry when missing, as runc does.
	Env []string
	// Cwd is the absolute working directory; "" means "/". Run creates it
	// (owned by UID:GID) when it does not exist, as BuildKit does.
	Cwd string
	// UID and GID are the numeric user and primary group (resolve names with
	// the passwd package). AdditionalGIDs are supplementary groups; the
	// primary group is added to them, as containerd and BuildKit do.
	UID, GID       uint32
	AdditionalGIDs []uint32
	// Hostname is the UTS hostname and the name /etc/hosts gives 127.0.0.1;
	// "" means DefaultHostname.
	Hostname string
	// Network is NetworkHost ("" too) or NetworkNone.
	Network string
	// Mounts are extra mounts, applied after the defaults in order. One with
	// the same destination as a default replaces it (e.g. a custom
	// /etc/hosts or /dev/shm).
	Mounts []specs.Mount
	// Terminal gives the process a pseudo-terminal as stdin, stdout and
	// stderr (`whittle run -t`).
	Terminal bool
	// ReadOnlyRoot mounts the root filesystem read-only.
	ReadOnlyRoot bool
	// ShmSize is the size of /dev/shm in bytes; 0 is 64 MiB, Docker's.
	ShmSize int64
	// Rlimits replace the limits the process inherits, one per type
	// ("RLIMIT_NOFILE").
	Rlimits []specs.POSIXRlimit
	// Privileged is BuildKit's insecure mode (RUN --security=insecure, what
	// `docker run --privileged` grants): every capability whittle holds, in
	// every set and for any user; no masked or read-only paths under /proc
	// and /sys; a writable /sys; no_new_privs unset; no seccomp filter;
	// and, outside a user namespace, the devices BuildKit adds (kmsg, cuse,
	// fuse, kvm, net/tun, loop-control and loop devices). NewSpec then reads this process's
	// capabilities and asks /dev/loop-control for the first free loop device.
	Privileged bool
	// NewPrivileges leaves no_new_privs unset, so setuid and file-capability
	// binaries (sudo, su to another user) gain privileges as they do under
	// BuildKit, which sets no_new_privs off. Default false: no_new_privs on.
	NewPrivileges bool
	// UIDMappings and GIDMappings, when set, run the process in a new user
	// namespace with these mappings (rootless builds). A single mapping of
	// size 1 is what an unprivileged user may write itself.
	UIDMappings, GIDMappings []specs.LinuxIDMapping
	// ParentGIDMappings are the gid mappings of the user namespace the
	// caller itself runs in, when that is not the initial one (rootless
	// whittle runs everything in a user namespace of its own): mounts are
	// then set up as in a user namespace (no gid=5 on /dev/pts unless gid 5
	// is mapped, the host's /sys bound instead of a new sysfs).
	ParentGIDMappings []specs.LinuxIDMapping
}

// NewSpec returns the runtime-spec configuration for running o.Args with
// rootfs (an absolute host path) as its root. It is pure, unless
// o.Privileged: nothing on the system is read or changed.
//
// The configuration follows BuildKit's runc executor: namespaces mount, pid,
// ipc and uts (net for NetworkNone, user when mappings are given); /proc,
// /dev (tmpfs with null, zero, full, random, urandom and tty bound from the
// host), /dev/pts, /dev/shm, /dev/mqueue, a read-only /sys; the host's
// /etc/resolv.conf read-only for NetworkHost; containerd's masked and
// read-only paths; Docker's default capabilities; no_new_privs (unless
// NewPrivileges); a seccomp filter refusing what Docker's default profile
// refuses a process without extra capabilities (seccompProfile); the
// host's rlimits. Run adds /etc/hosts itself unless Mounts has one.
func NewSpec(rootfs string, o Options) (*specs.Spec, error) {
	if len(o.Args) == 0 || o.Args[0] == "" {
		return nil, fmt.Errorf("building sandbox spec: no command")
	}
	if !path.IsAbs(rootfs) {
		return nil, fmt.Errorf("building sandbox spec: root filesystem %q is not an absolute path", rootfs)
	}
	cwd := o.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, fmt.Errorf("building sandbox spec: working directory %q is not an absolute path", cwd)
	}
	network := o.Network
	switch network {
	case "":
		network = NetworkHost
	case NetworkHost, NetworkNone:
	default:
		return nil, fmt.Errorf("building sandbox spec: unknown network mode %q (want %q or %q)", o.Network, NetworkHost, NetworkNone)
	}
	if (len(o.UIDMappings) == 0) != (len(o.GIDMappings) == 0) {
		return nil, fmt.Errorf("building sandbox spec: a user namespace needs both uid and gid mappings")
	}
	userns := len(o.UIDMappings) > 0
	// Mount options depend on the user namespace the sandbox ends up in:
	// its own, or (rootless whittle) the one whittle itself runs in.
	inUserNS, gidMaps := userns, o.GIDMappings
	if !userns && len(o.ParentGIDMappings) > 0 {
		inUserNS, gidMaps = true, o.ParentGIDMappings
	}
	hostname := o.Hostname
	if hostname == "" {
		hostname = DefaultHostname
	}

	env := slices.Clone(o.Env)
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH="+DefaultPathEnv)
	}

	caps := &specs.LinuxCapabilities{Bounding: DefaultCapabilities()}
	if o.UID == 0 {
		caps.Effective = DefaultCapabilities()
		caps.Permitted = DefaultCapabilities()
	}

	mounts := defaultMounts(network, inUserNS, gidMaps)
	if o.ShmSize > 0 {
		for i, m := range mounts {
			if m.Destination == "/dev/shm" {
				mounts[i].Options = append(slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return strings.HasPrefix(o, "size=") }),
					fmt.Sprintf("size=%dk", (o.ShmSize+1023)/1024))
			}
		}
	}
	devices := defaultDevices()
	masked, readonly := slices.Clone(maskedPaths), slices.Clone(readonlyPaths)
	noNewPrivs := !o.NewPrivileges
	seccomp := seccompProfile()
	if o.Privileged {
		seccomp = nil
		all, err := heldCapabilities()
		if err != nil {
			return nil, fmt.Errorf("building sandbox spec: %w", err)
		}
		caps = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all, Inheritable: all, Ambient: all}
		masked, readonly, noNewPrivs = nil, nil, false
		for i, m := range mounts {
			if m.Destination == "/sys" {
				mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
			}
		}
		if !inUserNS {
			devices = append(devices, privilegedDevices()...)
		}
	}

	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: path.Clean(rootfs), Readonly: o.ReadOnlyRoot},
		Hostname: hostname,
		Process: &specs.Process{
			Terminal: o.Terminal,
			User: specs.User{
				UID:            o.UID,
				GID:            o.GID,
				AdditionalGids: additionalGIDs(o.GID, o.AdditionalGIDs),
			},
			Args:            slices.Clone(o.Args),
			Env:             env,
			Cwd:             path.Clean(cwd),
			Capabilities:    caps,
			NoNewPrivileges: noNewPrivs,
			Rlimits:         slices.Clone(o.Rlimits),
		},
		Mounts: dedupMounts(append(mounts, o.Mounts...)),
		Linux: &specs.Linux{
			Namespaces:    namespaces(network, userns),
			UIDMappings:   slices.Clone(o.UIDMappings),
			GIDMappings:   slices.Clone(o.GIDMappings),
			Devices:       devices,
			MaskedPaths:   masked,
			ReadonlyPaths: readonly,
			Seccomp:       seccomp,
		},
	}
	return s, nil
}

func hasEnv(env []string, name string) bool {
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == name {
			return true
		}
	}
	return false
}

// additionalGIDs puts the primary group first and drops duplicates.
func additionalGIDs(gid uint32, extra []uint32) []uint32 {
	out := []uint32{gid}
	for _, g := range extra {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

func namespaces(network string, userns bool) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace},
		{Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace},
		{Type: specs.MountNamespace},
	}
	if network == NetworkNone {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	if userns {
		ns = append(ns, specs.LinuxNamespace{Type: specs.UserNamespace})
	}
	return ns
}

// defaultMounts are containerd's default mounts as BuildKit uses them (no
// /run; no /sys/fs/cgroup: see the package documentation), plus resolv.conf.
func defaultMounts(network string, userns bool, gidMappings []specs.LinuxIDMapping) []specs.Mount {
	ptsOpts := []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
	// gid=5 (tty) only when it exists in the namespace: an unmapped gid
	// makes the devpts mount fail.
	if !userns || mapsID(gidMappings, 5) {
		ptsOpts = append(ptsOpts, "gid=5")
	}
	sys := specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}}
	if userns && network == NetworkHost {
		// sysfs can only be mounted by the owner of the network namespace;
		// runc's rootless configuration binds the host's instead.
		sys = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
	}
	m := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: ptsOpts},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		sys,
	}
	if network == NetworkHost {
		m = append(m, specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: "/etc/resolv.conf", Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
	}
	return m
}

// mapsID reports whether a namespace id is mapped.
func mapsID(mappings []specs.LinuxIDMapping, id uint32) bool {
	for _, m := range mappings {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return true
		}
	}
	return false
}

// dedupMounts keeps one mount per destination: a later one replaces an
// earlier one in its position (BuildKit's dedupMounts).
func dedupMounts(mounts []specs.Mount) []specs.Mount {
	out := make([]specs.Mount, 0, len(mounts))
	seen := map[string]int{}
	for _, m := range mounts {
		m.Destination = path.Clean(m.Destination)
		if i, ok := seen[m.Destination]; ok {
			out[i] = m
			continue
		}
		seen[m.Destination] = len(out)
		out = append(out, m)
	}
	return out
}

// defaultDevices are the devices runc always creates; Run binds the host's
// nodes of the same path (so it also works in a user namespace).
func defaultDevices() []specs.LinuxDevice {
	mode := os.FileMode(0o666)
	var zero uint32
	dev := func(p string, major, minor int64) specs.LinuxDevice {
		return specs.LinuxDevice{Path: p, Type: "c", Major: major, Minor: minor, FileMode: &mode, UID: &zero, GID: &zero}
	}
	return []specs.LinuxDevice{
		dev("/dev/null", 1, 3),
		dev("/dev/zero", 1, 5),
		dev("/dev/full", 1, 7),
		dev("/dev/random", 1, 8),
		dev("/dev/urandom", 1, 9),
		dev("/dev/tty", 5, 0),
	}
}

// maskedPaths and readonlyPaths are containerd's defaults.
var (
	maskedPaths = []string{
		"/proc/acpi",
		"/proc/asound",
		"/proc/interrupts",
		"/proc/kcore",
		"/proc/keys",
		"/proc/latency_stats",
		"/proc/timer_list",
		"/proc/timer_stats",
		"/proc/sched_debug",
		"/proc/scsi",
		"/sys/firmware",
		"/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{
		"/proc/bus",
		"/proc/fs",
		"/proc/irq",
		"/proc/sys",
		"/proc/sysrq-trigger",
	}
)

// isBind reports whether m is a bind mount.
func isBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	return slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}
