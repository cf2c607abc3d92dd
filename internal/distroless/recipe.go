package distroless

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Recipe says what goes into a base image: packages (with their dependency
// closure, minus a prune list), users, files and the image config. A recipe
// may extend another (Base): lists are appended, maps merged, and scalar
// settings of the extending recipe win.
//
// Recipe files (-f recipe.yaml) are YAML with the field names below:
//
//	name: app-base
//	base: static
//	packages: [libsqlite3-0]
//	prune: [debconf]
//	users:  [{name: app, uid: 1000, gid: 1000, home: /home/app}]
//	groups: [{name: app, gid: 1000}]
//	files:
//	  - {path: /usr/local/share/ca-certificates/corp.crt, source: corp.crt}
//	  - {path: /etc/app.conf, content: "debug=false\n", mode: "0640", gid: 1000}
//	links: [{path: /usr/bin/python, target: python3.11}]
//	env: {LANG: C.UTF-8}
type Recipe struct {
	// Name names the recipe (and the default image name).
	Name string `yaml:"name"`
	// Base is the recipe this one extends: a built-in name.
	Base string `yaml:"base,omitempty"`
	// Packages are requested with their Depends and Pre-Depends closure.
	Packages []string `yaml:"packages,omitempty"`
	// Prune names packages that are never installed; dependencies through
	// them are cut (libc6 → libgcc-s1 in base).
	Prune []string `yaml:"prune,omitempty"`
	// Only limits a package to some of its files: name → path prefixes
	// (base-nossl keeps only the C.UTF-8 locale of libc-bin). Such a
	// package's status.d entry has no md5sums.
	Only map[string][]string `yaml:"only,omitempty"`
	// MergedUsr moves /bin, /sbin and /lib* of every package into /usr and
	// links them there. Default: the suite's (Suite.MergedUsr).
	MergedUsr *bool `yaml:"mergedUsr,omitempty"`
	// Users and Groups make /etc/passwd and /etc/group (with home
	// directories, mode 0700, for users whose home is not /nonexistent).
	Users  []User  `yaml:"users,omitempty"`
	Groups []Group `yaml:"groups,omitempty"`
	// Dirs, Files and Links are added to the image (after the packages).
	// A file under /usr/local/share/ca-certificates/ ending in .crt is
	// also added to the CA bundle, as update-ca-certificates does.
	Dirs  []Dir  `yaml:"dirs,omitempty"`
	Files []File `yaml:"files,omitempty"`
	Links []Link `yaml:"links,omitempty"`
	// Env, Entrypoint, Cmd, User, Workdir and Labels go into the image
	// config.
	Env        map[string]string `yaml:"env,omitempty"`
	Entrypoint []string          `yaml:"entrypoint,omitempty"`
	Cmd        []string          `yaml:"cmd,omitempty"`
	User       string            `yaml:"user,omitempty"`
	Workdir    string            `yaml:"workdir,omitempty"`
	Labels     map[string]string `yaml:"labels,omitempty"`
	// Timezone makes /etc/localtime a link to /usr/share/zoneinfo/<zone>
	// and writes /etc/timezone. Default: none (UTC).
	Timezone string `yaml:"timezone,omitempty"`

	// bootstrap marks the debian recipe: a normal Debian installed with
	// dpkg in the sandbox, maintainer scripts run.
	bootstrap bool
	// dir is the directory of the recipe file, for relative sources.
	dir string
}

// Bootstrap reports whether the recipe is (or extends) the debian recipe,
// which installs its packages with dpkg in the sandbox.
func (r *Recipe) Bootstrap() bool { return r.bootstrap || r.Base == "debian" }

// User is an /etc/passwd entry.
type User struct {
	Name  string `yaml:"name"`
	UID   uint32 `yaml:"uid"`
	GID   uint32 `yaml:"gid"`
	Gecos string `yaml:"gecos,omitempty"`
	// Home defaults to /home/<name>; Shell to /sbin/nologin.
	Home  string `yaml:"home,omitempty"`
	Shell string `yaml:"shell,omitempty"`
}

// Group is an /etc/group entry.
type Group struct {
	Name    string   `yaml:"name"`
	GID     uint32   `yaml:"gid"`
	Members []string `yaml:"members,omitempty"`
}

// Dir is a directory to create.
type Dir struct {
	Path string `yaml:"path"`
	Mode Mode   `yaml:"mode,omitempty"`
	UID  uint32 `yaml:"uid,omitempty"`
	GID  uint32 `yaml:"gid,omitempty"`
}

// File is a regular file to add, from Content or from the host file Source
// (relative to the recipe file).
type File struct {
	Path    string `yaml:"path"`
	Content string `yaml:"content,omitempty"`
	Source  string `yaml:"source,omitempty"`
	Mode    Mode   `yaml:"mode,omitempty"`
	UID     uint32 `yaml:"uid,omitempty"`
	GID     uint32 `yaml:"gid,omitempty"`
}

// Link is a symbolic link to add.
type Link struct {
	Path   string `yaml:"path"`
	Target string `yaml:"target"`
}

// Mode is a file mode written in octal ("0644", "755" or 0o755); zero means
// the default (0644 for files, 0755 for directories).
type Mode uint32

// UnmarshalYAML reads a mode as octal digits, whatever YAML thinks of them.
func (m *Mode) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a mode is octal digits, like \"0644\"", n.Line)
	}
	s := strings.TrimPrefix(strings.TrimPrefix(n.Value, "0o"), "0O")
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return fmt.Errorf("line %d: mode %q: want octal digits up to 7777, like \"0644\"", n.Line, n.Value)
	}
	*m = Mode(v)
	return nil
}

