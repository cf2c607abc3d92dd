package distroless

import (
	"fmt"
	"strings"
)

// The users distroless images have.
const (
	// NonRootUID is the uid (and gid) of the "nonroot" user.
	NonRootUID = 65532
	// NobodyUID is the uid (and gid) of "nobody".
	NobodyUID = 65534
)

// defaultPath is PATH in every image config.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// CABundle is where the CA bundle goes, and what SSL_CERT_FILE says.
const CABundle = "/etc/ssl/certs/ca-certificates.crt"

// BuiltinNames lists the built-in recipes.
func BuiltinNames() []string {
	return []string{"static", "base-nossl", "base", "cc", "python3", "java", "debian"}
}

// Builtin returns the built-in recipe name for suite, flattened (its bases
// applied). The recipes follow distroless's package lists and tests:
//
//   - static: base-files, netbase, tzdata, media-types, the CA bundle of
//     ca-certificates, /etc/passwd and /etc/group with root, nobody and
//     nonroot, /tmp (1777), /home/nonroot, /etc/nsswitch.conf and an
//     /etc/os-release whose PRETTY_NAME is "Distroless";
//   - base-nossl: static + libc6 (without libgcc-s1);
//   - base: base-nossl + libssl;
//   - cc: base + libgcc-s1, libgomp1, libstdc++6;
//   - python3: cc + the Python interpreter and standard library, with
//     /usr/bin/python3 and /usr/bin/python;
//   - java: base-nossl + a headless JRE, its alternatives (/usr/bin/java),
//     a Java trust store made from the CA bundle and the C.UTF-8 locale;
//   - debian: a normal Debian (Essential, Priority required and apt),
//     installed by dpkg with maintainer scripts, for build stages.
func Builtin(name string, suite Suite) (*Recipe, error) {
	chain, err := builtinChain(name, suite)
	if err != nil {
		return nil, err
	}
	r := chain[0]
	for _, next := range chain[1:] {
		r = r.extend(next)
	}
	r.Name = name
	r.Prune = without(r.Prune, r.Packages)
	return r, nil
}

// builtinChain returns name's recipe preceded by its bases, root first.
func builtinChain(name string, s Suite) ([]*Recipe, error) {
	var chain []*Recipe
	for n := name; n != ""; {
		r := builtinRecipe(n, s)
		if r == nil {
			return nil, fmt.Errorf("unknown recipe %q (want one of %s, or -f FILE)", n, strings.Join(BuiltinNames(), ", "))
		}
		chain = append([]*Recipe{r}, chain...)
		n = r.Base
	}
	return chain, nil
}

