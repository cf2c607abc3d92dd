package remotecache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/whittle-build/whittle/internal/registry"
)

// registryLocation keeps the cache under a tag of a registry repository,
// through go-containerregistry with internal/registry's TLS, plain-HTTP
// and credential policy. One pusher and one puller serve every request,
// so that the registry's token is fetched once.
type registryLocation struct {
	ref    name.Reference
	reg    registry.Options
	pusher *remote.Pusher
	puller *remote.Puller
}

var _ location = (*registryLocation)(nil)

func newRegistryLocation(ctx context.Context, s string, reg registry.Options) (*registryLocation, error) {
	reg, err := reg.Prepared()
	if err != nil {
		return nil, err
	}
	ref, err := reg.Reference(s)
	if err != nil {
		return nil, err
	}
	opts, err := reg.Remote(ctx)
	if err != nil {
		return nil, err
	}
	l := &registryLocation{ref: ref, reg: reg}
	if l.pusher, err = remote.NewPusher(opts...); err != nil {
		return nil, err
	}
	if l.puller, err = remote.NewPuller(opts...); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *registryLocation) writeBlob(ctx context.Context, desc v1.Descriptor, open func() (io.ReadCloser, error)) error {
	layer, err := partial.CompressedToLayer(&blobCore{desc: desc, open: open})
	if err != nil {
		return err
	}
	// Upload asks the registry first (HEAD) and uploads only a blob it lacks.
	if err := l.pusher.Upload(ctx, l.ref.Context(), layer); err != nil {
		return l.explain(fmt.Errorf("uploading %s to %s: %w", desc.Digest, l.ref.Context(), err))
	}
	return nil
}

func (l *registryLocation) putManifest(ctx context.Context, raw []byte, mt types.MediaType) error {
	if err := l.pusher.Put(ctx, l.ref, &rawManifest{raw: raw, mt: mt}); err != nil {
		return l.explain(fmt.Errorf("writing the cache manifest to %s: %w", l.ref, err))
	}
	return nil
}

func (l *registryLocation) manifest(ctx context.Context) ([]byte, error) {
	d, err := l.puller.Get(ctx, l.ref)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%s: %w", l.ref, ErrNoCache)
		}
		return nil, l.explain(fmt.Errorf("reading the cache manifest %s: %w", l.ref, err))
	}
	return d.Manifest, nil
}

func (l *registryLocation) blob(ctx context.Context, desc v1.Descriptor) (io.ReadCloser, error) {
	layer, err := l.puller.Layer(ctx, l.ref.Context().Digest(desc.Digest.String()))
	if err != nil {
		return nil, l.explain(fmt.Errorf("fetching %s from %s: %w", desc.Digest, l.ref.Context(), err))
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, l.explain(fmt.Errorf("fetching %s from %s: %w", desc.Digest, l.ref.Context(), err))
	}
	return rc, nil
}

// explain adds what to do to an error the registry gave for credentials.
func (l *registryLocation) explain(err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%w; the registry refused the credentials or wants some: log in with `whittle login %s`", err, l.ref.Context().RegistryStr())
	}
	return err
}

// blobCore is a blob to upload: partial turns it into a v1.Layer.
type blobCore struct {
	desc v1.Descriptor
	open func() (io.ReadCloser, error)
}

var _ partial.CompressedLayer = (*blobCore)(nil)

func (b *blobCore) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *blobCore) Size() (int64, error)                { return b.desc.Size, nil }
func (b *blobCore) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *blobCore) Compressed() (io.ReadCloser, error)  { return b.open() }

// rawManifest is a manifest to PUT, bytes as given.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

var _ remote.Taggable = (*rawManifest)(nil)

func (m *rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m *rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }
