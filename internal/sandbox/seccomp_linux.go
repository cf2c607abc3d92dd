package sandbox

import (
	"cmp"
	"fmt"
	"slices"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// syscallTable maps the system call names of one architecture to numbers.
type syscallTable struct {
	audit   uint32 // AUDIT_ARCH_* of seccomp_data.arch
	numbers map[string]uint32
	// x32: the architecture's value also carries x32 calls (numbers with
	// bit 30 set), which the filter refuses with ENOSYS.
	x32 bool
}

// x32SyscallBit marks the system calls of the x32 ABI on x86_64.
const x32SyscallBit = 0x40000000

// Offsets in struct seccomp_data.
const (
	seccompDataNr   = 0
	seccompDataArch = 4
	seccompDataArgs = 16 // args[i] at 16 + 8*i; its low half first (little endian)
)

// compileSeccomp turns p into a classic BPF program for seccomp. It takes
// the subset of runtime-spec profiles that seccompProfile makes, and
// refuses anything else rather than drop a rule: the default action
// SCMP_ACT_ALLOW; rules with SCMP_ACT_ERRNO (EPERM unless ErrnoRet says
// otherwise); at most one argument condition per rule, SCMP_CMP_MASKED_EQ on
// the low 32 bits of an argument. A name the architecture lacks is skipped.
// Calls of an architecture that p does not list (or tables lacks) are
// allowed; x32 calls are refused with ENOSYS.
func compileSeccomp(p *specs.LinuxSeccomp, tables map[specs.Arch]syscallTable) ([]unix.SockFilter, error) {
	if p.DefaultAction != specs.ActAllow {
		return nil, fmt.Errorf("seccomp: default action %s is not supported", p.DefaultAction)
	}
	for _, r := range p.Syscalls {
		if r.Action != specs.ActErrno {
			return nil, fmt.Errorf("seccomp: action %s of %v is not supported", r.Action, r.Names)
		}
		if len(r.Args) > 1 || (len(r.Args) == 1 && (r.Args[0].Op != specs.OpMaskedEqual || r.Args[0].Index > 5 || r.Args[0].Value>>32 != 0 || r.Args[0].ValueTwo>>32 != 0)) {
			return nil, fmt.Errorf("seccomp: the argument conditions of %v are not supported", r.Names)
		}
	}
	prog := []unix.SockFilter{load(seccompDataArch)}
	for _, arch := range p.Architectures {
		t, ok := tables[arch]
		if !ok {
			continue
		}
		var entries []seccompEntry
		for _, r := range p.Syscalls {
			for _, name := range r.Names {
				if nr, ok := t.numbers[name]; ok {
					entries = append(entries, seccompEntry{nr: nr, rule: r})
				}
			}
		}
		slices.SortStableFunc(entries, func(a, b seccompEntry) int { return cmp.Compare(a.nr, b.nr) })
		for i := 1; i < len(entries); i++ {
			if entries[i].nr == entries[i-1].nr {
				return nil, fmt.Errorf("seccomp: %s: call %d is in two rules", arch, entries[i].nr)
			}
		}
		section := []unix.SockFilter{load(seccompDataNr)}
		if t.x32 {
			section = append(section, jump(unix.BPF_JGE, x32SyscallBit, 0, 1), ret(unix.SECCOMP_RET_ERRNO|errnoENOSYS))
		}
		tree, err := seccompTree(entries)
		if err != nil {
			return nil, fmt.Errorf("seccomp: %s: %w", arch, err)
		}
		section = append(section, tree...)
		if len(section) > 255 {
			return nil, fmt.Errorf("seccomp: the filter of %s has %d instructions, more than a jump spans", arch, len(section))
		}
		prog = append(prog, jump(unix.BPF_JEQ, t.audit, 0, uint8(len(section))))
		prog = append(prog, section...)
	}
	return append(prog, ret(unix.SECCOMP_RET_ALLOW)), nil
}

// seccompEntry is one rule for one system call number.
type seccompEntry struct {
	nr   uint32
	rule specs.LinuxSyscall
}

// seccompTree returns code that, with the call's number in the
// accumulator, returns the action of the matching entry (entries sorted by
// number) or allows the call: a binary search on the number down to a few
// entries compared one by one, so that an allowed call, nearly every one,
// passes about ten instructions instead of one per entry.
func seccompTree(entries []seccompEntry) ([]unix.SockFilter, error) {
	if len(entries) <= 4 {
		var code []unix.SockFilter
		for _, e := range entries {
			errno := uint32(errnoEPERM)
			if e.rule.ErrnoRet != nil {
				errno = uint32(*e.rule.ErrnoRet)
			}
			action := ret(unix.SECCOMP_RET_ERRNO | errno&unix.SECCOMP_RET_DATA)
			if len(e.rule.Args) == 0 {
				code = append(code, jump(unix.BPF_JEQ, e.nr, 0, 1), action)
				continue
			}
			a := e.rule.Args[0]
			code = append(code,
				jump(unix.BPF_JEQ, e.nr, 0, 5),
				load(seccompDataArgs+8*uint32(a.Index)),
				unix.SockFilter{Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: uint32(a.Value)},
				jump(unix.BPF_JEQ, uint32(a.ValueTwo), 0, 1),
				action,
				load(seccompDataNr))
		}
		return append(code, ret(unix.SECCOMP_RET_ALLOW)), nil
	}
	mid := len(entries) / 2
	high, err := seccompTree(entries[mid:])
	if err != nil {
		return nil, err
	}
	low, err := seccompTree(entries[:mid])
	if err != nil {
		return nil, err
	}
	if len(high) > 255 {
		return nil, fmt.Errorf("%d instructions, more than a jump spans", len(high))
	}
	// Numbers at or above the middle entry's go on to high; the others
	// jump over it to low.
	code := []unix.SockFilter{jump(unix.BPF_JGE, entries[mid].nr, 0, uint8(len(high)))}
	return append(append(code, high...), low...), nil
}

func load(off uint32) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
}

func jump(op uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k, Jt: jt, Jf: jf}
}

func ret(k uint32) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k}
}

// loadSeccomp compiles p for this machine and installs it on the calling
// thread, whose next exec passes it on. It needs no_new_privs or
// CAP_SYS_ADMIN.
//
// The filter is installed with SECCOMP_FILTER_FLAG_SPEC_ALLOW (Linux 4.17
// and later; without it on older kernels): where the kernel mitigates
// Speculative Store Bypass only for processes that ask or have a seccomp
// filter (spec_store_bypass_disable=seccomp, the default before Linux
// 5.16), a filter would otherwise slow every CPU-bound RUN step (a
// compile) for an attack within one process, which a build step is not
// defended against anyway.
func loadSeccomp(p *specs.LinuxSeccomp) error {
	prog, err := compileSeccomp(p, syscallTables)
	if err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, uintptr(unsafe.Pointer(&fprog)))
	if errno == unix.EINVAL {
		_, _, errno = unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	}
	if errno != 0 {
		return fmt.Errorf("installing the seccomp filter: %w", errno)
	}
	return nil
}
