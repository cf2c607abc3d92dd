package distroless

import (
	"fmt"
	"sort"
	"strings"
)

// Suite holds what the recipes need to know about a Debian release: its
// version number and the names of the packages that change between
// releases.
type Suite struct {
	// Name is the codename, e.g. "bookworm".
	Name string
	// Version is the Debian major version, e.g. "12".
	Version string
	// MergedUsr says whether the distroless recipes move /bin, /sbin and
	// /lib* into /usr by default (the debian recipe always does).
	MergedUsr bool
	// LibSSL, GCCBase, Python and Java name the release's libssl, gcc
	// runtime base package, Python 3 version and default JRE version.
	LibSSL  string
	GCCBase string
	Python  string
	Java    string
}

// suites are the releases whittle knows.
var suites = map[string]Suite{
	"bookworm": {Name: "bookworm", Version: "12", LibSSL: "libssl3", GCCBase: "gcc-12-base", Python: "3.11", Java: "17"},
	"trixie":   {Name: "trixie", Version: "13", MergedUsr: true, LibSSL: "libssl3t64", GCCBase: "gcc-14-base", Python: "3.13", Java: "21"},
}

// DefaultSuite is the suite used when none is given.
const DefaultSuite = "bookworm"

// LookupSuite returns the suite named by codename ("bookworm") or version
// ("12", "debian12").
func LookupSuite(name string) (Suite, error) {
	n := strings.TrimPrefix(strings.ToLower(name), "debian")
	for _, s := range suites {
		if s.Name == n || s.Version == n {
			return s, nil
		}
	}
	return Suite{}, fmt.Errorf("unknown suite %q (want one of %s)", name, strings.Join(SuiteNames(), ", "))
}

// SuiteNames lists the known suites by codename.
func SuiteNames() []string {
	var out []string
	for n := range suites {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
