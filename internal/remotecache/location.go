package remotecache

import (
	"context"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/whittle-build/whittle/internal/registry"
)

// ErrNoCache is returned when the location holds no cache yet.
var ErrNoCache = errors.New("no cache there yet")

// location is where a cache artifact is kept. Blobs are written before the
// manifest that names them, so a reader never sees a manifest whose blobs
// are missing.
type location interface {
	// writeBlob stores the blob desc, reading it from open, unless the
	// location has it already.
	writeBlob(ctx context.Context, desc v1.Descriptor, open func() (io.ReadCloser, error)) error
	// putManifest stores the manifest raw (of media type mt) and points
	// the location's name at it.
	putManifest(ctx context.Context, raw []byte, mt types.MediaType) error
	// manifest returns the manifest the name points at, or an error
	// wrapping ErrNoCache.
	manifest(ctx context.Context) ([]byte, error)
	// blob opens the blob desc. The caller verifies what it reads.
	blob(ctx context.Context, desc v1.Descriptor) (io.ReadCloser, error)
}

// open returns the location spec names.
func (s Spec) open(ctx context.Context, reg registry.Options) (location, error) {
	switch s.Type {
	case TypeRegistry:
		return newRegistryLocation(ctx, s.Ref, reg)
	case TypeLocal:
		tag := s.Tag
		if tag == "" {
			tag = DefaultTag
		}
		return &layoutLocation{dir: s.Dir, tag: tag}, nil
	}
	return nil, fmt.Errorf("cache type %q: want registry or local", s.Type)
}
