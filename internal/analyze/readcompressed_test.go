package analyze

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestReadCompressed checks that decompressing blobs ourselves gives the
// same report as layer.Uncompressed() for gzip, zstd and uncompressed
// blobs.
func TestReadCompressed(t *testing.T) {
	entries := [][]tf{
		{dir("/etc"), file("/etc/passwd", "nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"), sized("/big", 300_000), exe("/bin/sh", 100)},
		{whiteout("/big"), sized("/etc/new", 10)},
	}
	gz := func(t *testing.T, b []byte) v1.Layer {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	zst := func(t *testing.T, b []byte) v1.Layer {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
			tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	plain := func(t *testing.T, b []byte) v1.Layer { return static.NewLayer(b, types.OCIUncompressedLayer) }
	for name, mk := range map[string]func(*testing.T, []byte) v1.Layer{"gzip": gz, "zstd": zst, "none": plain} {
		t.Run(name, func(t *testing.T) {
			img := empty.Image
			for _, e := range entries {
				var err error
				if img, err = mutate.AppendLayers(img, mk(t, tarOf(t, e...))); err != nil {
					t.Fatal(err)
				}
			}
			want, err := Analyze(context.Background(), img, "x", Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := Analyze(context.Background(), img, "x", Options{ReadCompressed: true})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ReadCompressed changed the report (-want +got):\n%s", diff)
			}
			if got.WastedBytes != 300_000 || got.Layers[0].Size == 0 {
				t.Errorf("wasted %d, layer 0 size %d", got.WastedBytes, got.Layers[0].Size)
			}
		})
	}
}
