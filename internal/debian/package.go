package debian

import (
	"encoding/hex"
	"fmt"
	"path"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"
	"pault.ag/go/debian/control"
	"pault.ag/go/debian/version"
)

// Package is one binary package stanza of a Packages index (or, for a
// package read from a lock, the fields the lock records).
type Package struct {
	Name         string
	Version      version.Version
	Architecture string
	// MultiArch is the Multi-Arch field: "same", "foreign", "allowed", or
	// "" (meaning "no").
	MultiArch string
	// Source is the Source field as written ("name" or "name (version)");
	// empty when the source package has the binary's name and version.
	Source    string
	Section   string
	Priority  string
	Essential bool
	// InstalledSize is the Installed-Size field, in KiB.
	InstalledSize int64

	// Relation fields, as written in the stanza.
	Depends    string
	PreDepends string
	Provides   string
	Conflicts  string
	Breaks     string

	// Filename is the path of the .deb relative to the archive root
	// ("pool/main/...").
	Filename string
	// Size and SHA256 are the expected size and digest of the .deb.
	Size   int64
	SHA256 string

	// Suite and Component say which index the stanza came from.
	Suite     string
	Component string
	// URL is the archive root to fetch Filename from. It is not recorded
	// in locks (locks are mirror-independent).
	URL string

	// Stanza is the stanza exactly as in the index; nil for a package read
	// from a lock.
	Stanza []byte
}

// String names the package as "name:arch version".
func (p *Package) String() string {
	return p.Name + ":" + p.Architecture + " " + p.Version.String()
}

// DownloadURL is where the .deb is fetched from: URL + "/" + Filename.
func (p *Package) DownloadURL() string {
	return strings.TrimRight(p.URL, "/") + "/" + p.Filename
}

// SourceName returns the name of the source package.
func (p *Package) SourceName() string {
	if p.Source == "" {
		return p.Name
	}
	name, _, _ := strings.Cut(p.Source, " ")
	return name
}

// SourceVersion returns the version of the source package, which differs
// from the binary's version for binNMUs.
func (p *Package) SourceVersion() string {
	if _, v, ok := strings.Cut(p.Source, "("); ok {
		return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), ")"))
	}
	return p.Version.String()
}