// builtinRecipe returns one level of a built-in recipe, or nil.
func builtinRecipe(name string, s Suite) *Recipe {
	switch name {
	case "static":
		return &Recipe{
			Name:     "static",
			Packages: []string{"base-files", "netbase", "tzdata", "media-types", "ca-certificates"},
			// base-files pre-depends on awk for its maintainer scripts,
			// which never run; ca-certificates' openssl and debconf only
			// serve update-ca-certificates, which is replayed.
			Prune: []string{"mawk", "awk", "debconf", "openssl"},
			Users: []User{
				{Name: "root", UID: 0, GID: 0, Gecos: "root", Home: "/root"},
				{Name: "nobody", UID: NobodyUID, GID: NobodyUID, Gecos: "nobody", Home: "/nonexistent"},
				{Name: "nonroot", UID: NonRootUID, GID: NonRootUID, Gecos: "nonroot", Home: "/home/nonroot"},
			},
			Groups: []Group{
				{Name: "root", GID: 0},
				{Name: "nobody", GID: NobodyUID},
				{Name: "tty", GID: 5},
				{Name: "staff", GID: 50},
				{Name: "nonroot", GID: NonRootUID},
			},
			Dirs: []Dir{
				{Path: "/tmp", Mode: 0o1777},
				{Path: "/home", Mode: 0o755},
			},
			Files: []File{{Path: "/etc/nsswitch.conf", Content: nsswitchConf, Mode: 0o644}},
			Env: map[string]string{
				"PATH":          defaultPath,
				"SSL_CERT_FILE": CABundle,
			},
			User:    "0",
			Workdir: "/",
		}
	case "base-nossl":
		return &Recipe{
			Name: "base-nossl", Base: "static",
			Packages: []string{"libc6"},
			// libgcc-s1 only serves pthread_cancel; distroless leaves it
			// to cc.
			Prune: []string{"libgcc-s1", s.GCCBase},
		}
	case "base":
		return &Recipe{Name: "base", Base: "base-nossl", Packages: []string{s.LibSSL}}
	case "cc":
		return &Recipe{Name: "cc", Base: "base", Packages: []string{s.GCCBase, "libgcc-s1", "libgomp1", "libstdc++6"}}
	case "python3":
		py := "python" + s.Python
		pkgs := []string{py + "-minimal", "lib" + py + "-minimal", "lib" + py + "-stdlib", "zlib1g", "libsqlite3-0"}
		if s.Name == "bookworm" {
			pkgs = append(pkgs, "python3-distutils")
		}
		return &Recipe{
			Name: "python3", Base: "cc",
			Packages: pkgs,
			// dpkg and tar come with python3-minimal's postinst needs;
			// readline-common only holds documentation and an inputrc.
			Prune: []string{"dpkg", "tar", "readline-common", "python3-minimal", "python3-lib2to3", "python3", py, "libpython3-stdlib"},
			Links: []Link{
				{Path: "/usr/bin/python3", Target: py},
				{Path: "/usr/bin/python", Target: py},
			},
			Env:        map[string]string{"LANG": "C.UTF-8"},
			Entrypoint: []string{"/usr/bin/" + py},
		}
	case "java":
		return &Recipe{
			Name: "java", Base: "base-nossl",
			Packages: []string{"openjdk-" + s.Java + "-jre-headless", "ca-certificates-java", "libgcc-s1", s.GCCBase, "libstdc++6", "zlib1g", "libc-bin"},
			// The C.UTF-8 locale (LANG below) is all of libc-bin it needs.
			Only: map[string][]string{"libc-bin": {"/usr/lib/locale/C.utf8"}},
			// What the JRE only loads on demand for desktops, printing,
			// sound and smart cards, and what its maintainer scripts use.
			Prune: []string{
				"java-common", "util-linux", "libcups2", "libasound2", "libasound2t64", "libnss3",
				"libpcsclite1", "libpcsclite1t64", "adduser", "libcups2t64",
			},
			Env:        map[string]string{"LANG": "C.UTF-8"},
			Entrypoint: []string{"/usr/bin/java", "-jar"},
		}
	case "debian":
		return &Recipe{
			Name: "debian",
			// The tree is merged from the start: usr-is-merged says so
			// (usrmerge, and the perl it needs, would convert it).
			Packages:  []string{"apt", "usr-is-merged"},
			MergedUsr: boolPtr(true),
			Env:       map[string]string{"PATH": defaultPath},
			Cmd:       []string{"bash"},
			bootstrap: true,
		}
	}
	return nil
}

// Flatten applies r's base (a built-in, if any) to r and returns the
// result, a new recipe (r is left as it was), checked as a whole: a user or
// group of r may not take an id its base already gives another.
func Flatten(r *Recipe, suite Suite) (*Recipe, error) {
	base := &Recipe{}
	if r.Base != "" {
		b, err := Builtin(r.Base, suite)
		if err != nil {
			return nil, fmt.Errorf("recipe %s: base: %w", r.Name, err)
		}
		base = b
	}
	out := base.extend(r)
	out.Prune = without(out.Prune, out.Packages)
	if err := out.validate(); err != nil {
		return nil, fmt.Errorf("recipe %s on base %s: %w", r.Name, r.Base, err)
	}
	return out, nil
}

// nsswitchConf is distroless's /etc/nsswitch.conf: files first, DNS for
// hosts.
const nsswitchConf = `passwd:         files
group:          files
shadow:         files
gshadow:        files

hosts:          files dns
networks:       files

protocols:      files
services:       files
ethers:         files
rpc:            files
`

func boolPtr(b bool) *bool { return &b }

// without returns a minus the names in b (names compared without version
// or architecture qualifiers).
func without(a, b []string) []string {
	drop := map[string]bool{}
	for _, s := range b {
		drop[requestName(s)] = true
	}
	var out []string
	for _, s := range a {
		if !drop[s] {
			out = append(out, s)
		}
	}
	return out
}

// requestName is the package name of a request ("tzdata (>= 2024a)",
// "libc6:amd64", "tzdata=2024a-0").
func requestName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " (=:"); i >= 0 {
		s = s[:i]
	}
	return s
}
