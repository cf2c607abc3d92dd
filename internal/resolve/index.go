package resolve

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// pickImage returns the image for want among the entries of idx, walking
// into nested indexes.
func pickImage(ref string, idx v1.ImageIndex, want v1.Platform) (v1.Image, v1.Descriptor, error) {
	for depth := 0; depth < 4; depth++ {
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, v1.Descriptor{}, fmt.Errorf("reading the index of %s: %w", ref, err)
		}
		d, err := choosePlatform(ref, im.Manifests, want)
		if err != nil {
			return nil, v1.Descriptor{}, err
		}
		if d.MediaType.IsIndex() {
			if idx, err = idx.ImageIndex(d.Digest); err != nil {
				return nil, v1.Descriptor{}, fmt.Errorf("reading the index of %s: %w", ref, err)
			}
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, v1.Descriptor{}, fmt.Errorf("reading image %s of %s: %w", d.Digest, ref, err)
		}
		return img, manifestDescriptor(d), nil
	}
	return nil, v1.Descriptor{}, fmt.Errorf("reading %s: indexes nested too deep", ref)
}

// checkImagePlatform returns a *PlatformError when img's config declares a
// platform other than want; an image that declares none fits any.
func checkImagePlatform(ref string, img v1.Image, want v1.Platform) (*v1.Platform, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", ref, err)
	}
	have := cfg.Platform()
	if have == nil {
		return nil, nil
	}
	if matchPlatform(*have, want) == 0 {
		return have, &PlatformError{Ref: ref, Want: platformString(want), Available: []string{platformString(*have)}}
	}
	return have, nil
}

// imageDescriptor describes img's manifest.
func imageDescriptor(img v1.Image) (v1.Descriptor, error) {
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	n, err := img.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: n}, nil
}

// manifestDescriptor keeps what identifies a manifest: media type, digest,
// size and platform; annotations of the index entry are dropped.
func manifestDescriptor(d v1.Descriptor) v1.Descriptor {
	return v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, Platform: d.Platform}
}
