package debian

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// ResolveOptions tune Index.Resolve.
type ResolveOptions struct {
	// Prune names packages that are never installed. A relation that a
	// pruned package would satisfy counts as satisfied (the closure is cut
	// there) and the pruned package's own relations are not followed. For
	// "a | b" the alternatives are still tried left to right, so a pruned b
	// only cuts the relation when a is not already chosen and a is not
	// installable first. Default: nothing is pruned.
	Prune []string
	// AllowConflicts reports Conflicts and Breaks among the chosen set in
	// Resolution.Conflicts instead of failing. Default false: a
	// *ConflictError is returned.
	AllowConflicts bool
}

// Resolution is the closure of a set of requested packages.
type Resolution struct {
	// Packages is the chosen set, sorted by name then architecture.
	Packages []*Package
	// Requested is what was asked for, parsed.
	Requested []Alternative
	// Cuts lists each relation that the prune list cut, in the order met.
	Cuts []Cut
	// Conflicts lists violated Conflicts and Breaks (only with
	// AllowConflicts).
	Conflicts []Conflict

	reasons map[*Package]Step
}

// Step says how a package entered the closure: through Field (a
// control field, or "request") of From, by Relation.
type Step struct {
	// Package is the package that was chosen.
	Package *Package
	// From is the package whose relation pulled it in; nil when requested.
	From *Package
	// Field is "Depends", "Pre-Depends" or "request".
	Field string
	// Relation is the relation as written, e.g. "libc6 (>= 2.34)".
	Relation string
}

// Cut is a relation satisfied by a pruned package.
type Cut struct {
	// From is the package whose relation was cut.
	From *Package
	// Field and Relation are the cut relation.
	Field    string
	Relation string
	// Pruned is the pruned package name that stands in for it.
	Pruned string
}

