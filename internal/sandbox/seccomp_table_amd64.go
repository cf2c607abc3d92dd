//go:build linux

package sandbox

import (
	"maps"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// syscallTables has the numbers of the names seccompProfile uses: x86_64's
// from x/sys/unix, i386's from Linux's asm/unistd_32.h (checked against it
// by TestI386SyscallNumbers where the header is installed).
var syscallTables = map[specs.Arch]syscallTable{
	specs.ArchX86_64: {audit: unix.AUDIT_ARCH_X86_64, x32: true, numbers: withNative(map[string]uint32{
		"create_module": unix.SYS_CREATE_MODULE, "uselib": unix.SYS_USELIB, "ustat": unix.SYS_USTAT, "sysfs": unix.SYS_SYSFS,
	})},
	specs.ArchX86: {audit: unix.AUDIT_ARCH_I386, numbers: i386Syscalls},
}

// withNative returns nativeSyscalls with more.
func withNative(more map[string]uint32) map[string]uint32 {
	m := maps.Clone(nativeSyscalls)
	maps.Copy(m, more)
	return m
}

// i386Syscalls are the i386 numbers of the names seccompProfile uses.
var i386Syscalls = map[string]uint32{
	"add_key": 286, "keyctl": 288, "request_key": 287, "bpf": 357, "perf_event_open": 336, "userfaultfd": 374,
	"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
	"setns": 346, "mount": 21, "umount": 22, "umount2": 52, "pivot_root": 217,
	"fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "open_tree": 428, "move_mount": 429, "mount_setattr": 442,
	"kexec_load": 283, "init_module": 128, "finit_module": 350, "delete_module": 129, "create_module": 127,
	"reboot": 88, "swapon": 87, "swapoff": 115, "acct": 51, "quotactl": 131, "nfsservctl": 169,
	"settimeofday": 79, "stime": 25, "clock_settime": 264, "clock_settime64": 404, "clock_adjtime": 343, "clock_adjtime64": 405,
	"lookup_dcookie": 253, "uselib": 86, "ustat": 62, "sysfs": 135, "vm86": 166, "vm86old": 113,
	"open_by_handle_at": 342, "kcmp": 349, "process_vm_readv": 347, "process_vm_writev": 348,
	"clone": 120, "unshare": 310, "clone3": 435,
}
