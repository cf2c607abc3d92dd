package analyze

import (
	"archive/tar"
	"bytes"
	"io"
	"path"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// tf is one entry of a test layer.
type tf struct {
	name string // path, with or without a leading slash
	typ  byte
	body string // regular files: the content (or size bytes of 'x' when size is set)
	size int64
	mode int64
	link string
	uid  int
	gid  int
}

func file(name, body string) tf     { return tf{name: name, typ: tar.TypeReg, body: body, mode: 0o644} }
func sized(name string, n int64) tf { return tf{name: name, typ: tar.TypeReg, size: n, mode: 0o644} }
func exe(name string, n int64) tf   { return tf{name: name, typ: tar.TypeReg, size: n, mode: 0o755} }
func dir(name string) tf            { return tf{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, target string) tf {
	return tf{name: name, typ: tar.TypeSymlink, link: target, mode: 0o777}
}
func hardlink(name, target string) tf {
	return tf{name: name, typ: tar.TypeLink, link: target, mode: 0o644}
}
func whiteout(p string) tf {
	return tf{name: path.Join(path.Dir(p), ".wh."+path.Base(p)), typ: tar.TypeReg}
}
func opaque(dirPath string) tf        { return tf{name: path.Join(dirPath, ".wh..wh..opq"), typ: tar.TypeReg} }
func withMode(e tf, mode int64) tf    { e.mode = mode; return e }
func withOwner(e tf, uid, gid int) tf { e.uid, e.gid = uid, gid; return e }
func fileBytes(name string, b []byte) tf {
	return tf{name: name, typ: tar.TypeReg, body: string(b), mode: 0o755}
}

// tarOf writes entries as an uncompressed tar.
func tarOf(t testing.TB, entries ...tf) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		body := e.body
		if e.size > 0 {
			body = strings.Repeat("x", int(e.size))
		}
		hdr := &tar.Header{
			Name: strings.TrimPrefix(e.name, "/"), Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			Linkname: strings.TrimPrefix(e.link, ""), ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX,
		}
		if e.typ == tar.TypeLink {
			hdr.Linkname = strings.TrimPrefix(e.link, "/")
		}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(body))
		}
		if e.typ == tar.TypeDir && !strings.HasSuffix(hdr.Name, "/") {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := io.WriteString(tw, body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layerOf makes a layer from entries.
func layerOf(t testing.TB, entries ...tf) v1.Layer {
	t.Helper()
	b := tarOf(t, entries...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// step is one layer of a test image with the history entry that made it.
type step struct {
	createdBy string
	created   time.Time
	entries   []tf
}

// imageOf builds an image from layers (each its own history entry).
func imageOf(t testing.TB, cfg v1.Config, layers ...[]tf) v1.Image {
	t.Helper()
	var steps []step
	for i, l := range layers {
		steps = append(steps, step{createdBy: "RUN step " + string(rune('a'+i)), entries: l})
	}
	return imageOfSteps(t, cfg, steps...)
}

func imageOfSteps(t testing.TB, cfg v1.Config, steps ...step) v1.Image {
	t.Helper()
	var adds []mutate.Addendum
	for _, s := range steps {
		h := v1.History{CreatedBy: s.createdBy, Created: v1.Time{Time: s.created}}
		if s.entries == nil {
			h.EmptyLayer = true
			adds = append(adds, mutate.Addendum{History: h})
			continue
		}
		adds = append(adds, mutate.Addendum{Layer: layerOf(t, s.entries...), History: h, MediaType: types.OCILayer})
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	var err error
	for _, a := range adds {
		if a.Layer == nil {
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			cf = cf.DeepCopy()
			cf.History = append(cf.History, a.History)
			if img, err = mutate.ConfigFile(img, cf); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if img, err = mutate.Append(img, a); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config = cfg
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// countBytes reads rc to the end and closes it.
func countBytes(rc io.ReadCloser) (int64, error) {
	defer rc.Close()
	return io.Copy(io.Discard, rc)
}
