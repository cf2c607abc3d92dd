//go:build linux

package sandbox

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// syscallTables has the numbers of the names seccompProfile uses.
var syscallTables = map[specs.Arch]syscallTable{
	specs.ArchAARCH64: {audit: unix.AUDIT_ARCH_AARCH64, numbers: nativeSyscalls},
}
