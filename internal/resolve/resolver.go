package resolve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/singleflight"

	"github.com/whittle-build/whittle/internal/plan"
	"github.com/whittle-build/whittle/internal/registry"
	"github.com/whittle-build/whittle/internal/store"
)

// Options configure a Resolver.
type Options struct {
	// Store is the local store images are looked up in and pulled into.
	// Image and ResolveImage need it; Open works without it.
	Store *store.Store
	// Platform is the platform to resolve for, "os/arch[/variant]"; empty
	// means DefaultPlatform (linux and the host's architecture).
	Platform string
	// Pull makes every docker name go to its registry even when the store
	// has it (docker build --pull); each name is pulled once per Resolver.
	Pull bool
	// Insecure names registries that may be reached over plain HTTP
	// (--insecure-registry); localhost and 127.0.0.1 always may. See
	// registry.Options.
	Insecure []string
	// Keychain finds registry credentials; nil means ~/.docker/config.json
	// and its credential helpers (authn.DefaultKeychain).
	Keychain authn.Keychain
	// CAFile is a PEM bundle of extra CAs to trust for registries
	// (--registry-ca); empty means the system pool only.
	CAFile string
	// Transport is the HTTP transport underneath; nil means the default.
	// See registry.Options.Transport.
	Transport http.RoundTripper
}

// Resolver finds images by reference. It is safe for concurrent use; one
// Resolver per build keeps --pull to one pull per name.
type Resolver struct {
	o Options

	group singleflight.Group

	regOnce sync.Once
	reg     registry.Options
	regErr  error

	mu     sync.Mutex
	pulled map[string]bool
}

// New returns a Resolver. Nothing is checked or read until first use.
func New(o Options) *Resolver {
	return &Resolver{o: o, pulled: map[string]bool{}}
}

// Resolved is an image in the store.
type Resolved struct {
	// Ref is the reference: the normalized name for docker names
	// ("golang:bookworm"), else as given.
	Ref string
	// Descriptor describes the image's manifest (media type, digest, size,
	// platform when known); Store.Image(Descriptor) opens it.
	Descriptor v1.Descriptor
	// Image is the image, read from the store.
	Image v1.Image
}

// Image returns the image ref names, as an image in the store. A docker
// name the store has for the platform is used without network (unless
// Options.Pull); otherwise it is pulled from its registry: blobs are
// written into the store and the name tagged. OCI layouts and docker
// archives are imported without a name. Concurrent calls for one ref do
// the work once; the first caller's ctx governs it.
func (r *Resolver) Image(ctx context.Context, ref string) (*Resolved, error) {
	return r.image(ctx, ref, r.o.Platform)
}

// ResolveImage resolves ref for platform (empty: the Resolver's) into the
// store, as Image does, and returns the digest and config that a plan
// records. It implements the frontend's image resolver.
func (r *Resolver) ResolveImage(ctx context.Context, ref, platform string) (*plan.ImageRef, error) {
	if platform == "" {
		platform = r.o.Platform
	}
	want, err := parsePlatform(platform)
	if err != nil {
		return nil, err
	}
	res, err := r.image(ctx, ref, platform)
	if err != nil {
		return nil, err
	}
	cfg, err := res.Image.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", res.Ref, err)
	}
	return &plan.ImageRef{Ref: ref, Platform: platformString(want), Digest: res.Descriptor.Digest, Config: cfg}, nil
}

func (r *Resolver) image(ctx context.Context, ref, platform string) (*Resolved, error) {
	if r.o.Store == nil {
		return nil, fmt.Errorf("resolving %s: no local store given", ref)
	}
	want, err := parsePlatform(platform)
	if err != nil {
		return nil, err
	}
	key := platformString(want) + "\x00" + ref
	ch := r.group.DoChan(key, func() (any, error) { return r.resolve(ctx, ref, want) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Resolved), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("resolving %s: %w", ref, ctx.Err())
	}
}

