package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// flattenLayers flattens the layer tars (lowest first) under prefix.
func flattenLayers(t testing.TB, layers [][]byte, prefix string) ([]byte, error) {
	t.Helper()
	open := make([]Opener, len(layers))
	for i, l := range layers {
		open[i] = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(l)), nil }
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := Flatten(context.Background(), tw, open, prefix); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), nil
}

// makeLayers makes a layer tar of each entry list.
func makeLayers(t testing.TB, entries [][]tarEntry) [][]byte {
	t.Helper()
	layers := make([][]byte, len(entries))
	for i, e := range entries {
		layers[i] = makeTar(t, e...)
	}
	return layers
}

// listTar lists a tar's entries in order: "dir/", "file=content",
// "link->target", "hardlink=>target".
func listTar(t testing.TB, data []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, hdr.Name+"="+string(b))
		case tar.TypeSymlink:
			out = append(out, hdr.Name+"->"+hdr.Linkname)
		case tar.TypeLink:
			out = append(out, hdr.Name+"=>"+hdr.Linkname)
		default:
			out = append(out, hdr.Name)
		}
	}
}

var flattenTests = []struct {
	name   string
	layers [][]tarEntry
	want   []string // sorted
}{
	{"one layer, names cleaned, no root entry",
		[][]tarEntry{{dirEntry("./"), dirEntry("./d/"), reg("./d/f", "1"), linkEntry("./d/g", "./d/f"), symEntry("/l", "d/f")}},
		[]string{"d/", "d/f=1", "d/g=>d/f", "l->d/f"}},
	{"upper file wins",
		[][]tarEntry{{reg("a", "1"), reg("b", "2")}, {reg("a", "3")}},
		[]string{"a=3", "b=2"}},
	{"whiteouts",
		[][]tarEntry{{reg("a", "1"), dirEntry("d/"), reg("d/x", "2"), dirEntry("e/"), reg("e/y", "3")}, {reg(".wh.a", ""), reg(".wh.d", ""), reg("e/.wh.y", "")}},
		[]string{"e/"}},
	{"opaque directory",
		[][]tarEntry{{dirEntry("d/"), reg("d/old", "1")}, {dirEntry("d/"), reg("d/.wh..wh..opq", ""), reg("d/new", "2")}, {reg("d/top", "3")}},
		[]string{"d/", "d/new=2", "d/top=3"}},
	{"opaque root",
		[][]tarEntry{{reg("a", "1"), dirEntry("d/")}, {reg(".wh..wh..opq", ""), reg("z", "2")}},
		[]string{"z=2"}},
	{"directory named twice in a layer",
		[][]tarEntry{{dirEntry("d/"), reg("d/old", "1")}, {dirEntry("d/"), reg("d/new", "2"), dirEntry("d/")}},
		[]string{"d/", "d/new=2", "d/old=1"}},
	{"file replaces directory",
		[][]tarEntry{{dirEntry("d/"), dirEntry("d/sub/"), reg("d/sub/f", "1")}, {reg("d", "2")}},
		[]string{"d=2"}},
	{"directory replaces directory after a whiteout",
		[][]tarEntry{{dirEntry("d/"), reg("d/f", "1")}, {reg(".wh.d", ""), dirEntry("d/"), reg("d/g", "2")}},
		[]string{"d/", "d/g=2"}},
	{"directory replaces file",
		[][]tarEntry{{reg("a", "1")}, {dirEntry("a/"), reg("a/b", "2")}},
		[]string{"a/", "a/b=2"}},
	{"whiteout of its own layer's file",
		[][]tarEntry{{reg("n", "1")}, {reg("n", "2"), reg(".wh.n", "")}},
		[]string{"n=2"}},
	{"hard links kept",
		[][]tarEntry{{reg("x", "old"), linkEntry("y", "x")}, {reg("other", "1")}},
		[]string{"other=1", "x=old", "y=>x"}},
	{"hard link target replaced above",
		[][]tarEntry{{reg("x", "old"), linkEntry("y", "x"), linkEntry("z", "x")}, {reg("x", "new")}},
		[]string{"x=new", "y=old", "z=>y"}},
	{"hard link target deleted above",
		[][]tarEntry{{reg("x", "old"), linkEntry("y", "x")}, {reg(".wh.x", "")}},
		[]string{"y=old"}},
	{"hard link target in a deleted directory",
		[][]tarEntry{{dirEntry("d/"), reg("d/x", "old"), linkEntry("y", "d/x")}, {reg(".wh.d", "")}},
		[]string{"y=old"}},
	{"hard link target and one link replaced above",
		[][]tarEntry{{reg("x", "old"), linkEntry("y", "x"), linkEntry("z", "x")}, {reg("y", "new"), reg(".wh.x", "")}},
		[]string{"y=new", "z=old"}},
	{"hard link to a lower layer's file",
		[][]tarEntry{{reg("x", "old")}, {linkEntry("y", "x")}},
		[]string{"x=old", "y=old"}},
	{"directories implied by their entries",
		[][]tarEntry{{dirEntry("a/"), reg("a/b/c/f", "1")}, {reg("p/q", "2")}},
		[]string{"a/", "a/b/", "a/b/c/", "a/b/c/f=1", "p/", "p/q=2"}},
}

