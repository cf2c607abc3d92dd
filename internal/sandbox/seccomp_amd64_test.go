//go:build linux

package sandbox

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/whittle-build/whittle/internal/testutil"
)

// TestI386SyscallNumbers checks the i386 table against Linux's header.
func TestI386SyscallNumbers(t *testing.T) {
	const header = "/usr/include/x86_64-linux-gnu/asm/unistd_32.h"
	f, err := os.Open(header)
	if err != nil {
		testutil.Unavailable(t, "no %s (linux-libc-dev, which .ci/run installs): %v", header, err)
	}
	defer f.Close()
	want := map[string]uint32{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[0] == "#define" && strings.HasPrefix(fields[1], "__NR_") {
			if n, err := strconv.ParseUint(fields[2], 10, 32); err == nil {
				want[strings.TrimPrefix(fields[1], "__NR_")] = uint32(n)
			}
		}
	}
	for name, nr := range i386Syscalls {
		if w, ok := want[name]; !ok || w != nr {
			t.Errorf("%s: %d, the header says %d (%v)", name, nr, w, ok)
		}
	}
	for _, n := range deniedSyscalls {
		if _, ok := i386Syscalls[n]; !ok && want[n] != 0 {
			t.Errorf("%s (i386 %d) is missing from the table", n, want[n])
		}
	}
}

// TestProfileNamesNumbered: every call the profile names has a number on
// x86_64 or i386, so a misspelt name cannot be skipped on every
// architecture without a word.
func TestProfileNamesNumbered(t *testing.T) {
	for _, r := range seccompProfile().Syscalls {
		for _, n := range r.Names {
			_, native := syscallTables[specs.ArchX86_64].numbers[n]
			_, i386 := i386Syscalls[n]
			if !native && !i386 {
				t.Errorf("%s: no number on x86_64 or i386", n)
			}
		}
	}
}
