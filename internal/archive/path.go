package archive

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrUnsafePath is wrapped by the errors of Apply and Walk for an entry
// whose name or link target would leave the directory.
var ErrUnsafePath = errors.New("path leaves the root directory")

// CleanPath turns the name of a tar entry into a clean path relative to the
// layer's root, with no leading or trailing slash: "./usr/bin/" becomes
// "usr/bin", and a leading "/" is taken as relative to the root. The root
// itself is "". A name that climbs out of the root with ".." is refused
// with an error wrapping ErrUnsafePath.
func CleanPath(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("cleaning path %q: contains a NUL byte", name)
	}
	p := path.Clean(strings.TrimLeft(name, "/"))
	if p == "." {
		return "", nil
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("cleaning path %q: %w", name, ErrUnsafePath)
	}
	return p, nil
}

// splitPath splits a clean relative path into its parent ("" for the root)
// and base name.
func splitPath(rel string) (parent, base string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

// joinPath joins a clean relative parent and a base name.
func joinPath(parent, base string) string {
	if parent == "" {
		return base
	}
	return parent + "/" + base
}