// MarshalYAML writes the mode as an octal string.
func (m Mode) MarshalYAML() (any, error) { return fmt.Sprintf("%04o", uint32(m)), nil }

// ParseRecipe reads a recipe file's YAML. name is used in errors and dir
// resolves relative file sources. Unknown fields are errors, so a typo
// does not silently drop a setting.
func ParseRecipe(name string, data []byte, dir string) (*Recipe, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	r := &Recipe{}
	if err := dec.Decode(r); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading recipe %s: the file is empty", name)
		}
		return nil, fmt.Errorf("reading recipe %s: %w", name, err)
	}
	r.dir = dir
	if r.Name == "" {
		r.Name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("recipe %s: %w", name, err)
	}
	return r, nil
}

// ReadRecipeFile reads a recipe file (see ParseRecipe).
func ReadRecipeFile(file string) (*Recipe, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading recipe: %w", err)
	}
	abs, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return nil, fmt.Errorf("reading recipe: %w", err)
	}
	return ParseRecipe(file, data, abs)
}

var (
	packageNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	accountNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]*[$]?$`)
	envKeyRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// validate checks what can be checked without the archive.
func (r *Recipe) validate() error {
	if r.Name == "" || strings.ContainsAny(r.Name, " \t\n:/@") {
		return fmt.Errorf("name %q: want a word without spaces, ':', '/' or '@'", r.Name)
	}
	for _, p := range r.Prune {
		if !packageNameRE.MatchString(p) {
			return fmt.Errorf("prune: %q is not a package name", p)
		}
	}
	for _, p := range r.Packages {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf("packages: an empty package name")
		}
	}
	for p, paths := range r.Only {
		if !packageNameRE.MatchString(p) {
			return fmt.Errorf("only: %q is not a package name", p)
		}
		for _, q := range paths {
			if err := checkImagePath("only: "+p, q); err != nil {
				return err
			}
		}
	}
	uids, unames := map[uint32]string{}, map[string]bool{}
	for _, u := range r.Users {
		if !accountNameRE.MatchString(u.Name) {
			return fmt.Errorf("users: %q is not a valid user name", u.Name)
		}
		if unames[u.Name] {
			return fmt.Errorf("users: %s is listed twice", u.Name)
		}
		if other, ok := uids[u.UID]; ok {
			return fmt.Errorf("users: %s and %s share uid %d", other, u.Name, u.UID)
		}
		unames[u.Name], uids[u.UID] = true, u.Name
		for _, p := range []string{u.Home, u.Shell} {
			if p != "" && !path.IsAbs(p) {
				return fmt.Errorf("users: %s: %q is not an absolute path", u.Name, p)
			}
		}
		if strings.ContainsAny(u.Gecos, ":\n") {
			return fmt.Errorf("users: %s: gecos may not contain ':' or a newline", u.Name)
		}
	}
	gids, gnames := map[uint32]string{}, map[string]bool{}
	for _, g := range r.Groups {
		if !accountNameRE.MatchString(g.Name) {
			return fmt.Errorf("groups: %q is not a valid group name", g.Name)
		}
		if gnames[g.Name] {
			return fmt.Errorf("groups: %s is listed twice", g.Name)
		}
		if other, ok := gids[g.GID]; ok {
			return fmt.Errorf("groups: %s and %s share gid %d", other, g.Name, g.GID)
		}
		gnames[g.Name], gids[g.GID] = true, g.Name
	}
	for _, d := range r.Dirs {
		if err := checkImagePath("dirs", d.Path); err != nil {
			return err
		}
	}
	for _, f := range r.Files {
		if err := checkImagePath("files", f.Path); err != nil {
			return err
		}
		if f.Content != "" && f.Source != "" {
			return fmt.Errorf("files: %s: give either content or source, not both", f.Path)
		}
	}
	for _, l := range r.Links {
		if err := checkImagePath("links", l.Path); err != nil {
			return err
		}
		if l.Target == "" {
			return fmt.Errorf("links: %s: the target is empty", l.Path)
		}
	}
	for k := range r.Env {
		if !envKeyRE.MatchString(k) {
			return fmt.Errorf("env: %q is not a valid variable name", k)
		}
	}
	if r.Workdir != "" && !path.IsAbs(r.Workdir) {
		return fmt.Errorf("workdir %q is not an absolute path", r.Workdir)
	}
	if r.Timezone != "" {
		if strings.HasPrefix(r.Timezone, "/") || strings.Contains(r.Timezone, "..") {
			return fmt.Errorf("timezone %q: want a zone name like Europe/Paris", r.Timezone)
		}
	}
	return nil
}

// checkImagePath requires an absolute, clean path below the root.
func checkImagePath(field, p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return fmt.Errorf("%s: %q is not a clean absolute path below /", field, p)
	}
	return nil
}

// extend returns r applied on top of base: lists appended (r's entries
// replacing base's of the same user, group or path), maps merged, r's
// scalars winning when set.
func (base *Recipe) extend(r *Recipe) *Recipe {
	out := &Recipe{
		Name:       r.Name,
		Packages:   appendUnique(base.Packages, r.Packages),
		Prune:      appendUnique(base.Prune, r.Prune),
		Only:       mergeMaps(base.Only, r.Only),
		MergedUsr:  base.MergedUsr,
		Users:      mergeBy(base.Users, r.Users, func(u User) string { return u.Name }),
		Groups:     mergeBy(base.Groups, r.Groups, func(g Group) string { return g.Name }),
		Dirs:       mergeBy(base.Dirs, r.Dirs, func(d Dir) string { return d.Path }),
		Files:      mergeBy(base.Files, r.Files, func(f File) string { return f.Path }),
		Links:      mergeBy(base.Links, r.Links, func(l Link) string { return l.Path }),
		Env:        mergeMaps(base.Env, r.Env),
		Labels:     mergeMaps(base.Labels, r.Labels),
		Entrypoint: base.Entrypoint,
		Cmd:        base.Cmd,
		User:       base.User,
		Workdir:    base.Workdir,
		Timezone:   base.Timezone,
		bootstrap:  base.bootstrap || r.bootstrap,
		dir:        r.dir,
	}
	if r.MergedUsr != nil {
		out.MergedUsr = r.MergedUsr
	}
	if r.Entrypoint != nil {
		out.Entrypoint = r.Entrypoint
	}
	if r.Cmd != nil {
		out.Cmd = r.Cmd
	}
	if r.User != "" {
		out.User = r.User
	}
	if r.Workdir != "" {
		out.Workdir = r.Workdir
	}
	if r.Timezone != "" {
		out.Timezone = r.Timezone
	}
	// Files of the extending recipe are read relative to its own file;
	// the base's come from built-ins (content only) or were made absolute.
	for i := range out.Files {
		if out.Files[i].Source != "" && !filepath.IsAbs(out.Files[i].Source) {
			out.Files[i].Source = filepath.Join(r.dir, out.Files[i].Source)
		}
	}
	return out
}

func appendUnique(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string(nil), a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// mergeBy appends b to a; an element of b whose key is in a replaces it
// in place.
func mergeBy[T any](a, b []T, key func(T) string) []T {
	out := append([]T(nil), a...)
	idx := map[string]int{}
	for i, v := range out {
		idx[key(v)] = i
	}
	for _, v := range b {
		if i, ok := idx[key(v)]; ok {
			out[i] = v
			continue
		}
		idx[key(v)] = len(out)
		out = append(out, v)
	}
	return out
}

// mergeMaps returns a's entries with b's over them, nil when both are
// empty so that a recipe extending one without the map leaves it unset.
func mergeMaps[M ~map[K]V, K comparable, V any](a, b M) M {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := make(M, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
