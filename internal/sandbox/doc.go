// Package sandbox runs one command (a RUN step, or `whittle run`) in Linux
// namespaces with a root filesystem of its own.
//
// The configuration is an OCI runtime-spec [specs.Spec], so the same value
// could be handed to runc or crun. [NewSpec] builds it from [Options] without
// touching the system (BuildKit's defaults: mount, pid, ipc and uts
// namespaces, a fresh /proc, a minimal /dev, Docker's default capabilities,
// no_new_privs). [Run] performs it: it re-executes the current binary, whose
// copy (taken over by this package's init function, before the rest of the
// binary initializes) sets the namespaces up, pivots into the root
// filesystem, drops privileges and executes the command as PID 1 of a new
// PID namespace.
//
// No cgo and no libcontainer: the child side is plain golang.org/x/sys/unix
// calls made from the re-executed binary, never from a forked Go runtime.
//
// Not done (yet): cgroups (no resource limits, no cgroup namespace, and no
// /sys/fs/cgroup mount: the hybrid cgroup v1/v2 hosts this runs on would need
// runc's per-controller binds), seccomp, AppArmor and SELinux labels, joining
// existing namespaces, and id mappings wider than what the caller may write
// itself (newuidmap for /etc/subuid ranges). In a user namespace without a
// network namespace of its own, /sys is the host's bound read-only, whose
// submounts stay as the host has them, as with runc rootless.
package sandbox
