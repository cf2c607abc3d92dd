package analyze

import (
	"archive/tar"
	"io"
	"path"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// referenceCount computes the layers' regular-file bytes, the final
// filesystem's regular-file bytes (hardlinks once) and the wasted bytes
// from scratch: it reads every layer tar itself and applies the layers one
// by one to a flat map of paths, deleting subtrees by prefix. It shares no
// code with the package, and does not follow symlinks in parent paths (test
// images given to it have none).
func referenceCount(t testing.TB, img v1.Image) (layerBytes, total, wasted int64) {
	t.Helper()
	type inode struct{ size int64 }
	type ent struct {
		dir   bool
		inode *inode
	}
	paths := map[string]*ent{}
	del := func(p string) {
		delete(paths, p)
		for q := range paths {
			if strings.HasPrefix(q, p+"/") {
				delete(paths, q)
			}
		}
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var hdrs []*tar.Header
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			h.Name = path.Clean("/" + h.Name)
			hdrs = append(hdrs, h)
		}
		rc.Close()
		// Whiteouts first: they delete lower paths only.
		for _, h := range hdrs {
			base := path.Base(h.Name)
			switch {
			case base == ".wh..wh..opq":
				d := path.Dir(h.Name)
				for q := range paths {
					if strings.HasPrefix(q, strings.TrimSuffix(d, "/")+"/") {
						delete(paths, q)
					}
				}
			case strings.HasPrefix(base, ".wh."):
				del(path.Join(path.Dir(h.Name), strings.TrimPrefix(base, ".wh.")))
			}
		}
		for _, h := range hdrs {
			if strings.HasPrefix(path.Base(h.Name), ".wh.") || h.Name == "/" {
				continue
			}
			p := h.Name
			if old, ok := paths[p]; ok {
				if old.dir && h.Typeflag == tar.TypeDir {
					continue
				}
				del(p)
			}
			var ancestors []string
			for a := path.Dir(p); a != "/"; a = path.Dir(a) {
				ancestors = append([]string{a}, ancestors...)
			}
			for _, a := range ancestors { // top-down
				if e, ok := paths[a]; ok && !e.dir {
					del(a)
				}
				if _, ok := paths[a]; !ok {
					paths[a] = &ent{dir: true}
				}
			}
			switch h.Typeflag {
			case tar.TypeDir:
				paths[p] = &ent{dir: true}
			case tar.TypeReg:
				layerBytes += h.Size
				paths[p] = &ent{inode: &inode{size: h.Size}}
			case tar.TypeLink:
				target := paths[path.Clean("/"+h.Linkname)]
				if target == nil || target.dir {
					paths[p] = &ent{inode: &inode{}}
				} else {
					paths[p] = &ent{inode: target.inode}
				}
			default:
				paths[p] = &ent{}
			}
		}
	}
	seen := map[*inode]bool{}
	for _, e := range paths {
		if e.inode != nil && !seen[e.inode] {
			seen[e.inode] = true
			total += e.inode.size
		}
	}
	return layerBytes, total, layerBytes - total
}
