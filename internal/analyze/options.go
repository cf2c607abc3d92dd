package analyze

import "runtime"

// Options tune Analyze and hold the CI gates that Report.Gates checks. The
// zero value is valid: every field documents its default.
type Options struct {
	// Top is how many largest files and directories the report keeps.
	// Default 20.
	Top int
	// TreeDepth is how many directory levels Report.Tree keeps below "/".
	// Default 4.
	TreeDepth int

	// MaxSize fails the "max-size" gate when the image's uncompressed size
	// (Report.Size) exceeds it. 0 means no gate.
	MaxSize int64
	// MaxCompressedSize fails the "max-compressed-size" gate when the sum
	// of compressed layer sizes exceeds it. 0 means no gate.
	MaxCompressedSize int64
	// MaxWasted fails the "max-wasted" gate when Report.WastedBytes
	// exceeds it. 0 means no gate.
	MaxWasted int64
	// MinEfficiency fails the "min-efficiency" gate when Report.Efficiency
	// is below it. 0 means no gate.
	MinEfficiency float64
	// Forbid names attack-surface rules (see Rules) whose findings fail the
	// gates. Analyze rejects unknown names.
	Forbid []string

	// ReadCompressed makes Analyze read each layer's blob with
	// layer.Compressed() and decompress it itself with klauspost/compress
	// (gzip about 1.3x faster than the standard-library reader behind
	// go-containerregistry's layer.Uncompressed()). Set it when layers come
	// from stored blobs (the local store, an OCI layout, a registry). Leave
	// it off when layers are kept uncompressed (a docker-archive written by
	// docker save, tarball layers made from plain tars): their Compressed()
	// would gzip every layer first. Default false: layer.Uncompressed().
	ReadCompressed bool

	// Concurrency is how many layers are read at once. Default
	// runtime.GOMAXPROCS(0).
	Concurrency int
	// MaxBinarySize is the largest executable ELF file read for Go build
	// information. Default 256 MiB; larger binaries are not inspected.
	MaxBinarySize int64
	// TempDir holds spooled binaries larger than 32 MiB while their build
	// information is read. Default os.TempDir().
	TempDir string

	// hashContent makes the walk record a SHA-256 of every regular file;
	// Diff sets it to detect content changes.
	hashContent bool
}

const (
	defaultTop           = 20
	defaultTreeDepth     = 4
	defaultMaxBinarySize = 256 << 20
	// inMemoryBinary is the largest binary read into memory; larger ones
	// are spooled to a temporary file.
	inMemoryBinary = 32 << 20
	// smallFile is the largest file read whole to look for private keys.
	smallFile = 64 << 10
	// maxDatabase is the largest package database or passwd file kept.
	maxDatabase = 64 << 20
)

// withDefaults returns o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Top <= 0 {
		o.Top = defaultTop
	}
	if o.TreeDepth <= 0 {
		o.TreeDepth = defaultTreeDepth
	}
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.GOMAXPROCS(0)
	}
	if o.MaxBinarySize <= 0 {
		o.MaxBinarySize = defaultMaxBinarySize
	}
	return o
}
