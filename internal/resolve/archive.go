package resolve

import (
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// openArchive returns the image that s selects in a docker-archive tar
// (what `docker save` writes).
func openArchive(s source, ref string, want v1.Platform) (v1.Image, v1.Descriptor, error) {
	if _, err := os.Stat(s.path); err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading docker archive: %w", err)
	}
	opener := func() (io.ReadCloser, error) { return os.Open(s.path) }
	var tag *name.Tag
	switch {
	case s.tag != "":
		t, err := name.NewTag(s.tag)
		if err != nil {
			return nil, v1.Descriptor{}, fmt.Errorf("reading docker archive %s: %w", s.path, err)
		}
		tag = &t
	case s.index >= 0:
		m, err := tarball.LoadManifest(opener)
		if err != nil {
			return nil, v1.Descriptor{}, fmt.Errorf("reading docker archive %s: %w", s.path, err)
		}
		if s.index >= len(m) {
			return nil, v1.Descriptor{}, fmt.Errorf("docker archive %s holds %d images, there is no @%d", s.path, len(m), s.index)
		}
		if tags := m[s.index].RepoTags; len(tags) > 0 {
			t, err := name.NewTag(tags[0])
			if err != nil {
				return nil, v1.Descriptor{}, fmt.Errorf("reading docker archive %s: %w", s.path, err)
			}
			tag = &t
		} else if len(m) > 1 {
			return nil, v1.Descriptor{}, fmt.Errorf("docker archive %s: image @%d has no name, and an unnamed image can be read only from an archive holding one", s.path, s.index)
		}
	}
	img, err := tarball.Image(opener, tag)
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading docker archive %s: %w", s.path, err)
	}
	if _, err := checkImagePlatform(ref, img, want); err != nil {
		return nil, v1.Descriptor{}, err
	}
	d, err := imageDescriptor(img)
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading docker archive %s: %w", s.path, err)
	}
	return img, d, nil
}
