package debian

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/moby/sys/atomicwriter"
)

// LockVersion is the format version written into lock files.
const LockVersion = 1

// Lock fixes a resolved package set so later builds fetch exactly the same
// .deb files, whatever the archive has published since. It is written as
// indented JSON with sorted keys and one package per object, so diffs read
// well:
//
//	{
//	  "lockVersion": 1,
//	  "architecture": "amd64",
//	  "suites": ["bookworm", "bookworm-updates", "bookworm-security"],
//	  "indexes": [
//	    {"suite": "bookworm", "component": "main", "path": "main/binary-amd64/Packages.xz",
//	     "sha256": "…", "size": 8790396, "releaseDate": "2026-07-11T10:16:37Z"}
//	  ],
//	  "packages": [
//	    {"name": "libc6", "version": "2.36-9+deb12u10", "architecture": "amd64",
//	     "suite": "bookworm", "filename": "pool/main/g/glibc/libc6_2.36-9+deb12u10_amd64.deb",
//	     "size": 2757936, "sha256": "…"}
//	  ]
//	}
//
// Nothing in it depends on the mirror: packages are found again by suite
// and pool path on whatever mirror serves that suite, and checked against
// the recorded size and SHA256.
type Lock struct {
	LockVersion  int             `json:"lockVersion"`
	Architecture string          `json:"architecture"`
	Suites       []string        `json:"suites"`
	Indexes      []IndexSource   `json:"indexes"`
	Packages     []LockedPackage `json:"packages"`
}

// LockedPackage is one package of a Lock.
type LockedPackage struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Suite        string `json:"suite"`
	Component    string `json:"component,omitempty"`
	Filename     string `json:"filename"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	Source       string `json:"source,omitempty"`
}

// NewLock records the packages of res and the index files of ix.
func NewLock(ix *Index, res *Resolution) *Lock {
	l := &Lock{LockVersion: LockVersion, Architecture: ix.arch}
	for _, s := range ix.Sources {
		if !contains(l.Suites, s.Suite) {
			l.Suites = append(l.Suites, s.Suite)
		}
		l.Indexes = append(l.Indexes, s)
	}
	for _, p := range res.Packages {
		l.Packages = append(l.Packages, LockedPackage{
			Name:         p.Name,
			Version:      p.Version.String(),
			Architecture: p.Architecture,
			Suite:        p.Suite,
			Component:    p.Component,
			Filename:     p.Filename,
			Size:         p.Size,
			SHA256:       p.SHA256,
			Source:       p.Source,
		})
	}
	l.sort()
	return l
}

// sort puts packages in name, architecture order.
func (l *Lock) sort() {
	sort.Slice(l.Packages, func(i, j int) bool {
		a, b := l.Packages[i], l.Packages[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Architecture < b.Architecture
	})
}

// Marshal encodes the lock in its stable form (two-space indented JSON,
// packages sorted, trailing newline).
func (l *Lock) Marshal() ([]byte, error) {
	c := *l
	c.Packages = append([]LockedPackage(nil), l.Packages...)
	c.sort()
	if c.Suites == nil {
		c.Suites = []string{}
	}
	if c.Indexes == nil {
		c.Indexes = []IndexSource{}
	}
	if c.Packages == nil {
		c.Packages = []LockedPackage{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("encoding lock: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteFile writes the lock to path atomically (temp file + rename).
func (l *Lock) WriteFile(path string) error {
	data, err := l.Marshal()
	if err != nil {
		return err
	}
	if err := atomicwriter.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing lock %s: %w", path, err)
	}
	return nil
}

// ReadLock decodes and checks a lock: the format version, and for every
// package a valid name and version, a clean pool path, a size and a SHA256.
// Unknown fields are refused, so a typo does not silently drop a check.
func ReadLock(r io.Reader) (*Lock, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var l Lock
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("decoding lock: %w", err)
	}
	if l.LockVersion != LockVersion {
		return nil, fmt.Errorf("decoding lock: lockVersion %d is not supported (want %d)", l.LockVersion, LockVersion)
	}
	if l.Architecture == "" {
		return nil, fmt.Errorf("decoding lock: no architecture")
	}
	seen := map[string]bool{}
	for i, p := range l.Packages {
		what := fmt.Sprintf("decoding lock: package %d (%s)", i+1, p.Name)
		if !validPackageName(p.Name) {
			return nil, fmt.Errorf("%s: invalid name", what)
		}
		if _, err := ParseVersion(p.Version); err != nil {
			return nil, fmt.Errorf("%s: version %q: %w", what, p.Version, err)
		}
		if p.Architecture == "" || p.Suite == "" {
			return nil, fmt.Errorf("%s: architecture and suite are required", what)
		}
		if err := checkPoolPath(p.Filename); err != nil {
			return nil, fmt.Errorf("%s: filename: %w", what, err)
		}
		if err := checkSHA256(p.SHA256); err != nil {
			return nil, fmt.Errorf("%s: sha256: %w", what, err)
		}
		if p.Size <= 0 {
			return nil, fmt.Errorf("%s: size must be positive", what)
		}
		key := p.Name + ":" + p.Architecture
		if seen[key] {
			return nil, fmt.Errorf("%s: listed twice", what)
		}
		seen[key] = true
	}
	return &l, nil
}

// ReadLockFile reads a lock file.
func ReadLockFile(path string) (*Lock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading lock: %w", err)
	}
	defer f.Close()
	l, err := ReadLock(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// Fetchable turns the lock into fetchable packages, taking each package's
// archive URL from the repository that serves its suite. Only the fields a
// lock records are set (no relations, no Stanza): callers that need the
// control stanza read it from the .deb (Deb.Control), which is the same in
// locked and unlocked builds.
func (l *Lock) Fetchable(repos []Repository) ([]*Package, error) {
	urls := map[string]string{}
	for _, r := range repos {
		if _, ok := urls[r.Suite]; !ok {
			urls[r.Suite] = r.URL
		}
	}
	out := make([]*Package, 0, len(l.Packages))
	for _, lp := range l.Packages {
		u, ok := urls[lp.Suite]
		if !ok {
			return nil, fmt.Errorf("lock: package %s comes from suite %s, which no configured repository serves", lp.Name, lp.Suite)
		}
		v, err := ParseVersion(lp.Version)
		if err != nil {
			return nil, fmt.Errorf("lock: package %s: version %q: %w", lp.Name, lp.Version, err)
		}
		out = append(out, &Package{
			Name:         lp.Name,
			Version:      v,
			Architecture: lp.Architecture,
			Source:       lp.Source,
			Filename:     lp.Filename,
			Size:         lp.Size,
			SHA256:       lp.SHA256,
			Suite:        lp.Suite,
			Component:    lp.Component,
			URL:          u,
		})
	}
	return out, nil
}
