package archive

import "fmt"

// Xattr is an extended attribute of a file.
type Xattr struct {
	Name  string
	Value []byte
}

// Xattrs returns the extended attributes of path (not following a final
// symlink) that a layer keeps, sorted by name: not overlayfs's own, nor
// security.selinux (a label of the host). A file system without them has
// none.
func Xattrs(path string) ([]Xattr, error) {
	// Most files have none: asking for the size first spares them the
	// scratch buffer (COPY and the context checksum ask for every file).
	size, err := xattrListSize(path)
	if err != nil || size == 0 {
		return nil, err
	}
	buf := make([]byte, size)
	attrs, err := listXattrs(path, &buf)
	if err != nil {
		return nil, err
	}
	var out []Xattr
	for _, a := range attrs {
		if !keptXattr(a.name) {
			continue
		}
		out = append(out, Xattr{Name: a.name, Value: a.value})
	}
	return out, nil
}

// CopyXattrs gives dst the extended attributes of src that a layer keeps
// (Xattrs), as BuildKit's COPY does. Like BuildKit, it goes on past an
// attribute it may not set (security.* or trusted.* without privilege,
// user.* on a symlink, a file system without them): a copy is not failed
// for an attribute. The owner must be set before: chown clears
// security.capability.
func CopyXattrs(dst, src string) error {
	attrs, err := Xattrs(src)
	if err != nil {
		return fmt.Errorf("copying extended attributes of %s: %w", src, err)
	}
	for _, a := range attrs {
		_ = setXattr(dst, a.Name, a.Value)
	}
	return nil
}

// keptXattr reports whether a layer keeps the extended attribute name:
// not overlayfs's own, nor security.selinux, a label of the host.
func keptXattr(name string) bool {
	return !isOverlayXattr(name) && name != "security.selinux"
}
