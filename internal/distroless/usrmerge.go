package distroless

import (
	"path"
	"strings"
)

// usrMerge moves the top-level directories that a merged-/usr system keeps
// in /usr (bin, sbin, lib and the architecture's lib32/lib64/libx32/...)
// there, as the usrmerge package and debootstrap do. The top-level names
// become symbolic links into /usr (see links).
type usrMerge struct {
	dirs map[string]bool
}

// newUsrMerge returns the merge for a Debian architecture: bin, sbin and
// lib everywhere, plus the multilib directories mmdebstrap's merged-usr
// hook links for that architecture.
func newUsrMerge(arch string) *usrMerge {
	dirs := []string{"bin", "sbin", "lib"}
	switch arch {
	case "amd64":
		dirs = append(dirs, "lib32", "lib64", "libx32")
	case "i386":
		dirs = append(dirs, "lib64", "libx32")
	case "ppc64el", "powerpc":
		dirs = append(dirs, "lib64")
	case "s390x":
		dirs = append(dirs, "lib32")
	case "mips64el":
		dirs = append(dirs, "lib32", "lib64", "libo32")
	case "riscv64":
		dirs = append(dirs, "lib64")
	}
	m := &usrMerge{dirs: map[string]bool{}}
	for _, d := range dirs {
		m.dirs[d] = true
	}
	return m
}

// path maps a clean relative path: "bin/ls" becomes "usr/bin/ls". ok is
// false for the merged directories themselves ("bin"), which the image
// holds as links.
func (m *usrMerge) path(p string) (string, bool) {
	top, _, _ := strings.Cut(p, "/")
	if !m.dirs[top] {
		return p, true
	}
	if top == p {
		return "", false
	}
	return "usr/" + p, true
}

// symlink maps the target of a symbolic link that moved from oldPath to
// newPath, so that it names the same file: relative targets that climb out
// of the moved directory are resolved, mapped and made relative again.
// Absolute targets are left alone: the links at the top level still
// resolve them.
func (m *usrMerge) symlink(oldPath, newPath, target string) string {
	if oldPath == newPath || path.IsAbs(target) {
		return target
	}
	abs := path.Join("/", path.Dir(oldPath), target)
	rel := strings.TrimPrefix(abs, "/")
	if mapped, ok := m.path(rel); ok {
		rel = mapped
	}
	return relPath(path.Dir(newPath), rel)
}

// links returns the top-level links ("bin" → "usr/bin") for the merged
// directories that exist in have (a clean relative path of /usr/<dir>
// reported present), always including bin, sbin and lib.
func (m *usrMerge) links(have func(string) bool) map[string]string {
	out := map[string]string{}
	for d := range m.dirs {
		if d == "bin" || d == "sbin" || d == "lib" || have("usr/"+d) {
			out[d] = "usr/" + d
		}
	}
	return out
}

// relPath returns the relative path from directory from to to (both clean
// and relative to the same root).
func relPath(from, to string) string {
	fs := split(from)
	ts := split(to)
	i := 0
	for i < len(fs) && i < len(ts) && fs[i] == ts[i] {
		i++
	}
	var parts []string
	for range fs[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, ts[i:]...)
	if len(parts) == 0 {
		return "."
	}
	return strings.Join(parts, "/")
}

func split(p string) []string {
	if p == "" || p == "." {
		return nil
	}
	return strings.Split(p, "/")
}
