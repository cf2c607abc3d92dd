package compat

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layerOf makes an uncompressed layer of entries: "name" a file whose
// content is its name, "name/" a directory, "name->target" a symlink,
// "name=>target" a hard link, ".wh." names whiteouts.
func layerOf(t *testing.T, entries ...string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e, Mode: 0o644, Typeflag: tar.TypeReg}
		var body string
		switch {
		case strings.HasSuffix(e, "/"):
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case strings.Contains(e, "=>"):
			name, target, _ := strings.Cut(e, "=>")
			h.Name, h.Linkname, h.Typeflag = name, target, tar.TypeLink
		case strings.Contains(e, "->"):
			name, target, _ := strings.Cut(e, "->")
			h.Name, h.Linkname, h.Typeflag, h.Mode = name, target, tar.TypeSymlink, 0o777
		default:
			body = e
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer)
}

// summary prints a tree as path → "type [content or target] [links]".
func summary(tr tree) map[string]string {
	links := tr.hardlinks()
	out := map[string]string{}
	for p, n := range tr {
		s := n.typ
		switch n.typ {
		case "file":
			s += " " + n.digest[:8]
		case "symlink":
			s += " " + n.link
		}
		if l := links[p]; len(l) > 0 {
			s += " =" + strings.Join(l, ",")
		}
		out[p] = s
	}
	return out
}

func TestFlatten(t *testing.T) {
	digest := func(content string) string {
		n, err := newInode(&tar.Header{Typeflag: tar.TypeReg}, strings.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		return n.digest[:8]
	}
	tests := []struct {
		name   string
		layers [][]string
		want   map[string]string
	}{
		{
			name:   "files, dirs, links; ./ prefixes",
			layers: [][]string{{"./a/", "./a/f", "a/l->f", "a/h=>a/f"}},
			want: map[string]string{"/a": "dir", "/a/f": "file " + digest("./a/f") + " =/a/h",
				"/a/h": "file " + digest("./a/f") + " =/a/f", "/a/l": "symlink f"},
		},
		{
			name:   "whiteouts delete from lower layers, with children",
			layers: [][]string{{"a/", "a/f", "a/g", "d/", "d/x"}, {"a/.wh.f", "a/h", ".wh.d"}},
			want:   map[string]string{"/a": "dir", "/a/g": "file " + digest("a/g"), "/a/h": "file " + digest("a/h")},
		},
		{
			name:   "an opaque directory hides the lower layers' children, not its own layer's",
			layers: [][]string{{"d/", "d/old", "d/sub/", "d/sub/x"}, {"d/", "d/.wh..wh..opq", "d/new"}},
			want:   map[string]string{"/d": "dir", "/d/new": "file " + digest("d/new")},
		},
		{
			name:   "a file replaces a directory and its children",
			layers: [][]string{{"p/", "p/c"}, {"p"}},
			want:   map[string]string{"/p": "file " + digest("p")},
		},
		{
			name:   "a replaced file leaves its old hard link alone",
			layers: [][]string{{"x", "y=>x"}, {"x"}},
			want:   map[string]string{"/x": "file " + digest("x"), "/y": "file " + digest("x")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := empty.Image
			for _, l := range tc.layers {
				var err error
				if img, err = mutate.AppendLayers(img, layerOf(t, l...)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := flatten(img)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, summary(got)); d != "" {
				t.Errorf("flattened (-want +got):\n%s", d)
			}
		})
	}
}

func TestFlattenBrokenHardLink(t *testing.T) {
	img, err := mutate.AppendLayers(empty.Image, layerOf(t, "h=>missing"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flatten(img); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("flatten of a link to nothing: %v, want an error naming the target", err)
	}
}
