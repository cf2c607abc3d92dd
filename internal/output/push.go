package output

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/whittle-build/whittle/internal/registry"
	"github.com/whittle-build/whittle/internal/store"
)

// Push uploads the image desc from st to the registry reference dest
// ("registry.example/team/app:1"), manifest bytes unchanged so the digest
// stays desc.Digest. go-containerregistry's remote.Write does the work:
// blobs the repository has are skipped (HEAD first), so a push that was
// interrupted uploads only what is missing when retried; up to o.Jobs
// blobs go at once; and a layer that the store knows under another name in
// the same registry is mounted from that repository instead of uploaded.
// An index (a multi-platform build) goes with its images by
// remote.WriteIndex.
func Push(ctx context.Context, st *store.Store, desc v1.Descriptor, dest string, o Options) error {
	reg, err := o.registry().Prepared()
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", dest, err)
	}
	ref, err := reg.Reference(dest)
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", dest, err)
	}
	opts, err := reg.Remote(ctx)
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", dest, err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := st.Index(desc)
		if err != nil {
			return fmt.Errorf("pushing to %s: %w", dest, err)
		}
		err = remote.WriteIndex(ref, idx, opts...)
		return pushError(desc, dest, ref, err)
	}
	img, err := st.Image(desc)
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", dest, err)
	}
	sources, err := mountSources(st, reg, ref)
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", dest, err)
	}
	if len(sources) > 0 {
		img = &mountableImage{Image: img, sources: sources}
	}
	return pushError(desc, dest, ref, remote.Write(ref, img, opts...))
}

// pushError wraps the error (if any) of pushing desc to dest, saying what
// to do when the registry wants credentials.
func pushError(desc v1.Descriptor, dest string, ref name.Reference, err error) error {
	if err == nil {
		return nil
	}
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("pushing %s to %s: %w; the registry refused the credentials or wants some: log in with `whittle login %s`",
			desc.Digest, dest, err, ref.Context().RegistryStr())
	}
	return fmt.Errorf("pushing %s to %s: %w", desc.Digest, dest, err)
}

// mountSources maps layer digests to a repository of dest's registry that
// has them, as far as the store knows: every store name in that registry
// (an image pulled from it, or tagged for it) whose image holds the layer.
func mountSources(st *store.Store, reg registry.Options, dest name.Reference) (map[v1.Hash]name.Reference, error) {
	entries, err := st.List()
	if err != nil {
		return nil, err
	}
	sources := map[v1.Hash]name.Reference{}
	for _, e := range entries {
		ref, err := reg.Reference(e.Name)
		if err != nil {
			continue
		}
		if ref.Context().RegistryStr() != dest.Context().RegistryStr() ||
			ref.Context().RepositoryStr() == dest.Context().RepositoryStr() {
			continue
		}
		if !e.Descriptor.MediaType.IsImage() {
			continue
		}
		raw, err := st.ReadBlob(e.Descriptor.Digest)
		if err != nil {
			continue
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			continue
		}
		for _, l := range m.Layers {
			if _, ok := sources[l.Digest]; !ok {
				sources[l.Digest] = ref
			}
		}
	}
	return sources, nil
}

// mountableImage hands remote.Write layers that name a repository to
// mount them from, where one is known.
type mountableImage struct {
	v1.Image
	sources map[v1.Hash]name.Reference
}

var _ v1.Image = (*mountableImage)(nil)

func (m *mountableImage) wrap(l v1.Layer) v1.Layer {
	d, err := l.Digest()
	if err != nil {
		return l
	}
	if ref, ok := m.sources[d]; ok {
		return &remote.MountableLayer{Layer: l, Reference: ref}
	}
	return l
}

// Layers implements v1.Image.
func (m *mountableImage) Layers() ([]v1.Layer, error) {
	ls, err := m.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = m.wrap(l)
	}
	return out, nil
}

// LayerByDigest implements v1.Image.
func (m *mountableImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := m.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return m.wrap(l), nil
}