// ParsePackages parses a Packages index. name is used in errors, which
// name the stanza's line. The returned packages' Stanza fields are
// sub-slices of data. Stanzas are parsed in parallel.
func ParsePackages(name string, data []byte) ([]*Package, error) {
	sts := splitStanzas(data)
	out := make([]*Package, len(sts))
	workers := runtime.GOMAXPROCS(0)
	if workers > len(sts)/256+1 {
		workers = len(sts)/256 + 1
	}
	var g errgroup.Group
	for w := 0; w < workers; w++ {
		lo, hi := w*len(sts)/workers, (w+1)*len(sts)/workers
		g.Go(func() error {
			for i := lo; i < hi; i++ {
				p, err := parsePackageStanza(sts[i].data)
				if err != nil {
					return fmt.Errorf("parsing %s line %d: %w", name, sts[i].line, err)
				}
				out[i] = p
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseControl parses a single binary control stanza (a .deb's control
// file or a dpkg status entry) into a Package. Download fields (Filename,
// Size, SHA256) are optional here.
func ParseControl(data []byte) (*Package, error) {
	p, _, err := ParseControlFields(data)
	return p, err
}

// ParseControlFields is ParseControl that also returns every field of the
// stanza, so that a caller needing fields Package does not keep (an SBOM's
// Maintainer, Homepage and Description) parses the stanza only once.
func ParseControlFields(data []byte) (*Package, map[string]string, error) {
	para, err := parseParagraph(data)
	if err != nil {
		return nil, nil, err
	}
	p, err := packageFromParagraph(para, data, false)
	if err != nil {
		return nil, nil, err
	}
	return p, para.Values, nil
}

// parsePackageStanza parses one stanza of a Packages index.
func parsePackageStanza(data []byte) (*Package, error) {
	p, err := parseParagraph(data)
	if err != nil {
		return nil, err
	}
	return packageFromParagraph(p, data, true)
}

// packageFromParagraph checks and copies the fields whittle uses. With
// download set, Filename, Size and SHA256 are required.
func packageFromParagraph(para *control.Paragraph, raw []byte, download bool) (*Package, error) {
	v := para.Values
	name := strings.TrimSpace(v["Package"])
	if name == "" {
		return nil, fmt.Errorf("stanza has no Package field")
	}
	if !validPackageName(name) {
		return nil, fmt.Errorf("package name %q is not valid", name)
	}
	ver, err := ParseVersion(v["Version"])
	if err != nil {
		return nil, fmt.Errorf("package %s: version %q: %w", name, v["Version"], err)
	}
	p := &Package{
		Name:         name,
		Version:      ver,
		Architecture: strings.TrimSpace(v["Architecture"]),
		MultiArch:    strings.ToLower(strings.TrimSpace(v["Multi-Arch"])),
		Source:       strings.TrimSpace(v["Source"]),
		Section:      strings.TrimSpace(v["Section"]),
		Priority:     strings.TrimSpace(v["Priority"]),
		Essential:    strings.EqualFold(strings.TrimSpace(v["Essential"]), "yes"),
		Depends:      oneLine(v["Depends"]),
		PreDepends:   oneLine(v["Pre-Depends"]),
		Provides:     oneLine(v["Provides"]),
		Conflicts:    oneLine(v["Conflicts"]),
		Breaks:       oneLine(v["Breaks"]),
		Filename:     strings.TrimSpace(v["Filename"]),
		SHA256:       strings.ToLower(strings.TrimSpace(v["SHA256"])),
		Stanza:       raw,
	}
	if p.MultiArch == "no" {
		p.MultiArch = ""
	}
	if p.Architecture == "" {
		return nil, fmt.Errorf("package %s: no Architecture field", name)
	}
	if s := strings.TrimSpace(v["Installed-Size"]); s != "" {
		if p.InstalledSize, err = strconv.ParseInt(s, 10, 64); err != nil || p.InstalledSize < 0 {
			return nil, fmt.Errorf("package %s: bad Installed-Size %q", name, s)
		}
	}
	if s := strings.TrimSpace(v["Size"]); s != "" || download {
		if p.Size, err = strconv.ParseInt(s, 10, 64); err != nil || p.Size < 0 {
			return nil, fmt.Errorf("package %s: bad Size %q", name, s)
		}
	}
	if p.SHA256 != "" || download {
		if err := checkSHA256(p.SHA256); err != nil {
			return nil, fmt.Errorf("package %s: SHA256: %w", name, err)
		}
	}
	if p.Filename != "" || download {
		if err := checkPoolPath(p.Filename); err != nil {
			return nil, fmt.Errorf("package %s: Filename: %w", name, err)
		}
	}
	return p, nil
}

// oneLine joins a folded field value into one line.
func oneLine(s string) string {
	if !strings.Contains(s, "\n") {
		return strings.TrimSpace(s)
	}
	return strings.Join(strings.Fields(s), " ")
}

// validPackageName checks Debian policy 5.6.1: lower-case letters, digits,
// '+', '-', '.', at least two characters, starting with a letter or digit.
func validPackageName(s string) bool {
	if len(s) < 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '+' || c == '-' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// checkSHA256 checks that s is 64 lower-case hex digits.
func checkSHA256(s string) error {
	if len(s) != 64 {
		return fmt.Errorf("%q is not a SHA256 (want 64 hex digits)", s)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return fmt.Errorf("%q is not a SHA256: %w", s, err)
	}
	return nil
}

// checkPoolPath checks that a Filename is a clean relative path inside the
// archive.
func checkPoolPath(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty")
	case strings.HasPrefix(s, "/"), path.Clean(s) != s, s == "..", strings.HasPrefix(s, "../"):
		return fmt.Errorf("%q is not a clean relative path", s)
	case strings.ContainsAny(s, "?#\\\x00\n"):
		return fmt.Errorf("%q has characters that do not belong in a pool path", s)
	}
	return nil
}
