package output

import (
	"errors"
	"fmt"
	"io/fs"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/whittle-build/whittle/internal/store"
)

// writeLayoutDir adds img (a v1.Image, or a v1.ImageIndex: a
// multi-platform result) to the OCI image layout in dir, creating it when
// dir holds none. Each name gets an index entry annotated with the full
// name and the tag, replacing an entry of the same name; other images stay.
// Without names, one unnamed entry is added unless the image is listed.
func writeLayoutDir(dir string, img layoutEntry, names []string) error {
	p, err := layout.FromPath(dir)
	if errors.Is(err, fs.ErrNotExist) {
		p, err = layout.Write(dir, mutate.IndexMediaType(empty.Index, types.OCIImageIndex))
	}
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	if len(names) == 0 {
		d, err := img.Digest()
		if err != nil {
			return fmt.Errorf("writing OCI layout %s: %w", dir, err)
		}
		if err := replace(p, img, func(desc v1.Descriptor) bool { return desc.Digest == d }); err != nil {
			return fmt.Errorf("writing OCI layout %s: %w", dir, err)
		}
		return nil
	}
	for _, n := range names {
		ann, _, err := nameAnnotations(n)
		if err != nil {
			return err
		}
		full, tag := ann[ContainerdNameAnnotation], ann[store.RefNameAnnotation]
		sameName := func(desc v1.Descriptor) bool {
			a := desc.Annotations
			if a[ContainerdNameAnnotation] != "" {
				return a[ContainerdNameAnnotation] == full
			}
			return tag != "" && a[store.RefNameAnnotation] == tag
		}
		if err := replace(p, img, sameName, layout.WithAnnotations(ann)); err != nil {
			return fmt.Errorf("writing OCI layout %s: %w", dir, err)
		}
	}
	return nil
}

// layoutEntry is what an OCI layout's index.json entry points to.
type layoutEntry interface {
	Digest() (v1.Hash, error)
}

// replace writes e into p, dropping the entries m matches.
func replace(p layout.Path, e layoutEntry, m match.Matcher, opts ...layout.Option) error {
	switch e := e.(type) {
	case v1.Image:
		return p.ReplaceImage(e, m, opts...)
	case v1.ImageIndex:
		return p.ReplaceIndex(e, m, opts...)
	}
	return fmt.Errorf("%T is neither an image nor an index", e)
}