func (r *Resolver) resolve(ctx context.Context, ref string, want v1.Platform) (*Resolved, error) {
	src, err := parseSource(ref)
	if err != nil {
		return nil, err
	}
	var img v1.Image
	var found v1.Descriptor
	switch src.kind {
	case fromName:
		return r.resolveName(ctx, src.name, want)
	case fromLayout:
		img, found, err = openLayout(src, ref, want)
		img = configDiffIDs{img}
	case fromArchive:
		img, found, err = openArchive(src, ref, want)
		img = configDiffIDs{img}
	}
	if err != nil {
		return nil, err
	}
	desc, err := r.o.Store.WriteImage(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("importing %s into the store: %w", ref, err)
	}
	desc.Platform = found.Platform
	stored, err := r.o.Store.Image(desc)
	if err != nil {
		return nil, err
	}
	return &Resolved{Ref: ref, Descriptor: desc, Image: stored}, nil
}

// imageID matches references that can only be store image IDs.
var imageID = regexp.MustCompile(`^sha256:[0-9a-f]{12,64}$`)

func (r *Resolver) resolveName(ctx context.Context, ref string, want v1.Platform) (*Resolved, error) {
	st := r.o.Store
	if imageID.MatchString(ref) {
		desc, err := st.Lookup(ref)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w; an image ID is looked up only in the local store (whittle images)", ref, err)
		}
		res, _, err := r.fromStore(ref, desc, want)
		return res, err
	}
	n, err := store.NormalizeName(ref)
	if err != nil {
		return nil, fmt.Errorf("%w; check the name", err)
	}
	pullKey := platformString(want) + "\x00" + n
	var storePlatforms []string
	if !r.o.Pull || r.wasPulled(pullKey) {
		desc, err := st.Lookup(ref)
		switch {
		case err == nil:
			res, have, err := r.fromStore(n, desc, want)
			if err == nil {
				return res, nil
			}
			var pe *PlatformError
			if !errors.As(err, &pe) && !errors.Is(err, errNotLocal) {
				return nil, err
			}
			storePlatforms = have
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	desc, regName, err := r.pull(ctx, ref, want)
	if err != nil {
		var pe *PlatformError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, &NotFoundError{Ref: n, Registry: regName, Platform: platformString(want),
			StorePlatforms: storePlatforms, Pull: r.o.Pull, Err: err}
	}
	r.markPulled(pullKey)
	img, err := st.Image(desc)
	if err != nil {
		return nil, err
	}
	return &Resolved{Ref: n, Descriptor: desc, Image: img}, nil
}

// errNotLocal says that the store has a name's index but not the image of
// the platform asked for.
var errNotLocal = errors.New("the platform's image is not in the store")

// fromStore opens the stored image desc for want. When it does not fit,
// it returns the platforms the store has for the name.
func (r *Resolver) fromStore(ref string, desc v1.Descriptor, want v1.Platform) (*Resolved, []string, error) {
	st := r.o.Store
	if desc.MediaType.IsIndex() {
		raw, err := st.ReadBlob(desc.Digest)
		if err != nil {
			return nil, nil, fmt.Errorf("reading index %s of %s: %w", desc.Digest, ref, err)
		}
		im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, nil, fmt.Errorf("reading index %s of %s: %w", desc.Digest, ref, err)
		}
		child, err := choosePlatform(ref, im.Manifests, want)
		if err != nil {
			var pe *PlatformError
			if errors.As(err, &pe) {
				return nil, pe.Available, err
			}
			return nil, nil, err
		}
		if !child.MediaType.IsImage() || !st.HasBlob(child.Digest) {
			return nil, nil, errNotLocal
		}
		desc = manifestDescriptor(child)
	}
	img, err := st.Image(desc)
	if err != nil {
		return nil, nil, err
	}
	have, err := checkImagePlatform(ref, img, want)
	if err != nil {
		var pe *PlatformError
		if errors.As(err, &pe) {
			return nil, pe.Available, err
		}
		return nil, nil, err
	}
	desc = manifestDescriptor(desc)
	desc.Platform = have
	return &Resolved{Ref: ref, Descriptor: desc, Image: img}, nil, nil
}

