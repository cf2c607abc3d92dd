package resolve

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// sourceKind says where a reference's image comes from.
type sourceKind int

const (
	// fromName is a docker name: the store, else its registry.
	fromName sourceKind = iota
	// fromLayout is an OCI image layout directory.
	fromLayout
	// fromArchive is a docker-archive tar file (docker save).
	fromArchive
)

// source is a parsed reference.
type source struct {
	kind sourceKind
	// name is the docker name, for fromName.
	name string
	// path is the layout directory or the archive file.
	path string
	// tag selects an image of a layout (its ref name) or an archive (one
	// of its RepoTags); empty selects the only one.
	tag string
	// digest selects an image of a layout by manifest digest.
	digest v1.Hash
	// index selects the index-th image of an archive (skopeo's ":@N"); -1
	// when not given.
	index int
}

// The reference prefixes that name a source other than a registry.
const (
	prefixOCILayout     = "oci-layout://"
	prefixOCI           = "oci:"
	prefixDockerArchive = "docker-archive:"
	prefixDockerImage   = "docker-image://"
	prefixDocker        = "docker://"
)

// parseSource splits a reference into its source and selector.
func parseSource(ref string) (source, error) {
	switch {
	case strings.HasPrefix(ref, prefixOCILayout):
		return parseLayoutSource(ref, strings.TrimPrefix(ref, prefixOCILayout))
	case strings.HasPrefix(ref, prefixOCI) && isLayoutPath(strings.TrimPrefix(ref, prefixOCI)):
		// skopeo's oci:DIR[:TAG]: the directory ends at the first colon.
		rest := strings.TrimPrefix(ref, prefixOCI)
		dir, tag, _ := strings.Cut(rest, ":")
		if dir == "" {
			return source{}, fmt.Errorf("parsing %q: no directory after the oci: prefix", ref)
		}
		return source{kind: fromLayout, path: dir, tag: tag, index: -1}, nil
	case strings.HasPrefix(ref, prefixDockerArchive):
		rest := strings.TrimPrefix(ref, prefixDockerArchive)
		file, sel, _ := strings.Cut(rest, ":")
		if file == "" {
			return source{}, fmt.Errorf("parsing %q: no file after the docker-archive: prefix", ref)
		}
		s := source{kind: fromArchive, path: file, index: -1}
		if n, ok := strings.CutPrefix(sel, "@"); ok {
			i, err := strconv.Atoi(n)
			if err != nil || i < 0 {
				return source{}, fmt.Errorf("parsing %q: %q is not an image index (docker-archive:FILE:@N)", ref, sel)
			}
			s.index = i
		} else {
			s.tag = sel
		}
		return s, nil
	case strings.HasPrefix(ref, prefixDockerImage):
		return source{kind: fromName, name: strings.TrimPrefix(ref, prefixDockerImage), index: -1}, nil
	case strings.HasPrefix(ref, prefixDocker):
		return source{kind: fromName, name: strings.TrimPrefix(strings.TrimPrefix(ref, prefixDocker), "//"), index: -1}, nil
	}
	return source{kind: fromName, name: ref, index: -1}, nil
}

// parseLayoutSource parses BuildKit's DIR[:TAG|@DIGEST].
func parseLayoutSource(ref, rest string) (source, error) {
	s := source{kind: fromLayout, path: rest, index: -1}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		if h, err := v1.NewHash(rest[i+1:]); err == nil {
			s.path, s.digest = rest[:i], h
		}
	}
	if s.digest == (v1.Hash{}) && !isDir(s.path) {
		// The tag follows the first colon that ends an existing directory
		// (so that it may hold colons itself: DIR:app:v2); failing that,
		// the last colon after the last slash.
		found := false
		for i := 0; i < len(s.path); i++ {
			if s.path[i] == ':' && isDir(s.path[:i]) {
				s.path, s.tag, found = s.path[:i], s.path[i+1:], true
				break
			}
		}
		slash := strings.LastIndex(s.path, "/")
		if i := strings.LastIndex(s.path, ":"); !found && i > slash {
			s.path, s.tag = s.path[:i], s.path[i+1:]
		}
	}
	if s.path == "" {
		return source{}, fmt.Errorf("parsing %q: no directory after oci-layout://", ref)
	}
	return s, nil
}

// isLayoutPath tells skopeo's oci:DIR apart from a docker image named
// "oci" ("oci:1.0"): it is a layout when the part before the first colon
// looks like a path or is an existing directory.
func isLayoutPath(rest string) bool {
	dir, _, _ := strings.Cut(rest, ":")
	if dir == "" {
		return true // an error, reported by the caller
	}
	if strings.ContainsRune(dir, '/') || strings.HasPrefix(dir, ".") || strings.HasPrefix(dir, "~") {
		return true
	}
	return isDir(dir)
}

// isDir reports whether path is an existing directory.
func isDir(path string) bool {
	fi, err := os.Stat(filepath.Clean(path))
	return err == nil && fi.IsDir()
}
