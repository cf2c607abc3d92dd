package debian

import (
	"fmt"
	"strings"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"
)

// Alternative is one package named in a relation, e.g. "libc6:any (>= 2.36)".
type Alternative struct {
	// Name is the package (or virtual package) name.
	Name string
	// ArchQualifier is "" (none), "any", "native", or an architecture name.
	ArchQualifier string
	// Op is "", "<<", "<=", "=", ">=" or ">>".
	Op string
	// Version is the version Op compares against; meaningful when Op != "".
	Version version.Version
}

// String writes the alternative as Debian does.
func (a Alternative) String() string {
	s := a.Name
	if a.ArchQualifier != "" {
		s += ":" + a.ArchQualifier
	}
	if a.Op != "" {
		s += " (" + a.Op + " " + a.Version.String() + ")"
	}
	return s
}

// Versioned reports whether the alternative constrains the version.
func (a Alternative) Versioned() bool { return a.Op != "" }

// Allows reports whether version v satisfies the alternative's version
// constraint (always true when it has none), by dpkg ordering.
func (a Alternative) Allows(v version.Version) bool {
	if a.Op == "" {
		return true
	}
	c := version.Compare(v, a.Version)
	switch a.Op {
	case "<<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case ">>":
		return c > 0
	}
	return false
}

// Relation is one comma-separated element of a relation field: one or more
// alternatives separated by '|', tried left to right.
type Relation []Alternative

// String writes the relation as Debian does.
func (r Relation) String() string {
	parts := make([]string, len(r))
	for i, a := range r {
		parts[i] = a.String()
	}
	return strings.Join(parts, " | ")
}

// ParseRelations parses a relation field (Depends, Pre-Depends, Provides,
// Conflicts, Breaks) with pault.ag/go/debian/dependency and checks each
// alternative: a valid package name, a known operator, a parsable version
// and a non-empty architecture qualifier. Architecture restrictions
// ("[amd64]") keep only the alternatives that apply to arch; build-profile
// restrictions ("<stage1>") are ignored, as they only matter for builds.
// An empty field gives no relations.
func ParseRelations(field, arch string) ([]Relation, error) {
	if strings.TrimSpace(field) == "" {
		return nil, nil
	}
	dep, err := dependency.Parse(field)
	if err != nil {
		return nil, fmt.Errorf("parsing relations %q: %w", field, err)
	}
	var archp *dependency.Arch
	if arch != "" {
		archp, err = dependency.ParseArch(arch)
		if err != nil {
			return nil, fmt.Errorf("parsing architecture %q: %w", arch, err)
		}
	}
	var out []Relation
	for _, r := range dep.Relations {
		var rel Relation
		for _, p := range r.Possibilities {
			if p.Substvar {
				return nil, fmt.Errorf("parsing relations %q: unexpanded substitution variable ${%s}", field, p.Name)
			}
			if archp != nil && p.Architectures != nil && !p.Architectures.Matches(archp) {
				continue
			}
			a, err := alternativeFrom(p)
			if err != nil {
				return nil, fmt.Errorf("parsing relations %q: %w", field, err)
			}
			rel = append(rel, a)
		}
		if len(rel) > 0 {
			out = append(out, rel)
		}
	}
	return out, nil
}

// alternativeFrom checks and converts one pault possibility.
func alternativeFrom(p dependency.Possibility) (Alternative, error) {
	a := Alternative{Name: p.Name}
	if !validPackageName(p.Name) {
		return a, fmt.Errorf("%q is not a valid package name", p.Name)
	}
	if p.Arch != nil {
		q, ok := archQualifier(p.Arch)
		if !ok {
			return a, fmt.Errorf("%s: empty or malformed architecture qualifier", p.Name)
		}
		a.ArchQualifier = q
	}
	if p.Version != nil {
		switch p.Version.Operator {
		case "<<", "<=", "=", ">=", ">>":
		default:
			return a, fmt.Errorf("%s: unknown operator %q", p.Name, p.Version.Operator)
		}
		v, err := ParseVersion(p.Version.Number)
		if err != nil {
			return a, fmt.Errorf("%s: version %q: %w", p.Name, p.Version.Number, err)
		}
		a.Op, a.Version = p.Version.Operator, v
	}
	return a, nil
}

// ParseRequest parses a requested package: a relation without
// alternatives, such as "python3", "libc6:amd64" or "tzdata (= 2024a-0+deb12u1)".
// The form "name=version" is accepted as "name (= version)", as apt does.
func ParseRequest(s string) (Alternative, error) {
	s = strings.TrimSpace(s)
	if name, ver, ok := strings.Cut(s, "="); ok && !strings.ContainsAny(name, " (") {
		s = name + " (= " + ver + ")"
	}
	rels, err := ParseRelations(s, "")
	if err != nil {
		return Alternative{}, fmt.Errorf("parsing request: %w", err)
	}
	if len(rels) != 1 || len(rels[0]) != 1 {
		return Alternative{}, fmt.Errorf("parsing request %q: want exactly one package", s)
	}
	return rels[0][0], nil
}

// ParseVersion parses a Debian version with pault.ag/go/debian/version and
// adds the checks dpkg and policy make that it leaves out: the upstream part
// must not be empty ("-1") nor hold a colon ("1:2:3"), and a revision after
// a hyphen must not be empty ("1.0-").
func ParseVersion(s string) (version.Version, error) {
	v, err := version.Parse(s)
	if err != nil {
		return v, err
	}
	if v.Version == "" {
		return v, fmt.Errorf("version %q has an empty upstream part", s)
	}
	if strings.HasSuffix(strings.TrimSpace(s), "-") {
		return v, fmt.Errorf("version %q has an empty revision", s)
	}
	if strings.Contains(v.Version, ":") {
		return v, fmt.Errorf("version %q has a colon in its upstream part (Debian policy 5.6.12 allows none)", s)
	}
	return v, nil
}

// archQualifier writes a parsed architecture qualifier back as text. Each
// part is checked first: pault's Arch.String panics on parts that contain
// '-' (found by FuzzParseRelations with "pkg:----").
func archQualifier(a *dependency.Arch) (string, bool) {
	for _, part := range []string{a.ABI, a.Libc, a.OS, a.CPU} {
		if !validArch(part) || strings.Contains(part, "-") {
			return "", false
		}
	}
	s := a.String()
	return s, validArch(s)
}

// validArch checks an architecture name or qualifier: lower-case ASCII
// letters, digits and '-'.
func validArch(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
