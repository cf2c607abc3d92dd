package analyze

// SchemaVersion is the version of the JSON report written by WriteJSON and
// WriteDiffJSON. It changes only when a field is removed or changes meaning;
// new fields may appear without a bump.
const SchemaVersion = 1

// Report is what Analyze learns about one image. Its JSON form is the
// documented schema (see SCHEMA.md); the text and HTML renderers read the
// same values.
type Report struct {
	// SchemaVersion is SchemaVersion at the time the report was made.
	SchemaVersion int `json:"schemaVersion"`
	// Image names the analysed image.
	Image ImageRef `json:"image"`
	// Platform is "os/architecture[/variant]" from the image config.
	Platform string `json:"platform,omitempty"`
	// User is the config's User ("" means root).
	User string `json:"user"`
	// ExposedPorts lists the config's exposed ports ("8080/tcp").
	ExposedPorts []string `json:"exposedPorts"`

	// CompressedSize is the sum of the layers' compressed sizes: what a
	// pull transfers, not counting the manifest and config.
	CompressedSize int64 `json:"compressedSize"`
	// Size is the sum of the layers' uncompressed tar sizes.
	Size int64 `json:"size"`
	// LayerFileBytes is the sum of regular-file bytes over every layer,
	// every copy counted: the denominator of Efficiency.
	LayerFileBytes int64 `json:"layerFileBytes"`
	// TotalFileBytes is the regular-file bytes in the final filesystem,
	// each hardlinked file counted once. TotalFileBytes + WastedBytes ==
	// LayerFileBytes.
	TotalFileBytes int64 `json:"totalFileBytes"`
	// Files is the number of non-directory paths in the final filesystem.
	Files int `json:"files"`
	// WastedBytes is the regular-file bytes that a squash would reclaim:
	// bytes of file copies later deleted or overwritten. See Efficiency.
	WastedBytes int64 `json:"wastedBytes"`
	// Efficiency is 1 - WastedBytes/LayerFileBytes (1 when the layers hold
	// no file bytes).
	Efficiency float64 `json:"efficiency"`

	// Base describes the FROM boundary between base and build layers.
	Base Base `json:"base"`
	// Layers lists the layers bottom-up.
	Layers []Layer `json:"layers"`
	// LargestFiles are the Top largest regular files of the final
	// filesystem, largest first.
	LargestFiles []PathSize `json:"largestFiles"`
	// LargestDirs are the Top directories holding the most bytes (whole
	// subtree), largest first; "/" is left out.
	LargestDirs []PathSize `json:"largestDirs"`
	// Tree is the final filesystem's bytes by directory, pruned to the
	// entries that matter (see Options.TreeDepth); each file's bytes are
	// counted once, under its first path in lexical order.
	Tree *TreeNode `json:"tree"`
	// Packages lists the packages found in package databases and Go
	// binaries, sorted by bytes, largest first.
	Packages []Package `json:"packages"`
	// Findings lists the attack-surface findings, most severe first.
	Findings []Finding `json:"findings"`
	// Notes are plain-language remarks about how the report was made
	// (an inferred boundary, an unreadable database, a malformed layer).
	Notes []string `json:"notes"`
}

// ImageRef names an image by digest and by the reference the caller used.
type ImageRef struct {
	// Digest is the manifest digest ("sha256:...").
	Digest string `json:"digest"`
	// Ref is the reference the caller passed to Analyze, as given.
	Ref string `json:"ref"`
}

// Base is the FROM boundary: how many leading layers came from the base
// image and how that number was found.
type Base struct {
	// Name is the base image reference, when known.
	Name string `json:"name,omitempty"`
	// Digest is the base image manifest digest, when known.
	Digest string `json:"digest,omitempty"`
	// Layers is the number of leading layers that belong to the base.
	Layers int `json:"layers"`
	// Source says where Layers came from: "annotation" (whittle build
	// recorded it), "inferred" (see Method), or "unknown" (no base found:
	// Layers is 0 and every layer counts as built).
	Source string `json:"source"`
	// Method names the inference heuristic when Source is "inferred":
	// "buildkit-suffix", "base-cmd", "created-gap".
	Method string `json:"method,omitempty"`
}

