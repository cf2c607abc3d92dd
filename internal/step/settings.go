package step

import (
	"fmt"
	"strings"

	units "github.com/docker/go-units"
)

// Settings are what the build, not the instruction, says about every RUN
// step's sandbox: docker build's --add-host, --shm-size and --ulimit. They
// are part of every RUN's cache key (Key), as BuildKit keeps them in the
// exec op.
type Settings struct {
	// Hosts are added to /etc/hosts, after localhost.
	Hosts []Host
	// ShmSize is the size of /dev/shm in bytes; 0 is the default, 64 MiB.
	ShmSize int64
	// Ulimits replace the limits the process inherits.
	Ulimits []Ulimit
}

// Key is what the settings add to a RUN's cache key: "" when they are the
// defaults, so that keys made without them stay the same.
func (s Settings) Key() string {
	var parts []string
	if len(s.Hosts) > 0 {
		parts = append(parts, "hosts "+strings.Join(HostLines(s.Hosts), "\n"))
	}
	if s.ShmSize > 0 {
		parts = append(parts, fmt.Sprintf("shm %d", s.ShmSize))
	}
	for _, u := range s.Ulimits {
		parts = append(parts, fmt.Sprintf("ulimit %s=%d:%d", u.Name, u.Soft, u.Hard))
	}
	return strings.Join(parts, "\n")
}

// Ulimit is one resource limit (--ulimit NAME=SOFT[:HARD]).
type Ulimit struct {
	// Name is docker's: nofile, nproc, core, stack, memlock, ...
	Name       string
	Soft, Hard uint64
}

// ParseUlimit reads docker's --ulimit NAME=SOFT[:HARD] (-1 is unlimited)
// with docker's own parser (go-units): the same names, checks and errors.
func ParseUlimit(s string) (Ulimit, error) {
	u, err := units.ParseUlimit(s)
	if err != nil {
		return Ulimit{}, fmt.Errorf("--ulimit %q: %w (want NAME=SOFT[:HARD], as docker's)", s, err)
	}
	// -1 becomes the largest limit, RLIM_INFINITY, as docker passes it.
	return Ulimit{Name: u.Name, Soft: uint64(u.Soft), Hard: uint64(u.Hard)}, nil
}

// ParseSize reads a size as docker's --shm-size does (go-units'
// RAMInBytes: bytes, or a number with a binary unit k, m, g, t, p, also
// kb, KiB, ...); it must be above zero.
func ParseSize(s string) (int64, error) {
	n, err := units.RAMInBytes(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size (bytes, or a number with k, m, g or t)", s)
	}
	return n, nil
}
