// Package userns tells whether whittle runs rootless: as root of a user
// namespace whose root is an unprivileged user outside. Rootless mode
// changes where the store lives, how overlayfs marks opaque directories
// (user.* instead of trusted.* attributes) and what unpacking may do
// (no device nodes, no owners outside the mapped ranges).
package userns

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mapping is one line of /proc/self/uid_map or gid_map.
type Mapping struct {
	Inside, Outside, Size uint32
}

// State describes the user namespace the process runs in.
type State struct {
	// UIDs and GIDs are the process's mappings.
	UIDs, GIDs []Mapping
}

// Initial reports whether these are the initial namespace's mappings (the
// whole id space mapped to itself): whittle runs as the host sees it.
func (s State) Initial() bool {
	return len(s.UIDs) == 1 && s.UIDs[0] == Mapping{0, 0, 4294967295}
}

// Rootless reports whether the process is root inside a user namespace
// whose root is not root outside, or is not root at all.
func (s State) Rootless() bool {
	if os.Geteuid() != 0 {
		return true
	}
	return !s.Initial() && (len(s.UIDs) == 0 || s.outsideOf(0) != 0)
}

// CanChown reports whether files may be given owners other than the
// process's own: as real root, or as root of a namespace that maps more
// than one id.
func (s State) CanChown() bool {
	if os.Geteuid() != 0 {
		return false
	}
	if s.Initial() {
		return true
	}
	n := uint64(0)
	for _, m := range s.UIDs {
		n += uint64(m.Size)
	}
	return n > 1
}

func (s State) outsideOf(inside uint32) uint32 {
	for _, m := range s.UIDs {
		if inside >= m.Inside && inside-m.Inside < m.Size {
			return m.Outside + inside - m.Inside
		}
	}
	return 0xffffffff
}

// Describe says in a few words how ids are mapped, for `whittle info`.
func (s State) Describe() string {
	if s.Initial() {
		return "initial user namespace (real root)"
	}
	var parts []string
	for _, m := range s.UIDs {
		parts = append(parts, fmt.Sprintf("%d→%d×%d", m.Inside, m.Outside, m.Size))
	}
	return "user namespace, uids " + strings.Join(parts, ", ")
}

var (
	once  sync.Once
	state State
)

// Current returns the state of this process, read once.
func Current() State {
	once.Do(func() {
		state.UIDs, _ = readMap("/proc/self/uid_map")
		state.GIDs, _ = readMap("/proc/self/gid_map")
	})
	return state
}

func readMap(path string) ([]Mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseMap(f)
}

// ParseMap parses the format of /proc/PID/uid_map.
func ParseMap(r io.Reader) ([]Mapping, error) {
	var out []Mapping
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		var n [3]uint64
		for i := range f {
			v, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("parsing id map line %q: %w", sc.Text(), err)
			}
			n[i] = v
		}
		out = append(out, Mapping{uint32(n[0]), uint32(n[1]), uint32(n[2])})
	}
	return out, sc.Err()
}

// SubIDRange is a range of subordinate ids from /etc/subuid or /etc/subgid.
type SubIDRange struct {
	Start, Count uint32
}

// SubIDs returns the ranges the file (/etc/subuid or /etc/subgid) grants
// to the user with the given name or numeric id.
func SubIDs(path, name string, id int) ([]SubIDRange, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []SubIDRange
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.Split(line, ":")
		if len(p) != 3 || (p[0] != name && p[0] != strconv.Itoa(id)) {
			continue
		}
		start, err1 := strconv.ParseUint(p[1], 10, 32)
		count, err2 := strconv.ParseUint(p[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 {
			continue
		}
		out = append(out, SubIDRange{uint32(start), uint32(count)})
	}
	return out, sc.Err()
}

// SpecGIDMappings returns the process's gid mappings in runtime-spec form,
// or nil in the initial namespace: what sandbox.Options.ParentGIDMappings
// wants.
func (s State) SpecGIDMappings() []specs.LinuxIDMapping {
	if s.Initial() {
		return nil
	}
	var out []specs.LinuxIDMapping
	for _, m := range s.GIDs {
		out = append(out, specs.LinuxIDMapping{ContainerID: m.Inside, HostID: m.Outside, Size: m.Size})
	}
	return out
}
