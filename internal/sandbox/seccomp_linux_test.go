package sandbox

import (
	"encoding/binary"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runBPF runs a seccomp program on one call (nr, arch, args) as the kernel
// would, for the instructions compileSeccomp emits.
func runBPF(t *testing.T, prog []unix.SockFilter, arch, nr uint32, args [6]uint64) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[seccompDataNr:], nr)
	binary.LittleEndian.PutUint32(data[seccompDataArch:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[seccompDataArgs+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			hit := acc == in.K
			if in.Code&0xf0 == unix.BPF_JGE {
				hit = acc >= in.K
			}
			if hit {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: unknown code %#x", pc, in.Code)
		}
	}
	t.Fatal("the program ran off its end")
	return 0
}

func TestSeccompProgram(t *testing.T) {
	p := seccompProfile()
	if p == nil {
		t.Skip("no seccomp profile on this architecture")
	}
	prog, err := compileSeccomp(p, syscallTables)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d instructions", len(prog))
	const (
		allow = unix.SECCOMP_RET_ALLOW
		eperm = unix.SECCOMP_RET_ERRNO | errnoEPERM
		enosy = unix.SECCOMP_RET_ERRNO | errnoENOSYS
	)
	native := syscallTables[p.Architectures[0]]
	threadFlags := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM)
	tests := []struct {
		name     string
		arch, nr uint32
		arg0     uint64
		want     uint32
	}{
		{"keyctl", native.audit, native.numbers["keyctl"], 0, eperm},
		{"io_uring_setup", native.audit, native.numbers["io_uring_setup"], 0, eperm},
		{"unshare(CLONE_NEWUSER)", native.audit, native.numbers["unshare"], cloneNewUser, eperm},
		{"unshare(CLONE_NEWUSER|CLONE_NEWNS)", native.audit, native.numbers["unshare"], cloneNewUser | unix.CLONE_NEWNS, eperm},
		{"unshare(CLONE_NEWNS)", native.audit, native.numbers["unshare"], unix.CLONE_NEWNS, allow},
		{"clone(CLONE_NEWUSER)", native.audit, native.numbers["clone"], cloneNewUser | uint64(unix.SIGCHLD), eperm},
		{"clone(a thread)", native.audit, native.numbers["clone"], threadFlags, allow},
		{"clone(fork)", native.audit, native.numbers["clone"], uint64(unix.SIGCHLD), allow},
		{"clone3", native.audit, native.numbers["clone3"], 0, enosy},
		{"getpid", native.audit, unix.SYS_GETPID, 0, allow},
		{"read", native.audit, unix.SYS_READ, 0, allow},
		{"an architecture without a table", 0x12345678, native.numbers["keyctl"], 0, allow},
	}
	if native.x32 {
		i386 := syscallTables[specs.ArchX86]
		tests = append(tests, []struct {
			name     string
			arch, nr uint32
			arg0     uint64
			want     uint32
		}{
			{"x32 keyctl", native.audit, x32SyscallBit | native.numbers["keyctl"], 0, enosy},
			{"x32 read", native.audit, x32SyscallBit | unix.SYS_READ, 0, enosy},
			{"i386 keyctl", i386.audit, 288, 0, eperm},
			{"i386 unshare(CLONE_NEWUSER)", i386.audit, 310, cloneNewUser, eperm},
			{"i386 getpid", i386.audit, 20, 0, allow},
			// x86_64's keyctl number is another call on i386.
			{"i386 250", i386.audit, native.numbers["keyctl"], 0, allow},
		}...)
	}
	for _, tc := range tests {
		if got := runBPF(t, prog, tc.arch, tc.nr, [6]uint64{tc.arg0}); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, got, tc.want)
		}
	}
	// Every number of every table, with and without CLONE_NEWUSER: the
	// search tree gives what the rules say.
	for arch, tbl := range syscallTables {
		byNr := map[uint32]string{}
		for name, nr := range tbl.numbers {
			byNr[nr] = name
		}
		for nr := uint32(0); nr < 600; nr++ {
			for _, arg0 := range []uint64{0, cloneNewUser} {
				want := uint32(allow)
				switch name := byNr[nr]; {
				case name == "clone3":
					want = enosy
				case name == "clone" || name == "unshare":
					if arg0 != 0 {
						want = eperm
					}
				case slices.Contains(deniedSyscalls, name):
					want = eperm
				}
				if got := runBPF(t, prog, tbl.audit, nr, [6]uint64{arg0}); got != want {
					t.Errorf("%s call %d (%q) with %#x: %#x, want %#x", arch, nr, byNr[nr], arg0, got, want)
				}
			}
		}
	}
}

func TestSeccompRefusesWhatItCannotCompile(t *testing.T) {
	eperm := uint(errnoEPERM)
	for name, p := range map[string]*specs.LinuxSeccomp{
		"default errno":  {DefaultAction: specs.ActErrno},
		"kill action":    {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"keyctl"}, Action: specs.ActKill}}},
		"two conditions": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: &eperm, Args: []specs.LinuxSeccompArg{{Op: specs.OpMaskedEqual}, {Index: 1, Op: specs.OpMaskedEqual}}}}},
		"another op":     {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"clone"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Op: specs.OpEqualTo}}}}},
		"a 64-bit value": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"clone"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Op: specs.OpMaskedEqual, Value: 1 << 40, ValueTwo: 1 << 40}}}}},
	} {
		if _, err := compileSeccomp(p, syscallTables); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
}
