package testutil

import (
	"errors"
	"io/fs"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// RefNameAnnotation is the index annotation that names an image in an OCI
// image layout, as skopeo's oci:DIR:NAME and whittle's store use it.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// WriteOCILayout adds img to the OCI image layout in dir (created if needed),
// named refName in index.json, for tests of code that reads layouts.
func WriteOCILayout(t testing.TB, img v1.Image, dir, refName string) {
	t.Helper()
	if err := AppendOCILayout(img, dir, refName); err != nil {
		t.Fatal(err)
	}
}

// AppendOCILayout adds img to the OCI image layout in dir, creating the layout
// when dir holds none, with refName as its ref.name annotation. It uses
// go-containerregistry's layout package, which writes in place: fine for
// fixtures and exports, not for a store that must survive a crash.
func AppendOCILayout(img v1.Image, dir, refName string) error {
	p, err := layout.FromPath(dir)
	if errors.Is(err, fs.ErrNotExist) {
		idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
		p, err = layout.Write(dir, idx)
	}
	if err != nil {
		return err
	}
	var opts []layout.Option
	if refName != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{RefNameAnnotation: refName}))
	}
	return p.AppendImage(img, opts...)
}
