package analyze

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestWaste(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		layers                    [][]tf
		wasted, total, layerBytes int64
		files                     int // non-directory paths in the final filesystem
		symlinkParents            bool
	}{
		{
			name:   "overwrite in a later layer",
			layers: [][]tf{{sized("/a", 100)}, {sized("/a", 30)}},
			wasted: 100, total: 30, layerBytes: 130, files: 1,
		},
		{
			name:   "metadata-only change copies the file",
			layers: [][]tf{{sized("/a", 100)}, {withMode(sized("/a", 100), 0o755)}},
			wasted: 100, total: 100, layerBytes: 200, files: 1,
		},
		{
			name:   "whiteout of a file",
			layers: [][]tf{{dir("/d"), sized("/d/x", 50), sized("/d/y", 20)}, {whiteout("/d/x")}},
			wasted: 50, total: 20, layerBytes: 70, files: 1,
		},
		{
			name:   "whiteout of a directory",
			layers: [][]tf{{dir("/d"), sized("/d/x", 50), dir("/d/e"), sized("/d/e/y", 20), sized("/keep", 1)}, {whiteout("/d")}},
			wasted: 70, total: 1, layerBytes: 71, files: 1,
		},
		{
			name:   "opaque directory hides lower children only",
			layers: [][]tf{{dir("/d"), sized("/d/x", 50), sized("/d/y", 5)}, {dir("/d"), opaque("/d"), sized("/d/z", 10), sized("/d/y", 6)}},
			wasted: 55, total: 16, layerBytes: 71, files: 2,
		},
		{
			name:   "whiteout and re-add in one layer keeps the new file",
			layers: [][]tf{{sized("/a", 10)}, {whiteout("/a"), sized("/a", 3)}},
			wasted: 10, total: 3, layerBytes: 13, files: 1,
		},
		{
			name:   "same path twice in one layer",
			layers: [][]tf{{sized("/a", 10), sized("/a", 20)}},
			wasted: 10, total: 20, layerBytes: 30, files: 1,
		},
		{
			name:   "hardlinks counted once",
			layers: [][]tf{{sized("/a", 100), hardlink("/b", "/a"), hardlink("/c", "/a")}},
			wasted: 0, total: 100, layerBytes: 100, files: 3,
		},
		{
			name:   "a hardlink keeps deleted content",
			layers: [][]tf{{sized("/a", 100), hardlink("/b", "/a")}, {whiteout("/a")}},
			wasted: 0, total: 100, layerBytes: 100, files: 1,
		},
		{
			name:   "every link deleted",
			layers: [][]tf{{sized("/a", 100), hardlink("/b", "/a")}, {whiteout("/a"), whiteout("/b")}},
			wasted: 100, total: 0, layerBytes: 100, files: 0,
		},
		{
			name:   "hardlink to a lower layer's file",
			layers: [][]tf{{sized("/a", 40)}, {hardlink("/b", "/a")}, {whiteout("/a")}},
			wasted: 0, total: 40, layerBytes: 40, files: 1,
		},
		{
			name:   "file replaced by a directory",
			layers: [][]tf{{sized("/p", 40)}, {dir("/p"), sized("/p/q", 5)}},
			wasted: 40, total: 5, layerBytes: 45, files: 1,
		},
		{
			name:   "directory replaced by a file",
			layers: [][]tf{{dir("/p"), sized("/p/q", 5), sized("/p/r", 6)}, {sized("/p", 7)}},
			wasted: 11, total: 7, layerBytes: 18, files: 1,
		},
		{
			name:   "file replaced by a symlink",
			layers: [][]tf{{sized("/a", 9)}, {symlink("/a", "b")}},
			wasted: 9, total: 0, layerBytes: 9, files: 1,
		},
		{
			name:   "whiteout of a path that never existed",
			layers: [][]tf{{sized("/a", 9)}, {whiteout("/nothing"), opaque("/nodir")}},
			wasted: 0, total: 9, layerBytes: 9, files: 1,
		},
		{
			name:   "entries without parent directories",
			layers: [][]tf{{sized("/x/y/z", 3)}, {whiteout("/x/y")}},
			wasted: 3, total: 0, layerBytes: 3, files: 0,
		},
		{
			name:   "parent symlink is followed",
			layers: [][]tf{{dir("/usr"), dir("/usr/bin"), sized("/usr/bin/x", 10), symlink("/bin", "usr/bin")}, {sized("/bin/x", 4)}},
			wasted: 10, total: 4, layerBytes: 14, files: 2,
			symlinkParents: true,
		},
		{
			name:   "whiteout through a parent symlink",
			layers: [][]tf{{dir("/usr"), dir("/usr/lib"), sized("/usr/lib/big", 1000), symlink("/lib", "/usr/lib")}, {whiteout("/lib/big")}},
			wasted: 1000, total: 0, layerBytes: 1000, files: 1,
			symlinkParents: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := imageOf(t, v1.Config{User: "65532"}, tc.layers...)
			r, err := Analyze(context.Background(), img, tc.name, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.WastedBytes != tc.wasted || r.TotalFileBytes != tc.total || r.LayerFileBytes != tc.layerBytes || r.Files != tc.files {
				t.Errorf("wasted, total, layer bytes, files = %d, %d, %d, %d; want %d, %d, %d, %d",
					r.WastedBytes, r.TotalFileBytes, r.LayerFileBytes, r.Files, tc.wasted, tc.total, tc.layerBytes, tc.files)
			}
			if r.TotalFileBytes+r.WastedBytes != r.LayerFileBytes {
				t.Errorf("total %d + wasted %d != layer bytes %d", r.TotalFileBytes, r.WastedBytes, r.LayerFileBytes)
			}
			var perLayer int64
			for _, l := range r.Layers {
				perLayer += l.WastedBytes
			}
			if perLayer != r.WastedBytes {
				t.Errorf("per-layer wasted sums to %d, want %d", perLayer, r.WastedBytes)
			}
			if !tc.symlinkParents {
				lb, total, wasted := referenceCount(t, img)
				if lb != r.LayerFileBytes || total != r.TotalFileBytes || wasted != r.WastedBytes {
					t.Errorf("reference: layer bytes %d, total %d, wasted %d; analyze: %d, %d, %d", lb, total, wasted, r.LayerFileBytes, r.TotalFileBytes, r.WastedBytes)
				}
			}
		})
	}
}

