package sandbox

import (
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cloneNewUser is CLONE_NEWUSER, the flag of clone(2) and unshare(2) that
// makes a user namespace.
const cloneNewUser = 0x10000000

// Errno values of the profile (the same on every Linux architecture).
const (
	errnoEPERM  = 1
	errnoENOSYS = 38
)

// deniedSyscalls are the system calls that Docker's default seccomp profile
// (what BuildKit's RUN steps get) refuses with EPERM to a process without
// extra capabilities: the keyrings, which are not namespaced; bpf,
// perf_event_open, userfaultfd and io_uring, large kernel interfaces that
// exploits lean on; entering namespaces and the mount API; and the
// administration calls that the capabilities RUN lacks guard anyway (module
// loading, kexec, reboot, swap, clocks, quotas, accounting, and the like).
var deniedSyscalls = []string{
	"add_key", "keyctl", "request_key",
	"bpf", "perf_event_open", "userfaultfd",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"setns", "mount", "umount", "umount2", "pivot_root",
	"fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
	"reboot", "swapon", "swapoff", "acct", "quotactl", "nfsservctl",
	"settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime", "clock_adjtime64",
	"lookup_dcookie", "uselib", "ustat", "sysfs", "vm86", "vm86old",
	"open_by_handle_at", "kcmp", "process_vm_readv", "process_vm_writev",
}

// seccompProfile is the seccomp filter of an unprivileged sandbox, as a
// runtime-spec profile: everything is allowed but deniedSyscalls, and
// clone and unshare with CLONE_NEWUSER (a user namespace would give the
// step every capability over a new set of kernel interfaces; Docker's
// profile allows namespace flags only with CAP_SYS_ADMIN). clone3 fails
// with ENOSYS, as in Docker's profile, because its flags are out of a
// filter's reach: the C library then falls back to clone. It is nil on
// architectures whose system call numbers whittle does not have
// (seccompArches).
func seccompProfile() *specs.LinuxSeccomp {
	arches := seccompArches[runtime.GOARCH]
	if len(arches) == 0 {
		return nil
	}
	eperm, enosys := uint(errnoEPERM), uint(errnoENOSYS)
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: arches,
		Syscalls: []specs.LinuxSyscall{
			{Names: deniedSyscalls, Action: specs.ActErrno, ErrnoRet: &eperm},
			{Names: []string{"clone", "unshare"}, Action: specs.ActErrno, ErrnoRet: &eperm,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: cloneNewUser, ValueTwo: cloneNewUser, Op: specs.OpMaskedEqual}}},
			{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		},
	}
}

// seccompArches are the architectures whose system calls the filter checks,
// by GOARCH of the host: the native one and, on amd64, i386 programs (on
// arm64, 32-bit arm programs are not checked: their numbers are not here).
var seccompArches = map[string][]specs.Arch{
	"amd64": {specs.ArchX86_64, specs.ArchX86},
	"arm64": {specs.ArchAARCH64},
}
