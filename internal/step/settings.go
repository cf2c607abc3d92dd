package step

import (
	"fmt"
	"strconv"
	"strings"
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

// ulimitNames are the names docker's --ulimit takes.
var ulimitNames = []string{"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}

// ParseUlimit reads docker's --ulimit NAME=SOFT[:HARD] (-1 is unlimited).
func ParseUlimit(s string) (Ulimit, error) {
	name, limits, ok := strings.Cut(s, "=")
	known := false
	for _, n := range ulimitNames {
		known = known || n == name
	}
	if !ok || !known {
		return Ulimit{}, fmt.Errorf("--ulimit %q: want NAME=SOFT[:HARD] with NAME one of %s", s, strings.Join(ulimitNames, ", "))
	}
	soft, hard, two := strings.Cut(limits, ":")
	if !two {
		hard = soft
	}
	var u Ulimit
	var err error
	if u.Soft, err = parseLimit(soft); err == nil {
		u.Hard, err = parseLimit(hard)
	}
	if err != nil {
		return Ulimit{}, fmt.Errorf("--ulimit %q: %v", s, err)
	}
	if u.Soft > u.Hard {
		return Ulimit{}, fmt.Errorf("--ulimit %q: the soft limit is above the hard one", s)
	}
	u.Name = name
	return u, nil
}

func parseLimit(s string) (uint64, error) {
	if s == "-1" || s == "unlimited" {
		return ^uint64(0), nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a limit (a number, or -1 for none)", s)
	}
	return n, nil
}

// ParseSize reads a size as docker's --shm-size does: a number of bytes
// with an optional binary unit (b, k, m, g, t, also kb, KiB, ...).
func ParseSize(s string) (int64, error) {
	num := strings.TrimRight(s, "bBiIkKmMgGtT")
	unit := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(s[len(num):]), "b"), "i"))
	mult := map[string]int64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[unit]
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || n <= 0 || n*float64(mult) >= 1<<62 {
		return 0, fmt.Errorf("%q is not a size (bytes, or a number with k, m, g or t)", s)
	}
	return int64(n * float64(mult)), nil
}
