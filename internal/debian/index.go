package debian

import (
	"fmt"
	"sort"
	"time"

	"pault.ag/go/debian/version"
)

// Index is the packages of several suites overlaid: every version of every
// package is kept, and a name's candidates are ordered newest first, so an
// update from -updates or -security wins over the release's version when it
// is newer. An Index is read-only once built and safe for concurrent use.
type Index struct {
	arch      string
	byName    map[string][]*Package
	providers map[string][]provider
	// Sources records the index files the packages came from, for locks.
	Sources []IndexSource
}

// IndexSource identifies one Packages index that went into an Index, by
// the mirror-independent facts a lock records.
type IndexSource struct {
	// Suite and Component name the index; Path is relative to dists/<suite>/
	// (e.g. "main/binary-amd64/Packages.xz").
	Suite     string `json:"suite"`
	Component string `json:"component"`
	Path      string `json:"path"`
	// SHA256 and Size are those of Path, from the signed Release.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// ReleaseDate is the Date of the Release that listed it.
	ReleaseDate time.Time `json:"releaseDate,omitzero"`
}

// provider is a package that Provides a name, possibly at a version.
type provider struct {
	pkg *Package
	alt Alternative // Op is "=" for a versioned Provides, "" otherwise
}

// NewIndex builds an Index for the native architecture arch from packages
// in overlay order (earlier suites first). Identical name, architecture and
// version seen twice keep the first. Packages of other architectures are
// kept as foreign candidates; arch-qualified and Multi-Arch relations decide
// whether they may satisfy a dependency. A Provides field that does not
// parse is an error naming the package.
func NewIndex(arch string, pkgs []*Package) (*Index, error) {
	ix := &Index{
		arch:      arch,
		byName:    make(map[string][]*Package, len(pkgs)),
		providers: map[string][]provider{},
	}
	for _, p := range pkgs {
		dup := false
		for _, q := range ix.byName[p.Name] {
			if q.Architecture == p.Architecture && version.Compare(q.Version, p.Version) == 0 {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		ix.byName[p.Name] = append(ix.byName[p.Name], p)
		if p.Provides == "" {
			continue
		}
		rels, err := ParseRelations(p.Provides, arch)
		if err != nil {
			return nil, fmt.Errorf("package %s: Provides: %w", p, err)
		}
		for _, r := range rels {
			for _, a := range r {
				if a.Op != "" && a.Op != "=" {
					return nil, fmt.Errorf("package %s: Provides %q: only \"=\" is allowed", p, a)
				}
				ix.providers[a.Name] = append(ix.providers[a.Name], provider{pkg: p, alt: a})
			}
		}
	}
	for _, list := range ix.byName {
		sort.SliceStable(list, func(i, j int) bool {
			return version.Compare(list[i].Version, list[j].Version) > 0
		})
	}
	return ix, nil
}

// Arch returns the native architecture.
func (ix *Index) Arch() string { return ix.arch }

// Candidates returns every version of name, newest first (nil if unknown).
// The slice must not be modified.
func (ix *Index) Candidates(name string) []*Package { return ix.byName[name] }

// Lookup returns the newest version of name for the native architecture
// (or "all"), or nil.
func (ix *Index) Lookup(name string) *Package {
	for _, p := range ix.byName[name] {
		if p.Architecture == ix.arch || p.Architecture == "all" {
			return p
		}
	}
	return nil
}

// Providers returns the packages that Provide name, in index order.
func (ix *Index) Providers(name string) []*Package {
	var out []*Package
	for _, pr := range ix.providers[name] {
		out = append(out, pr.pkg)
	}
	return out
}

// Packages returns the newest native (or "all") version of every package,
// sorted by name. Recipes use it to select by field, e.g. every package of
// Priority "required".
func (ix *Index) Packages() []*Package {
	names := make([]string, 0, len(ix.byName))
	for n := range ix.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*Package, 0, len(names))
	for _, n := range names {
		if p := ix.Lookup(n); p != nil {
			out = append(out, p)
		}
	}
	return out
}