// Why returns the chain of steps from a requested package to name (the
// requested package first), and false when name is not in the resolution.
func (r *Resolution) Why(name string) ([]Step, bool) {
	var p *Package
	for _, q := range r.Packages {
		if q.Name == name || q.Name+":"+q.Architecture == name {
			p = q
			break
		}
	}
	if p == nil {
		return nil, false
	}
	var chain []Step
	seen := map[*Package]bool{}
	for p != nil && !seen[p] {
		seen[p] = true
		s := r.reasons[p]
		chain = append(chain, s)
		p = s.From
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, true
}

// Explain writes one line per chosen package saying why it is in, then one
// line per cut relation:
//
//	libssl3 3.0.15-1~deb12u1: requested
//	libc6 2.36-9+deb12u9: libssl3 → libc6 [Depends: libc6 (>= 2.34)]
//	pruned libgcc-s1: cut from libc6 [Depends: libgcc-s1]
func (r *Resolution) Explain(w io.Writer) error {
	for _, p := range r.Packages {
		chain, _ := r.Why(p.Name + ":" + p.Architecture)
		line := p.Name + " " + p.Version.String() + ": "
		if len(chain) <= 1 {
			line += "requested"
		} else {
			names := make([]string, len(chain))
			for i, s := range chain {
				names[i] = s.Package.Name
			}
			last := chain[len(chain)-1]
			line += strings.Join(names, " → ") + " [" + last.Field + ": " + last.Relation + "]"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return fmt.Errorf("writing explanation: %w", err)
		}
	}
	for _, c := range r.Cuts {
		if _, err := fmt.Fprintf(w, "pruned %s: cut from %s [%s: %s]\n", c.Pruned, c.From.Name, c.Field, c.Relation); err != nil {
			return fmt.Errorf("writing explanation: %w", err)
		}
	}
	return nil
}

// Resolve computes the closure of requests by Debian policy: Pre-Depends
// and Depends are followed; "|" alternatives are tried left to right after
// checking whether one is already chosen; versioned relations use dpkg
// ordering; a name that no real package satisfies may be satisfied by a
// package that Provides it (versioned Provides for versioned relations);
// architecture qualifiers (":any", ":native", ":arch") and Multi-Arch
// (same, foreign, allowed) decide which architectures fit. The newest fitting
// version is chosen, and one version per name and architecture is
// installed. Requests are relations without alternatives ("python3",
// "libc6:amd64", "tzdata (>= 2024a)", "tzdata=2024a-0+deb12u1").
//
// Unsatisfiable relations give an *UnsatisfiableError naming the relation,
// the package that has it and the chain that led there. Conflicts and Breaks
// among the chosen set give a *ConflictError unless opts.AllowConflicts.
func (ix *Index) Resolve(requests []string, opts ResolveOptions) (*Resolution, error) {
	rs := &resolver{
		ix:      ix,
		pruned:  map[string]bool{},
		chosen:  map[string][]*Package{},
		reasons: map[*Package]Step{},
		parsed:  map[parsedKey][]Relation{},
	}
	for _, n := range opts.Prune {
		rs.pruned[n] = true
	}
	res := &Resolution{reasons: rs.reasons}
	for _, req := range requests {
		alt, err := ParseRequest(req)
		if err != nil {
			return nil, err
		}
		res.Requested = append(res.Requested, alt)
		if rs.pruned[alt.Name] {
			return nil, &UnsatisfiableError{Relation: alt.String(), Field: "request", Reason: "it is in the prune list"}
		}
		if rs.satisfiedByChosen(alt, ix.arch) != nil {
			continue
		}
		p, why := rs.candidate(alt, ix.arch)
		if p == nil {
			return nil, &UnsatisfiableError{Relation: alt.String(), Field: "request", Reason: why}
		}
		rs.add(p, Step{Package: p, Field: "request", Relation: alt.String()})
	}
	for len(rs.queue) > 0 {
		p := rs.queue[0]
		rs.queue = rs.queue[1:]
		for _, f := range []struct{ name, value string }{{"Pre-Depends", p.PreDepends}, {"Depends", p.Depends}} {
			rels, err := rs.relations(p, f.name, f.value)
			if err != nil {
				return nil, err
			}
			for _, rel := range rels {
				if err := rs.satisfy(p, f.name, rel, res); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, list := range rs.chosen {
		res.Packages = append(res.Packages, list...)
	}
	sort.Slice(res.Packages, func(i, j int) bool {
		a, b := res.Packages[i], res.Packages[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Architecture < b.Architecture
	})
	conflicts, err := rs.conflicts(res.Packages)
	if err != nil {
		return nil, err
	}
	if len(conflicts) > 0 {
		if !opts.AllowConflicts {
			return nil, &ConflictError{Conflicts: conflicts}
		}
		res.Conflicts = conflicts
	}
	return res, nil
}

// parsedKey caches parsed relation fields per package and field.
type parsedKey struct {
	p     *Package
	field string
}

// resolver holds the state of one Resolve call.
type resolver struct {
	ix      *Index
	pruned  map[string]bool
	chosen  map[string][]*Package // by name; one per architecture
	queue   []*Package
	reasons map[*Package]Step
	parsed  map[parsedKey][]Relation
}

// relations parses a relation field of p once.
func (rs *resolver) relations(p *Package, field, value string) ([]Relation, error) {
	k := parsedKey{p, field}
	if r, ok := rs.parsed[k]; ok {
		return r, nil
	}
	r, err := ParseRelations(value, rs.ix.arch)
	if err != nil {
		return nil, fmt.Errorf("package %s: %s: %w", p, field, err)
	}
	rs.parsed[k] = r
	return r, nil
}

// add chooses p and queues its relations.
func (rs *resolver) add(p *Package, s Step) {
	rs.chosen[p.Name] = append(rs.chosen[p.Name], p)
	rs.reasons[p] = s
	rs.queue = append(rs.queue, p)
}

// chain names the packages from a requested one down to p.
func (rs *resolver) chain(p *Package) []string {
	var names []string
	seen := map[*Package]bool{}
	for p != nil && !seen[p] {
		seen[p] = true
		names = append(names, p.Name)
		p = rs.reasons[p].From
	}
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	return names
}

// satisfy makes sure one relation of p holds, choosing a package if needed.
func (rs *resolver) satisfy(p *Package, field string, rel Relation, res *Resolution) error {
	depArch := p.Architecture
	for _, alt := range rel {
		if rs.satisfiedByChosen(alt, depArch) != nil {
			return nil
		}
	}
	var misses []string
	for _, alt := range rel {
		if rs.pruned[alt.Name] || rs.prunedProvider(alt, depArch) != "" {
			name := alt.Name
			if !rs.pruned[name] {
				name = rs.prunedProvider(alt, depArch)
			}
			res.Cuts = append(res.Cuts, Cut{From: p, Field: field, Relation: rel.String(), Pruned: name})
			return nil
		}
		c, why := rs.candidate(alt, depArch)
		if c != nil {
			rs.add(c, Step{Package: c, From: p, Field: field, Relation: rel.String()})
			return nil
		}
		misses = append(misses, why)
	}
	return &UnsatisfiableError{
		Relation: rel.String(),
		Field:    field,
		Package:  p.Name + " " + p.Version.String(),
		Chain:    rs.chain(p),
		Reason:   strings.Join(misses, "; "),
	}
}

// satisfiedByChosen returns a chosen package that satisfies alt for a
// dependent of architecture depArch, or nil.
func (rs *resolver) satisfiedByChosen(alt Alternative, depArch string) *Package {
	for _, c := range rs.chosen[alt.Name] {
		if alt.Allows(c.Version) && rs.archFits(c, alt.ArchQualifier, depArch) {
			return c
		}
	}
	for _, pr := range rs.ix.providers[alt.Name] {
		if !rs.isChosen(pr.pkg) {
			continue
		}
		if providesFit(pr, alt) && rs.archFits(pr.pkg, alt.ArchQualifier, depArch) {
			return pr.pkg
		}
	}
	return nil
}

// isChosen reports whether p itself (this version) is chosen.
func (rs *resolver) isChosen(p *Package) bool {
	for _, c := range rs.chosen[p.Name] {
		if c == p {
			return true
		}
	}
	return false
}

// prunedProvider returns the name of a pruned package that Provides alt's
// name fittingly, or "".
func (rs *resolver) prunedProvider(alt Alternative, depArch string) string {
	if _, real := rs.ix.byName[alt.Name]; real {
		return ""
	}
	for _, pr := range rs.ix.providers[alt.Name] {
		if rs.pruned[pr.pkg.Name] && providesFit(pr, alt) && rs.archFits(pr.pkg, alt.ArchQualifier, depArch) {
			return pr.pkg.Name
		}
	}
	return ""
}

// providesFit reports whether a Provides entry satisfies alt's version
// constraint: an unversioned Provides satisfies only unversioned relations.
func providesFit(pr provider, alt Alternative) bool {
	if !alt.Versioned() {
		return true
	}
	return pr.alt.Op == "=" && alt.Allows(pr.alt.Version)
}

// priorityRank orders providers when none is chosen yet: required first.
var priorityRank = map[string]int{"required": 0, "important": 1, "standard": 2, "optional": 3, "extra": 4}

// rank returns a provider's priority rank (unknown priorities last).
func rank(p *Package) int {
	if r, ok := priorityRank[p.Priority]; ok {
		return r
	}
	return len(priorityRank)
}

// candidate picks a package to satisfy alt for a dependent of architecture
// depArch: the newest fitting real package, else the best fitting provider
// (highest priority, then name, then newest). A name and architecture that
// already has a different chosen version cannot take another. When nothing
// fits it returns nil and says why.
func (rs *resolver) candidate(alt Alternative, depArch string) (*Package, string) {
	var versions []string
	for _, c := range rs.ix.byName[alt.Name] {
		if !rs.archFits(c, alt.ArchQualifier, depArch) {
			continue
		}
		versions = append(versions, c.Version.String()+" ("+c.Suite+")")
		if !alt.Allows(c.Version) || rs.otherVersionChosen(c) {
			continue
		}
		return c, ""
	}
	var best *Package
	for _, pr := range rs.ix.providers[alt.Name] {
		c := pr.pkg
		if !providesFit(pr, alt) || !rs.archFits(c, alt.ArchQualifier, depArch) || rs.otherVersionChosen(c) || rs.pruned[c.Name] {
			continue
		}
		if best == nil || rank(c) < rank(best) || rank(c) == rank(best) && c.Name < best.Name {
			best = c
		}
	}
	if best != nil {
		return best, ""
	}
	switch {
	case len(versions) > 0:
		why := alt.Name + " has " + strings.Join(versions, ", ")
		for _, c := range rs.chosen[alt.Name] {
			why += "; " + c.Version.String() + " is already chosen (needed by " + strings.Join(rs.chain(c), " → ") + ")"
		}
		return nil, why
	case len(rs.ix.byName[alt.Name]) > 0:
		return nil, alt.Name + " exists only for architectures that do not fit " + alt.String()
	case len(rs.ix.providers[alt.Name]) > 0:
		var ps []string
		for _, pr := range rs.ix.providers[alt.Name] {
			ps = append(ps, pr.pkg.Name+" (provides "+pr.alt.String()+")")
		}
		return nil, alt.Name + " is virtual and no provider fits: " + strings.Join(ps, ", ")
	default:
		return nil, alt.Name + " is not in the index"
	}
}

// otherVersionChosen reports whether another version of c's name and
// architecture is already chosen.
func (rs *resolver) otherVersionChosen(c *Package) bool {
	for _, o := range rs.chosen[c.Name] {
		if o.Architecture == c.Architecture && o != c {
			return true
		}
	}
	return false
}

// archFits decides whether package c may satisfy a relation with the given
// architecture qualifier from a dependent of architecture depArch, as dpkg
// does: Multi-Arch: foreign packages satisfy any architecture; ":any"
// accepts Multi-Arch: allowed packages of any architecture; otherwise the
// wanted architecture is the qualifier (":native" being the native one) or
// the dependent's own ("all" counting as native), and "all" packages count
// as native.
func (rs *resolver) archFits(c *Package, qualifier, depArch string) bool {
	if c.MultiArch == "foreign" {
		return true
	}
	if qualifier == "any" && c.MultiArch == "allowed" {
		return true
	}
	native := rs.ix.arch
	want := depArch
	switch qualifier {
	case "", "any":
	case "native":
		want = native
	default:
		want = qualifier
	}
	if want == "all" || want == "" {
		want = native
	}
	if c.Architecture == want {
		return true
	}
	return c.Architecture == "all" && want == native
}

// conflicts checks Conflicts and Breaks among the chosen packages. A
// package never conflicts with itself (the "Conflicts and Provides the same
// virtual name" idiom).
func (rs *resolver) conflicts(chosen []*Package) ([]Conflict, error) {
	var out []Conflict
	for _, p := range chosen {
		for _, f := range []struct{ name, value string }{{"Conflicts", p.Conflicts}, {"Breaks", p.Breaks}} {
			rels, err := rs.relations(p, f.name, f.value)
			if err != nil {
				return nil, err
			}
			for _, rel := range rels {
				for _, alt := range rel {
					for _, c := range rs.chosen[alt.Name] {
						if c != p && alt.Allows(c.Version) && rs.conflictArchFits(c, alt, p) {
							out = append(out, Conflict{Package: p.Name + " " + p.Version.String(), Field: f.name, Relation: alt.String(), With: c.Name + " " + c.Version.String()})
						}
					}
					for _, pr := range rs.ix.providers[alt.Name] {
						c := pr.pkg
						if c == p || !rs.isChosen(c) || !providesFit(pr, alt) || !rs.conflictArchFits(c, alt, p) {
							continue
						}
						out = append(out, Conflict{Package: p.Name + " " + p.Version.String(), Field: f.name, Relation: alt.String(), With: c.Name + " " + c.Version.String() + " (provides " + alt.Name + ")"})
					}
				}
			}
		}
	}
	return out, nil
}

// conflictArchFits applies architecture rules to a Conflicts or Breaks
// relation: ":any" matches every architecture; otherwise the normal rules.
func (rs *resolver) conflictArchFits(c *Package, alt Alternative, p *Package) bool {
	if alt.ArchQualifier == "any" {
		return true
	}
	return rs.archFits(c, alt.ArchQualifier, p.Architecture)
}
