//go:build linux && !amd64 && !arm64

package sandbox

import specs "github.com/opencontainers/runtime-spec/specs-go"

// syscallTables is empty here: seccompProfile makes no profile for this
// architecture.
var syscallTables = map[specs.Arch]syscallTable{}
