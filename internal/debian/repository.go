package debian

import (
	"fmt"
	"net/url"
	"strings"
)

// Repository is one suite of one archive: where to fetch it, which
// components to read, and which keys must have signed its InRelease.
type Repository struct {
	// URL is the archive root (the directory holding dists/ and pool/),
	// without a trailing slash.
	URL string
	// Suite is the distribution name under dists/, e.g. "bookworm-security".
	Suite string
	// Components are the archive areas to read, e.g. ["main"].
	Components []string
	// Architectures, when not empty, restricts the architectures this
	// repository is used for (the sources "arch" option).
	Architectures []string
	// Keyring holds the keys allowed to sign this suite.
	Keyring Keyring
	// Origin says where the repository was configured, for errors.
	Origin string
}

// String names the repository as "URL suite".
func (r Repository) String() string { return r.URL + " " + r.Suite }

// servesArch reports whether the repository is used for arch.
func (r Repository) servesArch(arch string) bool {
	if len(r.Architectures) == 0 {
		return true
	}
	for _, a := range r.Architectures {
		if a == arch {
			return true
		}
	}
	return false
}

// Suites returns the suites a Debian release is made of, in overlay order:
// the release itself, then its -updates and -security companions.
func Suites(dist string) []string {
	return []string{dist, dist + "-updates", dist + "-security"}
}

// RepositoryConfig says where the packages of a distribution come from.
type RepositoryConfig struct {
	// Root is the host root whose apt sources and keyrings are read.
	// Default "/".
	Root string
	// Dist is the release, e.g. "bookworm" or "trixie". Required.
	Dist string
	// Suites lists the suites to use. Default: Suites(Dist) when reading
	// the host's sources (companions that the host does not configure are
	// skipped; Dist itself must be configured), or just Dist with Mirror.
	Suites []string
	// Mirror, when set, replaces the host's sources: every suite is read
	// from this archive root.
	Mirror string
	// Components read from Mirror. Default ["main"]. Ignored without Mirror
	// (the host's sources name their components).
	Components []string
	// Keyring, when set, is a keyring file (binary or armored) that
	// replaces Signed-By for every repository. With Mirror and no Keyring,
	// apt's default trusted keys under Root are used.
	Keyring string
}

// Repositories returns the repositories cfg describes. Only "deb" entries
// are used. Entries that name the same URL and suite are merged.
func Repositories(cfg RepositoryConfig) ([]Repository, error) {
	if cfg.Dist == "" {
		return nil, fmt.Errorf("selecting repositories: no distribution given")
	}
	root := cfg.Root
	if root == "" {
		root = "/"
	}
	var override Keyring
	if cfg.Keyring != "" {
		k, err := ReadKeyring(cfg.Keyring)
		if err != nil {
			return nil, err
		}
		override = k
	}
	if cfg.Mirror != "" {
		return mirrorRepositories(cfg, root, override)
	}
	sources, err := ReadSources(root)
	if err != nil {
		return nil, err
	}
	suites := cfg.Suites
	required := map[string]bool{}
	if len(suites) == 0 {
		suites = Suites(cfg.Dist)
		required[cfg.Dist] = true
	} else {
		for _, s := range suites {
			required[s] = true
		}
	}
	repos, err := SelectRepositories(root, sources, suites, override)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, r := range repos {
		have[r.Suite] = true
	}
	for _, s := range suites {
		if required[s] && !have[s] {
			return nil, fmt.Errorf("the apt sources under %s have no \"deb\" entry for suite %s; add one or pass a mirror", root, s)
		}
	}
	return repos, nil
}

// mirrorRepositories builds one repository per suite on cfg.Mirror.
func mirrorRepositories(cfg RepositoryConfig, root string, keys Keyring) ([]Repository, error) {
	base, err := archiveURL(cfg.Mirror)
	if err != nil {
		return nil, fmt.Errorf("mirror: %w", err)
	}
	if keys == nil {
		keys, err = DefaultKeyring(root)
		if err != nil {
			return nil, fmt.Errorf("mirror %s without a keyring: %w", base, err)
		}
	}
	comps := cfg.Components
	if len(comps) == 0 {
		comps = []string{"main"}
	}
	suites := cfg.Suites
	if len(suites) == 0 {
		suites = []string{cfg.Dist}
	}
	var out []Repository
	for _, s := range suites {
		out = append(out, Repository{
			URL:        base,
			Suite:      s,
			Components: append([]string(nil), comps...),
			Keyring:    keys,
			Origin:     "mirror " + base,
		})
	}
	return out, nil
}

// SelectRepositories picks the "deb" entries of sources that serve the
// given suites and loads their Signed-By keys (paths resolved under root).
// The result follows the order of suites, then of sources. keys, when not
// nil, replaces every entry's Signed-By. Suites nobody serves are left out;
// the caller decides which ones are required.
func SelectRepositories(root string, sources []Source, suites []string, keys Keyring) ([]Repository, error) {
	var out []Repository
	index := map[string]int{}
	for _, suite := range suites {
		for _, src := range sources {
			if !src.HasType("deb") || !contains(src.Suites, suite) {
				continue
			}
			if strings.HasSuffix(suite, "/") {
				return nil, fmt.Errorf("%s: flat repository %q is not supported (want dists/<suite>/ layout)", src.Origin, suite)
			}
			if len(src.Components) == 0 {
				return nil, fmt.Errorf("%s: suite %s has no components", src.Origin, suite)
			}
			k := keys
			if k == nil {
				var err error
				k, err = signedByKeyring(root, src.SignedBy, src.Origin)
				if err != nil {
					return nil, err
				}
			}
			for _, u := range src.URIs {
				base, err := archiveURL(u)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", src.Origin, err)
				}
				id := base + " " + suite
				if i, ok := index[id]; ok {
					r := &out[i]
					for _, c := range src.Components {
						if !contains(r.Components, c) {
							r.Components = append(r.Components, c)
						}
					}
					if keys == nil {
						r.Keyring = append(append(Keyring(nil), r.Keyring...), k...)
					}
					continue
				}
				index[id] = len(out)
				out = append(out, Repository{
					URL:           base,
					Suite:         suite,
					Components:    append([]string(nil), src.Components...),
					Architectures: append([]string(nil), src.Architectures...),
					Keyring:       k,
					Origin:        src.Origin,
				})
			}
		}
	}
	return out, nil
}

// archiveURL checks an archive root URL and drops its trailing slash.
func archiveURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parsing archive URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "http", "https":
	case "file":
	default:
		return "", fmt.Errorf("archive URL %q: scheme %q is not supported (want http, https or file)", raw, u.Scheme)
	}
	return strings.TrimRight(raw, "/"), nil
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
