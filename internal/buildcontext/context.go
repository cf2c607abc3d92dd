// Package buildcontext is the build context of a Dockerfile build: a
// directory filtered by .dockerignore, the wildcard rules of COPY sources,
// and content checksums of what a step reads, kept between builds by file
// identity so that an unchanged context costs only a walk of stat calls.
package buildcontext

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context is a build context directory.
type Context struct {
	root   string
	ignore *patternmatcher.PatternMatcher
	// ignoreMu serializes matches: a patternmatcher compiles each pattern
	// the first time it is used, writing to it, and parallel stages ask
	// one Context at once.
	ignoreMu sync.Mutex
	sums     *sums
}

// Options configure Open.
type Options struct {
	// Ignore are .dockerignore patterns (see LoadIgnore). Default none.
	Ignore []string
	// State keeps file checksums between builds. Default: none (every
	// build reads every file it checksums).
	State StateStore
}

// StateStore persists the checksum cache of one context directory.
type StateStore interface {
	Load() ([]byte, error)
	Save([]byte) error
}

// Open opens the context directory root.
func Open(root string, o Options) (*Context, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("opening build context %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("opening build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("opening build context: %s is not a directory", root)
	}
	c := &Context{root: abs, sums: newSums(o.State)}
	if len(o.Ignore) > 0 {
		pm, err := patternmatcher.New(o.Ignore)
		if err != nil {
			return nil, fmt.Errorf("reading .dockerignore: %w", err)
		}
		c.ignore = pm
	}
	return c, nil
}

