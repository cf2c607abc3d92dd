package store

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A name in the store points to an image, or to an index of one image per
// platform: the result of a multi-platform build, or a base pulled for
// several platforms (TagPlatform). Commands that need one image take the
// host's from an index (PlatformImage).

// HostPlatform is the platform whittle runs images of: linux and the
// architecture it was built for.
func HostPlatform() v1.Platform { return v1.Platform{OS: "linux", Architecture: runtime.GOARCH} }

// TagPlatform names desc, an image for desc.Platform, ref, keeping the
// images of other platforms that ref names: ref then names an index of one
// image per platform (made in the store), or desc alone when it names
// nothing else. A base pulled for each platform of a multi-platform build
// so stays under its name for all of them, the host's included. desc's
// platform is its Platform, else its config's; without one, or for an
// index, it is Tag.
func (s *Store) TagPlatform(ref string, desc v1.Descriptor) error {
	if !desc.MediaType.IsImage() {
		return s.Tag(ref, desc)
	}
	mine := s.platformEntries(desc)
	if len(mine) == 0 {
		return s.Tag(ref, desc) // no platform to tell it by
	}
	desc = mine[0]
	cur, err := s.Lookup(ref)
	if errors.Is(err, ErrNotFound) {
		return s.Tag(ref, desc)
	}
	if err != nil {
		return err
	}
	// Two processes tagging one name at once may each miss the other's
	// platform (the last index wins); neither loses the name.
	var keep []v1.Descriptor
	for _, d := range s.platformEntries(cur) {
		if !SamePlatform(*d.Platform, *desc.Platform) {
			keep = append(keep, d)
		}
	}
	if len(keep) == 0 {
		return s.Tag(ref, desc)
	}
	idx, err := s.WriteIndex(append(keep, desc), nil)
	if err != nil {
		return err
	}
	return s.Tag(ref, idx)
}

// platformEntries are the images desc stands for, each with its platform:
// desc itself (its platform from its config when the entry lacks one), or
// the images of the index desc that the store has.
func (s *Store) platformEntries(desc v1.Descriptor) []v1.Descriptor {
	if desc.MediaType.IsImage() {
		d := desc
		d.Annotations = nil
		if d.Platform == nil {
			img, err := s.Image(d)
			if err != nil {
				return nil
			}
			cfg, err := img.ConfigFile()
			if err != nil || cfg.Architecture == "" {
				return nil
			}
			d.Platform = cfg.Platform()
		}
		return []v1.Descriptor{d}
	}
	images, _ := s.IndexImages(desc)
	return images
}

// IndexImages returns the entries of the index desc that are images with a
// platform and in the store; complete says that they are all of its
// entries (and there is at least one).
func (s *Store) IndexImages(desc v1.Descriptor) (images []v1.Descriptor, complete bool) {
	raw, err := s.ReadBlob(desc.Digest)
	if err != nil {
		return nil, false
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, false
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.MediaType.IsImage() && s.HasBlob(d.Digest) {
			images = append(images, d)
		}
	}
	return images, len(images) > 0 && len(images) == len(im.Manifests)
}

// PlatformImage returns the image desc names for want (nil: the host's):
// desc itself when it is an image, else the entry of the index desc for
// want, which must be in the store.
func (s *Store) PlatformImage(desc v1.Descriptor, want *v1.Platform) (v1.Image, v1.Descriptor, error) {
	if !desc.MediaType.IsIndex() {
		img, err := s.Image(desc)
		return img, desc, err
	}
	w := HostPlatform()
	if want != nil {
		w = *want
	}
	var have []string
	for _, d := range s.platformEntries(desc) {
		have = append(have, d.Platform.String())
		if Satisfies(*d.Platform, w) {
			img, err := s.Image(d)
			return img, d, err
		}
	}
	if len(have) == 0 {
		have = []string{"none"}
	}
	return nil, v1.Descriptor{}, fmt.Errorf("index %s has no %s image in the store (it has %s)", desc.Digest, w, strings.Join(have, ", "))
}

// SamePlatform says whether a and b are one platform: os, architecture
// and variant, as containerd normalizes them (arm64 is arm64/v8, arm is
// arm/v7, aarch64 is arm64).
func SamePlatform(a, b v1.Platform) bool {
	na, nb := NormalizePlatform(a), NormalizePlatform(b)
	return na.OS == nb.OS && na.Architecture == nb.Architecture && na.Variant == nb.Variant
}

// Satisfies says whether an image for have serves a request for want: the
// same os and architecture, and the same variant when want names one,
// after containerd's normalization (go-containerregistry's Satisfies on
// normalized platforms).
func Satisfies(have, want v1.Platform) bool {
	return NormalizePlatform(have).Satisfies(NormalizePlatform(want))
}

// NormalizePlatform is containerd's platforms.Normalize, the one BuildKit
// uses: arm64 is arm64/v8, arm is arm/v7, amd64/v1 is amd64, aarch64 is
// arm64.
func NormalizePlatform(p v1.Platform) v1.Platform {
	n := platforms.Normalize(ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant})
	p.OS, p.Architecture, p.Variant = n.OS, n.Architecture, n.Variant
	return p
}
