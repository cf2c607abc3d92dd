// Package archive reads and writes the tar streams that container image
// layers are made of.
//
// It does three jobs and knows nothing about images or registries:
//
//   - WriteDir turns a directory in overlayfs format (an overlay upper dir,
//     or an unpacked snapshot) into a deterministic, uncompressed OCI layer
//     tar: sorted entries, numeric owners, second-precision mtimes clamped
//     to SOURCE_DATE_EPOCH, overlay whiteouts and opaque directories
//     converted to OCI ".wh." entries.
//   - Apply unpacks an uncompressed layer tar into a directory, safely:
//     every name is resolved inside the directory, so a hostile tar can
//     neither escape it with ".." or absolute names nor write through a
//     symlink it planted. Whiteouts are either applied (flattening layers
//     into one plain directory) or kept in overlayfs format, so the result
//     can serve as an overlay lower dir. Apply returns the sha256 digest and
//     size of the stream it read, the layer's diffID.
//   - Compress and Decompress wrap streams in gzip (parallel, deterministic)
//     or zstd, and recognise gzip, zstd, bzip2 and xz input by its magic.
//
// Walk iterates over the entries of a (possibly compressed) layer with
// whiteouts decoded, for readers that only look at a layer. Flatten writes
// what a stack of layers makes, whiteouts applied, as one tar.
//
// # Snapshot directory format
//
// A directory in overlayfs format marks a deleted path with a character
// device 0/0 of the deleted name, and an opaque directory (one that hides
// everything lower layers put in it) with the extended attribute
// trusted.overlay.opaque=y, or user.overlay.opaque=y when overlayfs is
// mounted with userxattr (rootless). WriteDir reads this format and
// Apply with ApplyOptions.Overlay writes it.
//
// Overlay upper dirs must come from mounts with redirect_dir and metacopy
// off: a redirected directory or a metadata-only copy-up cannot be
// represented in a layer, and WriteDir refuses them.
package archive
