package distroless

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// alternative is one update-alternatives link group: /usr/bin/<Name> →
// /etc/alternatives/<Name> → Target.
type alternative struct {
	Name     string
	Link     string
	Target   string
	Priority int
}

// jinfo is a parsed .jinfo file: the list of alternatives an OpenJDK
// package's postinst installs with update-alternatives (Debian's java-common
// convention, read by update-java-alternatives).
type jinfo struct {
	Name     string
	Priority int
	// Entries are (kind, name, target): kind is hl (headless JRE), jre,
	// jdkhl or jdk.
	Entries [][3]string
}

// parseJinfo reads a .jinfo file: key=value lines, a blank line, then
// "kind name target" lines.
func parseJinfo(name string, data []byte) (*jinfo, error) {
	j := &jinfo{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if k, v, ok := strings.Cut(s, "="); ok && !strings.ContainsAny(k, " \t") {
			switch k {
			case "name":
				j.Name = v
			case "priority":
				p, err := strconv.Atoi(v)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: priority %q is not a number", name, line, v)
				}
				j.Priority = p
			}
			continue
		}
		f := strings.Fields(s)
		if len(f) != 3 || !path.IsAbs(f[2]) {
			return nil, fmt.Errorf("%s:%d: want \"kind name /target\", got %q", name, line, s)
		}
		j.Entries = append(j.Entries, [3]string{f[0], f[1], f[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return j, nil
}

// alternativesFrom replays update-alternatives in automatic mode for the
// .jinfo files among captured: every entry whose target exists (exists
// takes a clean relative path) becomes /usr/bin/<name>, and where several
// declare a name, the highest priority wins (then the file name, for
// determinism).
func alternativesFrom(captured map[string][]byte, exists func(string) bool) ([]alternative, error) {
	best := map[string]alternative{}
	var files []string
	for p := range captured {
		if strings.HasPrefix(p, "usr/lib/jvm/.") && strings.HasSuffix(p, ".jinfo") {
			files = append(files, p)
		}
	}
	sort.Strings(files)
	for _, f := range files {
		j, err := parseJinfo("/"+f, captured[f])
		if err != nil {
			return nil, err
		}
		for _, e := range j.Entries {
			if !exists(strings.TrimPrefix(path.Clean(e[2]), "/")) {
				continue
			}
			a := alternative{Name: e[1], Link: "/usr/bin/" + e[1], Target: path.Clean(e[2]), Priority: j.Priority}
			if cur, ok := best[a.Name]; ok && cur.Priority >= a.Priority {
				continue
			}
			best[a.Name] = a
		}
	}
	out := make([]alternative, 0, len(best))
	for _, a := range best {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
