// Package snapshot makes writable root filesystems over read-only layer
// directories and turns what was written into a new layer directory.
//
// Layers are directories in overlayfs format: a deleted path is a character
// device 0/0 (a whiteout), and a directory that hides everything below it
// in lower layers (an opaque directory) has the extended attribute
// trusted.overlay.opaque="y" (user.overlay.opaque in a user namespace,
// where trusted.* attributes cannot be set).
//
// The lifecycle, in containerd's vocabulary: a Snapshotter prepares an
// active snapshot over an ordered list of lower layers (top-most first);
// its Root is written to (a RUN, a COPY); Commit ends it and hands over the
// changes as a new layer directory in the same format, or Release throws
// everything away. Either way the snapshot's mounts are gone afterwards.
//
// Two implementations share the contract and one conformance test suite:
// NewOverlay mounts overlayfs (fast, needs the privilege to mount), NewCopy
// copies the layers into a plain directory and computes the changes by
// comparing it with them on Commit (works anywhere).
package snapshot
