package output

import (
	"errors"
	"fmt"
	"io/fs"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/whittle-build/whittle/internal/store"
)

// writeLayoutDir adds img to the OCI image layout in dir, creating it when
// dir holds none. Each name gets an index entry annotated with the full
// name and the tag, replacing an entry of the same name; other images stay.
// Without names, one unnamed entry is added unless the image is listed.
func writeLayoutDir(dir string, img v1.Image, names []string) error {
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
		if err := p.ReplaceImage(img, func(desc v1.Descriptor) bool { return desc.Digest == d }); err != nil {
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
		if err := p.ReplaceImage(img, sameName, layout.WithAnnotations(ann)); err != nil {
			return fmt.Errorf("writing OCI layout %s: %w", dir, err)
		}
	}
	return nil
}
