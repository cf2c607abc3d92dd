package distroless

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// readTar lists a tar's entries as "name type linkname size".
func readTar(t testing.TB, b []byte) ([]*tar.Header, map[string]string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var hdrs []*tar.Header
	bodies := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hdrs, bodies
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		hdrs = append(hdrs, h)
		bodies[h.Name] = string(data)
	}
}

func TestTreeWrite(t *testing.T) {
	epoch := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	late := epoch.Add(time.Hour + 300*time.Millisecond)
	early := epoch.Add(-time.Hour)
	nodes := []*node{
		{name: "a-c", typeflag: tar.TypeReg, mode: 0o644, mtime: early, data: []byte("ac"), size: 2},
		{name: "a", typeflag: tar.TypeDir, mode: 0o755, mtime: late},
		{name: "a/b", typeflag: tar.TypeReg, mode: 0o4755, uid: 1000, gid: 1000, mtime: late, data: []byte("ab"), size: 2},
		{name: "z/zz", typeflag: tar.TypeReg, mode: 0o600, mtime: early, data: []byte("target"), size: 6},
		{name: "a/link", typeflag: tar.TypeLink, linkname: "z/zz", mtime: early},
		{name: "a/sym", typeflag: tar.TypeSymlink, linkname: "../a-c", mode: 0o777, mtime: early},
		{name: "x", typeflag: tar.TypeReg, mode: 0o644, mtime: early, xattrs: map[string]string{"security.capability": "\x01"}, data: nil},
	}
	write := func(order []int) []byte {
		tr := newTree()
		for _, i := range order {
			n := *nodes[i]
			tr.add(&n)
		}
		tr.addParents(early, nil)
		var b bytes.Buffer
		if err := tr.write(&b, bytes.NewReader(nil), &epoch); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	first := write([]int{0, 1, 2, 3, 4, 5, 6})
	if second := write([]int{6, 5, 4, 3, 2, 1, 0}); !bytes.Equal(first, second) {
		t.Error("the tar depends on the order nodes were added in")
	}
	hdrs, bodies := readTar(t, first)
	var names []string
	for _, h := range hdrs {
		names = append(names, h.Name)
	}
	// Depth first: a/ and its children come before a-c ('/' sorts first).
	if got, want := strings.Join(names, " "), "a/ a/b a/link a/sym a-c x z/ z/zz"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	for _, h := range hdrs {
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s has names %q/%q", h.Name, h.Uname, h.Gname)
		}
		if h.ModTime.After(epoch) || h.ModTime.Nanosecond() != 0 {
			t.Errorf("%s mtime %s not clamped to whole seconds before %s", h.Name, h.ModTime, epoch)
		}
		switch h.Name {
		case "a/b":
			if h.Mode != 0o4755 || h.Uid != 1000 || h.Format != tar.FormatUSTAR {
				t.Errorf("a/b: mode %o uid %d format %v", h.Mode, h.Uid, h.Format)
			}
		case "a/link":
			// The link sorts before its target: it holds the content, and
			// the target becomes the link.
			if h.Typeflag != tar.TypeReg || bodies["a/link"] != "target" || h.Mode != 0o600 {
				t.Errorf("a/link: %+v %q", h, bodies["a/link"])
			}
		case "z/zz":
			if h.Typeflag != tar.TypeLink || h.Linkname != "a/link" {
				t.Errorf("z/zz: type %c link %q", h.Typeflag, h.Linkname)
			}
		case "x":
			if h.PAXRecords["SCHILY.xattr.security.capability"] != "\x01" || h.Format != tar.FormatPAX {
				t.Errorf("x: %+v", h)
			}
		case "z/":
			if !h.ModTime.Equal(early) || h.Mode != 0o755 {
				t.Errorf("added parent z/: %+v", h)
			}
		}
	}
}

func TestTreeHardLinkToMissing(t *testing.T) {
	tr := newTree()
	tr.add(&node{name: "a", typeflag: tar.TypeLink, linkname: "gone"})
	if err := tr.write(io.Discard, bytes.NewReader(nil), nil); err == nil {
		t.Error("a hard link to nothing was written")
	}
}

// TestTreeSortedThenGrown checks that a tree listed (so sorted) and then
// grown, as readDeb grows a package's tree by its status.d entries, writes
// the same tar as one given every node before it is sorted.
func TestTreeSortedThenGrown(t *testing.T) {
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	first := []*node{
		{name: "usr/bin/a", typeflag: tar.TypeReg, mode: 0o755, mtime: mtime, data: []byte("a"), size: 1},
		{name: "usr/lib/b", typeflag: tar.TypeReg, mode: 0o644, mtime: mtime, data: []byte("b"), size: 1},
		{name: "var", typeflag: tar.TypeDir, mode: 0o755, mtime: mtime},
	}
	later := []*node{
		{name: "var/lib/dpkg/status.d/a", typeflag: tar.TypeReg, mode: 0o644, mtime: mtime, data: []byte("Package: a\n"), size: 11},
		{name: "usr/bin/a", typeflag: tar.TypeReg, mode: 0o700, mtime: mtime, data: []byte("a2"), size: 2}, // replaces
		{name: "usr/bin-x", typeflag: tar.TypeSymlink, mode: 0o777, mtime: mtime, linkname: "bin/a"},
		{name: "0", typeflag: tar.TypeDir, mode: 0o755, mtime: mtime},
	}
	write := func(tr *tree) []byte {
		var b bytes.Buffer
		if err := tr.write(&b, bytes.NewReader(nil), nil); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	grown := newTree()
	for _, n := range first {
		grown.add(n)
	}
	grown.addParents(mtime, nil)
	if got := len(grown.sorted()); got != 6 {
		t.Fatalf("%d nodes before growing, want 6", got)
	}
	for _, n := range later {
		grown.add(n)
	}
	grown.addParents(mtime, nil)
	whole := newTree()
	for _, n := range append(append([]*node(nil), first...), later...) {
		whole.add(n)
	}
	whole.addParents(mtime, nil)
	if a, b := write(grown), write(whole); !bytes.Equal(a, b) {
		ha, _ := readTar(t, a)
		hb, _ := readTar(t, b)
		var na, nb []string
		for _, h := range ha {
			na = append(na, h.Name)
		}
		for _, h := range hb {
			nb = append(nb, h.Name)
		}
		t.Errorf("grown after sorting:\n%s\nwant:\n%s", strings.Join(na, " "), strings.Join(nb, " "))
	}
}

// TestTreeAddParentsLower checks that parents a lower layer has are left
// out, and their missing parents added all the same.
func TestTreeAddParentsLower(t *testing.T) {
	tr := newTree()
	tr.add(&node{name: "a/b/c/file", typeflag: tar.TypeReg, mode: 0o644})
	tr.addParents(time.Unix(0, 0), func(d string) bool { return d == "a/b" })
	var names []string
	for _, n := range tr.sorted() {
		names = append(names, n.name)
	}
	if got, want := strings.Join(names, " "), "a a/b/c a/b/c/file"; got != want {
		t.Errorf("nodes %q, want %q", got, want)
	}
}
