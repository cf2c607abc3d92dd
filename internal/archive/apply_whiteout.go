package archive

import (
	"errors"
	"os"
)

// whiteout applies a ".wh." entry for the path rel.
func (a *applier) whiteout(rel string) error {
	parentRel, base := splitPath(rel)
	parent, err := a.parent(parentRel, a.opts.Overlay)
	if errors.Is(err, errNoParent) {
		return nil // nothing there to delete
	}
	if err != nil {
		return err
	}
	abs := parent + "/" + base
	if _, ok := a.written[abs]; ok {
		return nil // a whiteout never hides its own layer's files
	}
	if err := os.RemoveAll(abs); err != nil {
		return err
	}
	clear(a.parents)
	if !a.opts.Overlay {
		return nil
	}
	if err := mknod(abs, kindChar, 0, 0, 0); err != nil {
		return err
	}
	a.whitedOut[abs] = struct{}{}
	return nil
}

// opaqueDir applies a ".wh..wh..opq" entry in the directory rel, which is
// resolved like the parent of any entry.
func (a *applier) opaqueDir(rel string) error {
	abs, err := a.parent(rel, a.opts.Overlay)
	if errors.Is(err, errNoParent) {
		return nil // nothing there to hide
	}
	if err != nil {
		return err
	}
	if a.opts.Overlay {
		return setXattr(abs, a.opaque, []byte("y"))
	}
	if _, ok := a.opaqueDone[abs]; ok {
		return nil
	}
	a.opaqueDone[abs] = struct{}{}
	return a.clearLower(abs)
}

// clearLower removes everything below the directory abs that this tar did
// not write.
func (a *applier) clearLower(abs string) error {
	f, err := os.Open(abs)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		child := abs + "/" + name
		if _, ok := a.written[child]; !ok {
			if err := os.RemoveAll(child); err != nil {
				return err
			}
			clear(a.parents)
			continue
		}
		if fi, err := os.Lstat(child); err == nil && fi.IsDir() {
			if err := a.clearLower(child); err != nil {
				return err
			}
		}
	}
	return nil
}
