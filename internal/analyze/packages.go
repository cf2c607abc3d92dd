package analyze

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"

	"pault.ag/go/debian/control"
)

// Package database locations.
const (
	dpkgStatus  = "/var/lib/dpkg/status"
	dpkgInfo    = "/var/lib/dpkg/info"
	dpkgStatusD = "/var/lib/dpkg/status.d"
)

// findPackages reads every package database of the final filesystem and the
// Go build information of its binaries.
func findPackages(fs *filesystem, r *Report) []Package {
	var pkgs []Package
	pkgs = append(pkgs, dpkgPackages(fs, r)...)
	pkgs = append(pkgs, statusDPackages(fs, r)...)
	pkgs = append(pkgs, apkPackages(fs, r)...)
	pkgs = append(pkgs, goPackages(fs)...)
	return pkgs
}

// fileSet sums the regular-file bytes of a package's paths, each blob once.
type fileSet struct {
	fs    *filesystem
	seen  map[*blob]bool
	bytes int64
	files int
}

func newFileSet(fs *filesystem) *fileSet { return &fileSet{fs: fs, seen: map[*blob]bool{}} }

// add counts the file at p (parent symlinks followed, as dpkg lists /bin
// paths that a merged /usr keeps under /usr/bin) when it is a regular file.
func (s *fileSet) add(p string) {
	n := s.fs.lookup(path.Clean("/" + p))
	if n == nil || n.blob == nil || s.seen[n.blob] {
		return
	}
	s.seen[n.blob] = true
	s.bytes += n.blob.size
	s.files++
}

// dpkgPackages reads /var/lib/dpkg/status and each installed package's
// info/<name>.list (or <name>:<arch>.list).
func dpkgPackages(fs *filesystem, r *Report) []Package {
	n := fs.open(dpkgStatus)
	if n == nil || n.content == nil {
		return nil
	}
	paras, err := readParagraphs(n.content)
	if err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: %v", dpkgStatus, err))
		return nil
	}
	var out []Package
	for _, p := range paras {
		name, version := p.Values["Package"], p.Values["Version"]
		if name == "" || !dpkgInstalled(p.Values["Status"]) {
			continue
		}
		set := newFileSet(fs)
		list := fs.open(path.Join(dpkgInfo, name+".list"))
		if list == nil || list.content == nil {
			list = fs.open(path.Join(dpkgInfo, name+":"+p.Values["Architecture"]+".list"))
		}
		if list != nil && list.content != nil {
			for _, line := range strings.Split(string(list.content), "\n") {
				if line = strings.TrimSpace(line); line != "" {
					set.add(line)
				}
			}
		}
		out = append(out, Package{Name: name, Version: version, Bytes: set.bytes, Files: set.files, Type: "deb", Source: dpkgStatus})
	}
	return out
}

// dpkgInstalled reports whether a dpkg Status field ("install ok
// installed") describes an unpacked package.
func dpkgInstalled(status string) bool {
	if status == "" {
		return true // status.d entries carry no Status
	}
	f := strings.Fields(status)
	if len(f) != 3 {
		return false
	}
	switch f[2] {
	case "installed", "half-configured", "unpacked", "triggers-awaited", "triggers-pending":
		return true
	}
	return false
}

// statusDPackages reads the distroless-style database: one control file per
// package in /var/lib/dpkg/status.d/<name>, its files listed in
// <name>.md5sums ("<md5>  <path>" lines, paths relative to the root).
func statusDPackages(fs *filesystem, r *Report) []Package {
	dir := fs.open(dpkgStatusD)
	if dir == nil || dir.kind != kindDir {
		return nil
	}
	names := make([]string, 0, len(dir.children))
	for name := range dir.children {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []Package
	for _, name := range names {
		n := dir.children[name]
		if strings.HasSuffix(name, ".md5sums") || n.content == nil {
			continue
		}
		source := path.Join(dpkgStatusD, name)
		paras, err := readParagraphs(n.content)
		if err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: %v", source, err))
			continue
		}
		set := newFileSet(fs)
		if sums := dir.children[name+".md5sums"]; sums != nil && sums.content != nil {
			for _, line := range strings.Split(string(sums.content), "\n") {
				if f := strings.Fields(line); len(f) >= 2 {
					set.add(strings.Join(f[1:], " "))
				}
			}
		}
		for _, p := range paras {
			if p.Values["Package"] == "" || !dpkgInstalled(p.Values["Status"]) {
				continue
			}
			out = append(out, Package{Name: p.Values["Package"], Version: p.Values["Version"], Bytes: set.bytes, Files: set.files, Type: "deb", Source: source})
		}
	}
	return out
}

// readParagraphs parses a Debian control file (deb822 paragraphs).
func readParagraphs(b []byte) ([]control.Paragraph, error) {
	pr, err := control.NewParagraphReader(bytes.NewReader(b), nil)
	if err != nil {
		return nil, fmt.Errorf("parsing control data: %w", err)
	}
	paras, err := pr.All()
	if err != nil {
		return nil, fmt.Errorf("parsing control data: %w", err)
	}
	return paras, nil
}

// apkPackages reads apk's installed database: blank-line separated records
// of "K:value" lines; P is the name, V the version, F a directory and each
// following R a file in it.
func apkPackages(fs *filesystem, r *Report) []Package {
	var n *node
	var source string
	// apk-tools 2 keeps it in /lib; newer systems under /usr/lib.
	for _, p := range []string{"/lib/apk/db/installed", "/usr/lib/apk/db/installed"} {
		if n = fs.open(p); n != nil && n.content != nil {
			source = p
			break
		}
	}
	if n == nil || n.content == nil {
		return nil
	}
	var out []Package
	var cur *Package
	var set *fileSet
	dir := ""
	flush := func() {
		if cur != nil && cur.Name != "" {
			cur.Bytes, cur.Files = set.bytes, set.files
			out = append(out, *cur)
		}
		cur, set, dir = nil, nil, ""
	}
	sc := bufio.NewScanner(bytes.NewReader(n.content))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || len(key) != 1 {
			continue
		}
		if cur == nil {
			cur, set = &Package{Type: "apk", Source: source}, newFileSet(fs)
		}
		switch key {
		case "P":
			cur.Name = value
		case "V":
			cur.Version = value
		case "F":
			dir = value
		case "R":
			set.add(path.Join(dir, value))
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: %v", source, err))
	}
	return out
}

// goPackages lists the modules of each Go binary in the final filesystem:
// the main module with the binary's bytes, then its dependencies (bytes 0:
// a binary does not say how much of it each module makes up).
func goPackages(fs *filesystem) []Package {
	var out []Package
	seen := map[*blob]bool{}
	fs.walk(func(p string, n *node) {
		if n.goInfo == nil || n.blob == nil || seen[n.blob] {
			return
		}
		seen[n.blob] = true
		info := n.goInfo
		name, version := info.Main.Path, info.Main.Version
		if name == "" {
			name = info.Path
		}
		if version == "" {
			version = "(devel)"
		}
		out = append(out, Package{Name: name, Version: version, Bytes: n.blob.size, Files: 1, Type: "go-module", Source: p})
		for _, d := range info.Deps {
			v := d.Version
			if d.Replace != nil {
				v = d.Version + " => " + d.Replace.Path
				if d.Replace.Version != "" && d.Replace.Version != "(devel)" {
					v += " " + d.Replace.Version
				}
			}
			out = append(out, Package{Name: d.Path, Version: v, Type: "go-module", Source: p})
		}
	})
	return out
}