// Layer is one layer of the image.
type Layer struct {
	// Index is the layer's position, 0 at the bottom.
	Index int `json:"index"`
	// Digest is the compressed blob digest.
	Digest string `json:"digest"`
	// DiffID is the digest of the uncompressed tar.
	DiffID string `json:"diffId"`
	// MediaType is the layer's media type.
	MediaType string `json:"mediaType,omitempty"`
	// CompressedSize is the blob size.
	CompressedSize int64 `json:"compressedSize"`
	// Size is the uncompressed tar stream size, padding included.
	Size int64 `json:"size"`
	// Files counts the non-directory entries the layer adds (regular
	// files, hardlinks, symlinks, devices), whiteouts excluded.
	Files int `json:"files"`
	// Whiteouts counts the layer's whiteout entries (opaque markers
	// included).
	Whiteouts int `json:"whiteouts"`
	// FileBytes is the regular-file bytes in this layer.
	FileBytes int64 `json:"fileBytes"`
	// WastedBytes is the part of FileBytes that is deleted or overwritten
	// later (or within this layer) and so absent from the final
	// filesystem.
	WastedBytes int64 `json:"wastedBytes"`
	// CreatedBy is the history entry that made the layer.
	CreatedBy string `json:"createdBy"`
	// FromBase is true when the layer belongs to the base image.
	FromBase bool `json:"fromBase"`
}

// PathSize is a path and the regular-file bytes under it.
type PathSize struct {
	// Path is absolute.
	Path string `json:"path"`
	// Bytes is the file's size or the directory subtree's total.
	Bytes int64 `json:"bytes"`
	// Files is the number of regular files counted in Bytes.
	Files int `json:"files"`
}

// TreeNode is a directory (or a file, when Children is empty) in Report.Tree.
type TreeNode struct {
	// Name is the last path element ("/" at the root; "…" for the
	// entries pruned away from a directory).
	Name string `json:"name"`
	// Bytes is the regular-file bytes under this node.
	Bytes int64 `json:"bytes"`
	// Files is the number of regular files under this node.
	Files int `json:"files"`
	// Children are the node's kept entries, largest first.
	Children []*TreeNode `json:"children,omitempty"`
}

// Package is one package found in the final filesystem.
type Package struct {
	// Name is the package name (a Go module path for "go-module").
	Name string `json:"name"`
	// Version is the package version ("(devel)" for an unversioned Go main
	// module).
	Version string `json:"version"`
	// Bytes is the regular-file bytes of the package's files present in
	// the final filesystem, each file once. A Go binary's bytes go to its
	// main module; its dependency modules have Bytes 0.
	Bytes int64 `json:"bytes"`
	// Type is "deb", "apk" or "go-module".
	Type string `json:"type"`
	// Source is the database or binary the package was read from
	// ("/var/lib/dpkg/status", "/var/lib/dpkg/status.d/tzdata",
	// "/lib/apk/db/installed", "/app/server").
	Source string `json:"source"`
	// Files is the number of the package's files present in the final
	// filesystem (0 for Go modules).
	Files int `json:"files"`
}

// Finding is one attack-surface observation.
type Finding struct {
	// Rule is the stable rule name (see Rules).
	Rule string `json:"rule"`
	// Severity is "high", "medium", "low" or "info".
	Severity string `json:"severity"`
	// Path is the file, or the config field ("config:User",
	// "config:ExposedPorts") for findings about the config.
	Path string `json:"path"`
	// Verdict says what was found, in a short sentence.
	Verdict string `json:"verdict"`
	// Advice says what to do about it.
	Advice string `json:"advice"`
}