func TestFlatten(t *testing.T) {
	for _, tt := range flattenTests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := flattenLayers(t, makeLayers(t, tt.layers), "")
			if err != nil {
				t.Fatal(err)
			}
			got := listTar(t, out)
			slices.Sort(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFlattenMatchesApply checks Flatten against Apply, which unpacks the
// same layers one by one: the two trees must be the same.
func TestFlattenMatchesApply(t *testing.T) {
	for _, tt := range flattenTests {
		t.Run(tt.name, func(t *testing.T) {
			applied, flat := t.TempDir(), t.TempDir()
			layers := makeLayers(t, tt.layers)
			for _, l := range layers {
				apply(t, applied, l, ApplyOptions{NoChown: true})
			}
			out, err := flattenLayers(t, layers, "")
			if err != nil {
				t.Fatal(err)
			}
			apply(t, flat, out, ApplyOptions{NoChown: true})
			if diff := cmp.Diff(listTree(t, applied, OverlayOpaqueXattr), listTree(t, flat, OverlayOpaqueXattr)); diff != "" {
				t.Errorf("flattened tree (-applied +flattened):\n%s", diff)
			}
		})
	}
}

func TestFlattenPrefix(t *testing.T) {
	layers := [][]byte{
		makeTar(t, dirEntry("d/"), reg("d/x", "old"), linkEntry("d/y", "d/x"), reg("e/f", "1")),
		makeTar(t, reg("d/x", "new")),
	}
	out, err := flattenLayers(t, layers, "linux_amd64")
	if err != nil {
		t.Fatal(err)
	}
	got := listTar(t, out)
	slices.Sort(got)
	want := []string{"linux_amd64/d/", "linux_amd64/d/x=new", "linux_amd64/d/y=old", "linux_amd64/e/", "linux_amd64/e/f=1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

func TestFlattenErrors(t *testing.T) {
	tests := []struct {
		name   string
		layers [][]tarEntry
		want   string
	}{
		{"hard link to nothing", [][]tarEntry{{reg("a", "1")}, {linkEntry("y", "x")}}, `hard link "y": its target "x" is in no layer`},
		{"hard link to a directory", [][]tarEntry{{dirEntry("d/")}, {linkEntry("y", "d")}}, `hard link "y": its target "d" is a directory`},
		{"escaping name", [][]tarEntry{{reg("../x", "1")}}, "leaves the root"},
		{"escaping hard link", [][]tarEntry{{linkEntry("y", "../x")}}, "leaves the root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := flattenLayers(t, makeLayers(t, tt.layers), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Flatten: %v, want an error with %q", err, tt.want)
			}
		})
	}
	open := []Opener{func() (io.ReadCloser, error) { return nil, errors.New("gone") }}
	if err := Flatten(context.Background(), tar.NewWriter(io.Discard), open, ""); err == nil || !strings.Contains(err.Error(), "layer 1: gone") {
		t.Errorf("Flatten of a layer that does not open: %v", err)
	}
}

// FuzzFlatten puts arbitrary bytes as a layer on a fixed lower one and
// checks Flatten against Apply of the two layers in turn: both trees must
// be the same. Layers whose meaning differs between unpacking one by one
// and a merged view are left out (plainLayer).
func FuzzFlatten(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	// Replaced and deleted targets of the lower layer's hard links.
	f.Add(makeTar(f, reg("x", "new"), reg("d/.wh.f", "")))
	f.Add(makeTar(f, reg(".wh.d", ""), reg("d", "file")))
	f.Add(makeTar(f, reg(".wh..wh..opq", ""), reg("z", "1")))
	lower := makeTar(f, dirEntry("d/"), reg("d/f", "1"), linkEntry("d/h", "d/f"), dirEntry("d/sub/"), reg("d/sub/g", "2"), reg("x", "3"), linkEntry("y", "x"))
	lowerFiles := map[string]bool{"d/f": true, "d/h": true, "d/sub/g": true, "x": true, "y": true}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !plainLayer(data, lowerFiles) {
			return
		}
		applied, flat := t.TempDir(), t.TempDir()
		t.Cleanup(func() { makeRemovable(applied); makeRemovable(flat) })
		ctx := context.Background()
		opts := ApplyOptions{NoChown: true, NoDevices: true}
		apply(t, applied, lower, opts)
		if _, _, err := Apply(ctx, applied, bytes.NewReader(data), opts); err != nil {
			return
		}
		out, err := flattenLayers(t, [][]byte{lower, data}, "")
		if err != nil {
			t.Fatalf("Flatten of layers that apply: %v", err)
		}
		if _, _, err := Apply(ctx, flat, bytes.NewReader(out), opts); err != nil {
			t.Fatalf("applying Flatten's tar: %v\nentries: %q", err, listTar(t, out))
		}
		if diff := cmp.Diff(listTree(t, applied, OverlayOpaqueXattr), listTree(t, flat, OverlayOpaqueXattr)); diff != "" {
			t.Fatalf("flattened tree (-applied +flattened):\n%s", diff)
		}
	})
}

// plainLayer reports whether the layer tar in data reads to its end and
// has none of what Apply and Flatten take differently: symlinks (Apply
// writes through them, Flatten does not follow them), a name given twice
// (Apply keeps the last, Flatten the first), a path below one of the
// layer's or lowerFiles' non-directories, or a device number too large for
// any tar format.
func plainLayer(data []byte, lowerFiles map[string]bool) bool {
	files := maps.Clone(lowerFiles)
	seen := map[string]bool{}
	var paths []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil || hdr.Typeflag == tar.TypeSymlink {
			return false
		}
		if (hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock) && (hdr.Devmajor > 0o7777777 || hdr.Devminor > 0o7777777) {
			return false // Apply skips devices here; no tar format holds such numbers
		}
		rel, err := CleanPath(hdr.Name)
		if err != nil || seen[rel] {
			return false
		}
		seen[rel] = true
		if _, base := splitPath(rel); !strings.HasPrefix(base, WhiteoutPrefix) && hdr.Typeflag != tar.TypeDir {
			files[rel] = true
		}
		paths = append(paths, rel)
	}
	for _, p := range paths {
		for d, _ := splitPath(p); d != ""; d, _ = splitPath(d) {
			if files[d] {
				return false
			}
		}
	}
	return true
}