// LoadIgnore reads the ignore patterns that apply to a build of dockerfile
// in contextDir, as BuildKit does: <dockerfile>.dockerignore next to the
// Dockerfile wins over .dockerignore at the context's root. A dockerfile
// of "" (read from standard input) has no ignore file of its own.
func LoadIgnore(contextDir, dockerfile string) ([]string, error) {
	paths := []string{filepath.Join(contextDir, ".dockerignore")}
	if dockerfile != "" {
		paths = append([]string{dockerfile + ".dockerignore"}, paths...)
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		defer f.Close()
		pats, err := ignorefile.ReadAll(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		return pats, nil
	}
	return nil, nil
}

// Root returns the context's absolute directory.
func (c *Context) Root() string { return c.root }

// Excluded reports whether rel (slash-separated, relative to the root) is
// hidden by .dockerignore.
func (c *Context) Excluded(rel string) bool {
	if c.ignore == nil || rel == "" || rel == "." {
		return false
	}
	c.ignoreMu.Lock()
	ok, err := c.ignore.MatchesOrParentMatches(rel)
	c.ignoreMu.Unlock()
	return err == nil && ok
}

// Exceptions reports whether .dockerignore has "!" exceptions, which can
// bring back paths inside an excluded directory: a copy must then look
// inside excluded directories instead of skipping them whole.
func (c *Context) Exceptions() bool {
	return c.ignore != nil && c.ignore.Exclusions()
}

// canPrune reports whether an excluded directory can be skipped whole: only
// when no "!" exception could bring something inside it back.
func (c *Context) canPrune() bool {
	return !c.Exceptions()
}

// Save persists what the context learned (file checksums) for the next build.
func (c *Context) Save() error { return c.sums.save() }

// ErrNotFound is returned by Match when a source without wildcards is not
// there.
var ErrNotFound = errors.New("not found in the build context")

// Match expands a COPY/ADD source pattern against the context: wildcards
// (* ? [..]) match within one path component, as BuildKit does; a leading
// "/" and "./" are the context root. It returns the matched paths relative
// to the root, slash-separated and sorted ("." for the root itself).
// A path without wildcards that is not there is ErrNotFound; a pattern
// with wildcards that matches nothing matches no path, without an error,
// as in BuildKit (`COPY go.mod go.sum* ./` when there is no go.sum yet),
// but the directory before its first wildcard must be there. An ignored
// directory counts as there when "!" exceptions may bring back something
// inside it (the copy then takes only that).
func (c *Context) Match(pattern string) ([]string, error) {
	return Match(c.root, pattern, c.Excluded, c.Exceptions())
}

// Match expands pattern against the directory root as Context.Match does;
// excluded, when not nil, hides paths, and exceptions says that it may let
// through paths inside a directory it hides.
func Match(root, pattern string, excluded func(rel string) bool, exceptions bool) ([]string, error) {
	// hidden: rel, of a file with info fi, is not there for the copy.
	hidden := func(rel string, fi fs.FileInfo) bool {
		return excluded != nil && excluded(rel) && !(exceptions && fi.IsDir())
	}
	clean := path.Clean("/" + filepath.ToSlash(pattern))
	if clean == "/" {
		return []string{"."}, nil
	}
	parts := strings.Split(strings.TrimPrefix(clean, "/"), "/")
	if !hasMeta(clean) {
		rel := strings.Join(parts, "/")
		p, err := securejoin.SecureJoin(root, rel)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Lstat(p); err != nil || hidden(rel, fi) {
			return nil, fmt.Errorf("%s: %w", pattern, ErrNotFound)
		}
		return []string{rel}, nil
	}
	// The directory before the first wildcard must be there, and not
	// ignored (unless exceptions may bring back something in it), as in
	// BuildKit ("COPY nodir/*.txt" fails; "COPY
	// nodir*/x.txt" does not).
	fixed := 0
	for fixed < len(parts) && !hasMeta(parts[fixed]) {
		fixed++
	}
	if fixed > 0 {
		dir := strings.Join(parts[:fixed], "/")
		p, err := securejoin.SecureJoin(root, dir)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() || hidden(dir, fi) {
			return nil, fmt.Errorf("%s: %s: %w", pattern, dir, ErrNotFound)
		}
	}
	matches := []string{""}
	for _, part := range parts {
		var next []string
		for _, m := range matches {
			if !hasMeta(part) {
				next = append(next, path.Join(m, part))
				continue
			}
			dir, err := securejoin.SecureJoin(root, m)
			if err != nil {
				return nil, err
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, e := range entries {
				ok, err := path.Match(part, e.Name())
				if err != nil {
					return nil, fmt.Errorf("source %q: %w", pattern, err)
				}
				if ok {
					next = append(next, path.Join(m, e.Name()))
				}
			}
		}
		matches = next
	}
	var out []string
	for _, m := range matches {
		p, err := securejoin.SecureJoin(root, m)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Lstat(p); err == nil && !hidden(m, fi) {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out, nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// Walk calls fn for rel (relative to the root) and everything below it that
// .dockerignore and the extra exclude patterns let through, in lexical order,
// parents before children. Symlinks are reported, not followed.
func (c *Context) Walk(rel string, exclude *patternmatcher.PatternMatcher, fn func(rel string, d fs.DirEntry, abs string) error) error {
	return walk(c.root, rel, func(r string) bool {
		if c.Excluded(r) {
			return true
		}
		if exclude != nil {
			ok, _ := exclude.MatchesOrParentMatches(r)
			return ok
		}
		return false
	}, c.canPrune() && (exclude == nil || !exclude.Exclusions()), fn)
}

// Walk walks root/rel as Context.Walk does, hiding what excluded says.
// When prune is true an excluded directory is skipped whole.
func walk(root, rel string, excluded func(string) bool, prune bool, fn func(rel string, d fs.DirEntry, abs string) error) error {
	start, err := securejoin.SecureJoin(root, rel)
	if err != nil {
		return err
	}
	prefix := root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	return filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r := "."
		if p != root {
			r = filepath.ToSlash(strings.TrimPrefix(p, prefix))
		}
		if r != "." && r != rel && excluded(r) {
			if d.IsDir() && prune {
				return filepath.SkipDir
			}
			return nil
		}
		return fn(r, d, p)
	})
}
