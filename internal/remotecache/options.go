package remotecache

import (
	"time"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/progress"
	"github.com/whittle-build/whittle/internal/registry"
)

// Options configure exports and imports.
type Options struct {
	// Registry says how registries are reached: TLS, plain HTTP,
	// credentials, parallel transfers. The zero value is usable.
	Registry registry.Options
	// Compression of layers an export compresses (those without a blob in
	// the store), unless the Spec says otherwise. Default gzip.
	Compression archive.Compression
	// Epoch is the build's SOURCE_DATE_EPOCH: layers compressed from their
	// snapshots must be written as they were when their diffIDs were computed.
	Epoch *time.Time
	// Progress receives what the cache does, as vertices. Default discard.
	Progress *progress.Recorder
}

func (o Options) progress() *progress.Recorder {
	if o.Progress == nil {
		return progress.NewRecorder(nil)
	}
	return o.Progress
}

func (o Options) jobs() int {
	if o.Registry.Jobs > 0 {
		return o.Registry.Jobs
	}
	return registry.DefaultJobs
}