// pull fetches ref's image for want from its registry into the store and
// names it: with store.TagPlatform, so that a base pulled for each platform
// of a multi-platform build keeps its other platforms' images under the
// name, the host's included (the next build without a network needs it).
// It returns the registry's name for error messages.
func (r *Resolver) pull(ctx context.Context, ref string, want v1.Platform) (v1.Descriptor, string, error) {
	reg, err := r.registry()
	if err != nil {
		return v1.Descriptor{}, "", err
	}
	nref, err := reg.Reference(ref)
	if err != nil {
		return v1.Descriptor{}, "", err
	}
	regName := nref.Context().RegistryStr()
	img, found, err := remoteImage(ctx, reg, nref, want)
	if err != nil {
		return v1.Descriptor{}, regName, err
	}
	desc, err := r.o.Store.WriteImage(ctx, img)
	if err != nil {
		return v1.Descriptor{}, regName, err
	}
	desc.Platform = found.Platform
	if err := r.o.Store.TagPlatform(ref, desc); err != nil {
		return v1.Descriptor{}, regName, err
	}
	return desc, regName, nil
}

// remoteImage returns the image for want that nref names in its registry.
// Its blobs are fetched when read.
func remoteImage(ctx context.Context, reg registry.Options, nref name.Reference, want v1.Platform) (v1.Image, v1.Descriptor, error) {
	opts, err := reg.Remote(ctx)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	rd, err := remote.Get(nref, opts...)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	switch {
	case rd.MediaType.IsIndex():
		idx, err := rd.ImageIndex()
		if err != nil {
			return nil, v1.Descriptor{}, err
		}
		return pickImage(nref.String(), idx, want)
	case rd.MediaType.IsImage():
		img, err := rd.Image()
		if err != nil {
			return nil, v1.Descriptor{}, err
		}
		have, err := checkImagePlatform(nref.String(), img, want)
		if err != nil {
			return nil, v1.Descriptor{}, err
		}
		d := manifestDescriptor(rd.Descriptor)
		d.Platform = have
		return img, d, nil
	}
	return nil, v1.Descriptor{}, fmt.Errorf("%s is a %s, which whittle cannot use as an image", nref, rd.MediaType)
}

// Open returns the image ref names without writing it into the store:
// from the store when it has the name (and Options.Pull is not set), else
// from its registry, reading blobs only when they are read, or from an OCI
// layout or docker archive.
func (r *Resolver) Open(ctx context.Context, ref string) (v1.Image, error) {
	want, err := parsePlatform(r.o.Platform)
	if err != nil {
		return nil, err
	}
	src, err := parseSource(ref)
	if err != nil {
		return nil, err
	}
	switch src.kind {
	case fromLayout:
		img, _, err := openLayout(src, ref, want)
		return img, err
	case fromArchive:
		img, _, err := openArchive(src, ref, want)
		return img, err
	}
	ref = src.name
	var storePlatforms []string
	if r.o.Store != nil && !r.o.Pull {
		desc, err := r.o.Store.Lookup(ref)
		switch {
		case err == nil:
			res, have, err := r.fromStore(ref, desc, want)
			if err == nil {
				return res.Image, nil
			}
			var pe *PlatformError
			if !errors.As(err, &pe) && !errors.Is(err, errNotLocal) {
				return nil, err
			}
			storePlatforms = have
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	if imageID.MatchString(ref) {
		return nil, fmt.Errorf("image %s: %w; an image ID is looked up only in the local store (whittle images)", ref, store.ErrNotFound)
	}
	n, err := store.NormalizeName(ref)
	if err != nil {
		return nil, fmt.Errorf("%w; check the name", err)
	}
	reg, err := r.registry()
	if err != nil {
		return nil, err
	}
	nref, err := reg.Reference(ref)
	if err != nil {
		return nil, err
	}
	img, _, err := remoteImage(ctx, reg, nref, want)
	if err != nil {
		var pe *PlatformError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, &NotFoundError{Ref: n, Registry: nref.Context().RegistryStr(), Platform: platformString(want),
			StorePlatforms: storePlatforms, Pull: r.o.Pull, Err: err}
	}
	return img, nil
}

// registry returns the registry options, with the transport built once.
func (r *Resolver) registry() (registry.Options, error) {
	r.regOnce.Do(func() {
		r.reg, r.regErr = registry.Options{
			Insecure:  r.o.Insecure,
			Keychain:  r.o.Keychain,
			CAFile:    r.o.CAFile,
			Transport: r.o.Transport,
		}.Prepared()
	})
	return r.reg, r.regErr
}

func (r *Resolver) wasPulled(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pulled[key]
}

func (r *Resolver) markPulled(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pulled[key] = true
}
