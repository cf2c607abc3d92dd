package build

import (
	"github.com/whittle-build/whittle/internal/progress"
	"github.com/whittle-build/whittle/internal/registry"
	"github.com/whittle-build/whittle/internal/remotecache"
)

// cacheOptions are the options of the build's --cache-from and --cache-to.
func cacheOptions(o Options, rec *progress.Recorder) remotecache.Options {
	return remotecache.Options{
		Registry:    registry.Options{Insecure: o.Insecure, CAFile: o.RegistryCA},
		Compression: o.Compression,
		Epoch:       o.Epoch,
		Progress:    rec,
	}
}
