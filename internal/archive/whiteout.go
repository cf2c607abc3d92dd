package archive

import "strings"

// OCI layer whiteout names (image-spec layer.md, "Whiteouts").
const (
	// WhiteoutPrefix starts the base name of an entry that deletes the
	// path named by the rest of the base name from lower layers.
	WhiteoutPrefix = ".wh."
	// WhiteoutMetaPrefix starts names with a special meaning that are not
	// deletions (aufs kept its bookkeeping under it).
	WhiteoutMetaPrefix = WhiteoutPrefix + WhiteoutPrefix
	// WhiteoutOpaqueDir is the base name of an entry that makes its
	// directory opaque: everything lower layers put in it is hidden.
	WhiteoutOpaqueDir = WhiteoutMetaPrefix + ".opq"
)

// Overlay extended attributes.
const (
	// OverlayOpaqueXattr marks an opaque directory in an overlay mounted as
	// root. It is the default of WriteOptions.OpaqueXattr and
	// ApplyOptions.OpaqueXattr.
	OverlayOpaqueXattr = "trusted.overlay.opaque"
	// UserOverlayOpaqueXattr marks an opaque directory in an overlay
	// mounted with userxattr (rootless).
	UserOverlayOpaqueXattr = "user.overlay.opaque"
)

// isOverlayXattr reports whether name belongs to overlayfs itself. Such
// attributes are never written to a layer and never taken from one: a tar
// that could set trusted.overlay.redirect or metacopy would steer the
// overlay mount it ends up in.
func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

// Whiteout says what kind of whiteout a layer entry is.
type Whiteout uint8

const (
	// NotWhiteout is an ordinary entry.
	NotWhiteout Whiteout = iota
	// WhiteoutFile deletes the path it names from lower layers.
	WhiteoutFile
	// WhiteoutOpaque hides what lower layers put in the directory it names.
	WhiteoutOpaque
	// WhiteoutMeta is other ".wh..wh." bookkeeping, without meaning in OCI
	// layers; readers skip it.
	WhiteoutMeta
)

// classifyWhiteout tells what the entry with the cleaned relative path rel
// means, and the path it acts on: the deleted path of a file whiteout, the
// directory of an opaque marker, rel itself otherwise. ok is false for a
// whiteout that names nothing (".wh.", ".wh..", ".wh...").
func classifyWhiteout(rel string) (w Whiteout, target string, ok bool) {
	parent, base := splitPath(rel)
	if !strings.HasPrefix(base, WhiteoutPrefix) {
		return NotWhiteout, rel, true
	}
	switch {
	case base == WhiteoutOpaqueDir:
		return WhiteoutOpaque, parent, true
	case strings.HasPrefix(base, WhiteoutMetaPrefix):
		return WhiteoutMeta, rel, true
	}
	name := base[len(WhiteoutPrefix):]
	if name == "" || name == "." || name == ".." {
		return WhiteoutFile, "", false
	}
	return WhiteoutFile, joinPath(parent, name), true
}
