package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// parent resolves the directory with the relative path rel inside the root,
// following symlinks as if the root were "/". With create it makes missing
// directories (mode 0755, as docker and containerd do); without, it returns
// errNoParent when the directory is missing.
func (a *applier) parent(rel string, create bool) (string, error) {
	if rel == "" {
		return a.root, nil
	}
	if p, ok := a.parents[rel]; ok {
		return p, nil
	}
	p, err := securejoin.SecureJoin(a.root, rel)
	if err != nil {
		return "", err
	}
	// A pending file on the way resolves as missing until it is written.
	if err := a.drainFor(p); err != nil {
		return "", err
	}
	if create {
		if err := a.mkdirAll(p); err != nil {
			return "", err
		}
	} else if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
		return "", errNoParent
	}
	a.parents[rel] = p
	return p, nil
}

// mkdirAll makes the directory abs, a resolved path inside the root, and
// its missing parents.
func (a *applier) mkdirAll(abs string) error {
	if abs == a.root {
		return nil
	}
	if !strings.HasPrefix(abs, a.root+"/") {
		return fmt.Errorf("resolved path %s: %w", abs, ErrUnsafePath)
	}
	cur := a.root
	for _, part := range strings.Split(abs[len(a.root)+1:], "/") {
		cur += "/" + part
		fi, err := os.Lstat(cur)
		if err == nil {
			if !fi.IsDir() {
				return &os.PathError{Op: "mkdir", Path: cur, Err: fmt.Errorf("a %s is in the way", fileType(fi))}
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := a.mkdir(cur); err != nil {
			return err
		}
	}
	return nil
}

// mkdir makes one implied directory, mode 0755 whatever the umask.
func (a *applier) mkdir(abs string) error {
	if err := os.Mkdir(abs, 0o755); err != nil {
		return err
	}
	a.implicit[abs] = struct{}{}
	return chmod(abs, 0o755)
}

// fileType names the type of fi for error messages.
func fileType(fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	default:
		return "non-directory"
	}
}