func TestEfficiency(t *testing.T) {
	img := imageOf(t, v1.Config{}, []tf{sized("/a", 300), sized("/b", 100)}, []tf{whiteout("/a")})
	r, err := Analyze(context.Background(), img, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 - 300.0/400.0; r.Efficiency != want {
		t.Errorf("efficiency = %v, want %v", r.Efficiency, want)
	}
	empty := imageOf(t, v1.Config{}, []tf{dir("/d")})
	r, err = Analyze(context.Background(), empty, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Efficiency != 1 {
		t.Errorf("efficiency of an image without file bytes = %v, want 1", r.Efficiency)
	}
}

// TestWasteRandom builds images from random operations and compares every
// total with the from-scratch reference, to the byte.
func TestWasteRandom(t *testing.T) {
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			img := imageOf(t, v1.Config{}, randomLayers(rng)...)
			r, err := Analyze(context.Background(), img, "", Options{})
			if err != nil {
				t.Fatal(err)
			}
			lb, total, wasted := referenceCount(t, img)
			if lb != r.LayerFileBytes || total != r.TotalFileBytes || wasted != r.WastedBytes {
				t.Errorf("reference: layer bytes %d, total %d, wasted %d; analyze: %d, %d, %d", lb, total, wasted, r.LayerFileBytes, r.TotalFileBytes, r.WastedBytes)
			}
		})
	}
}

// randomLayers makes 2-6 layers of random adds, overwrites, hardlinks,
// whiteouts and opaque markers over a small namespace, so paths collide.
func randomLayers(rng *rand.Rand) [][]tf {
	names := []string{"/a", "/b", "/d/x", "/d/y", "/d/e/z", "/d/e/w", "/f/g", "/f"}
	dirs := []string{"/d", "/d/e", "/f"}
	var layers [][]tf
	for range 2 + rng.IntN(5) {
		var l []tf
		for range 1 + rng.IntN(8) {
			switch op := rng.IntN(10); {
			case op < 5:
				l = append(l, sized(names[rng.IntN(len(names))], 1+rng.Int64N(1000)))
			case op < 6:
				// A link to itself is degenerate (extraction tools fail on
				// it); Analyze leaves the file as it is.
				if from, to := names[rng.IntN(len(names))], names[rng.IntN(len(names))]; from != to {
					l = append(l, hardlink(from, to))
				}
			case op < 8:
				l = append(l, whiteout(names[rng.IntN(len(names))]))
			case op < 9:
				l = append(l, opaque(dirs[rng.IntN(len(dirs))]))
			default:
				l = append(l, dir(dirs[rng.IntN(len(dirs))]))
			}
		}
		layers = append(layers, l)
	}
	return layers
}
