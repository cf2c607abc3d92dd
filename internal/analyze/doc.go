// Package analyze tells where a container image's bytes and attack surface
// come from, reading a go-containerregistry v1.Image without a daemon and
// without unpacking it: each layer's tar is streamed once (layers in
// parallel), reduced to metadata, and the layers are merged in memory with
// the OCI whiteout rules.
//
// Analyze returns a Report: per-layer sizes, file counts, history and the
// base/build boundary; the largest files and directories; the packages of
// dpkg (status and distroless status.d), apk and Go binaries; the wasted
// bytes and efficiency; and attack-surface findings (Rules lists them).
// Report.Gates checks CI limits. Diff compares two images. WriteText,
// WriteJSON and WriteHTML render a report; WriteDiffText and WriteDiffJSON
// a diff. SCHEMA.md documents the JSON.
//
// # Wasted bytes and efficiency
//
// A layer's regular files are copies of content. A copy is wasted when the
// final filesystem no longer holds it: a later layer (or a later entry of
// the same layer) deleted it with a whiteout or an opaque directory, or
// replaced its path with another file, directory or link, or deleted a
// directory above it. A copy still reachable through a hardlink is kept.
// Wasted bytes are what squashing the layers into one would reclaim:
//
//	LayerFileBytes = the regular-file bytes of every layer, every copy
//	WastedBytes    = the bytes of copies absent from the final filesystem
//	TotalFileBytes = LayerFileBytes - WastedBytes
//	Efficiency     = 1 - WastedBytes/LayerFileBytes   (1 for no file bytes)
//
// This differs from dive on purpose. dive's "potential wasted space" adds
// up every copy of each path seen in more than one layer, the copy the
// image keeps included: a 10 MB file written once and chmod-ed in a later
// layer is 20 MB of waste to dive and 10 MB here. dive's efficiency score
// is the sum over paths of the smallest copy divided by the sum of all
// copies, so overwriting a file with a bigger one looks efficient and a
// deleted file whose content a hardlink still holds looks wasted. Here the
// copy the image keeps is never waste, a copy shared by hardlinks is
// counted once, and the numbers add up (TotalFileBytes + WastedBytes ==
// LayerFileBytes) and equal what unpacking the layers and counting finds.
//
// # Base and build layers
//
// whittle build records the FROM boundary in the manifest annotations
// AnnotationBaseName, AnnotationBaseDigest and AnnotationBaseLayers. For
// other images it is inferred from the config history (a time gap, the
// BuildKit "# buildkit" suffix, the base's closing CMD); Report.Base says
// which, and "unknown" when nothing fits.
package analyze
