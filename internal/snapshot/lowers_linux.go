package snapshot

import (
	"errors"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// lowerEntry finds what the merged view of lowers (top-most first) has at
// rel (a relative, clean path): the path in the layer that provides it and
// its stat. ok is false when the merge has nothing there: no layer has it,
// or a whiteout, a non-directory or an opaque directory in an upper layer
// hides it.
func lowerEntry(lowers []string, rel string) (p string, st *unix.Stat_t, ok bool, err error) {
	parts := strings.Split(rel, "/")
	for _, layer := range lowers {
		// Walk the ancestors in this layer: one may hide lower layers.
		stop := false
		dir := layer
		hidden := false
		for i, part := range parts {
			dir = filepath.Join(dir, part)
			var s unix.Stat_t
			if err := unix.Lstat(dir, &s); err != nil {
				if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
					break // not in this layer; lower layers may have it
				}
				return "", nil, false, err
			}
			if isWhiteout(&s) {
				return "", nil, false, nil
			}
			if i == len(parts)-1 {
				return dir, &s, true, nil
			}
			if !isDir(&s) {
				// A file where an ancestor should be hides everything below.
				hidden = true
				break
			}
			if isOpaque(dir) {
				stop = true
			}
		}
		if hidden {
			return "", nil, false, nil
		}
		if stop {
			// An opaque ancestor in this layer: nothing below it shows.
			return "", nil, false, nil
		}
	}
	return "", nil, false, nil
}
