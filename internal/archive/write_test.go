package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/whittle-build/whittle/internal/testutil"
)

// capNetRaw is a security.capability value (revision 2, effective)
// granting CAP_NET_RAW.
func capNetRaw() string {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], 0x02000001)
	binary.LittleEndian.PutUint32(b[4:], 1<<13)
	return string(b)
}

// richTree is a tree with one of everything a layer can hold. Parts that
// need root are added only as root.
func richTree() []node {
	long := strings.Repeat("d", 120)
	old := time.Date(1990, 1, 2, 3, 4, 5, 0, time.UTC)
	nodes := []node{
		dirNode("a", 0o755),
		file("a/one", "shared content", 0o644),
		hardlink("a/two", "a/one"),
		dirNode("bin", 0o755),
		file("bin/suid", "#!/bin/sh\n", 0o4755),
		file("bin/sgid", "#!/bin/sh\n", 0o2755),
		file("big", "", 0o644),
		file("empty", "", 0o600),
		dirNode("empty-dir", 0o700),
		dirNode("sticky", 0o1777),
		dirNode("setgid-dir", 0o2775),
		{path: "fifo", kind: kindFifo, mode: 0o640, uid: -1, mtime: testTime},
		{path: "sock", kind: kindSocket, uid: -1},
		symlink("lnk-rel", "bin/suid"),
		symlink("lnk-abs", "/etc/passwd"),
		symlink("dangling", "../../nowhere"),
		file("ünïcødé.txt", "utf-8", 0o644),
		dirNode(long, 0o755),
		file(long+"/"+strings.Repeat("f", 150), "long path", 0o644),
		{path: "old", kind: kindRegular, data: "1990", mode: 0o444, uid: -1, mtime: old},
		{path: "xattr", kind: kindRegular, data: "x", mode: 0o644, uid: -1, mtime: testTime,
			xattrs: map[string]string{"user.whittle.note": "hello", "user.whittle.bin": "\x00\x01\xff"}},
		dirNode("z", 0o750),
		hardlink("z/three", "a/one"),
	}
	nodes[6].size = 2<<20 + 123
	if isRoot() {
		nodes = append(nodes,
			node{path: "owned", kind: kindRegular, data: "o", mode: 0o640, uid: 1234, gid: 5678, mtime: testTime},
			node{path: "owned-dir", kind: kindDir, mode: 0o755, uid: 4321, gid: 8765, mtime: testTime},
			node{path: "owned-link", kind: kindSymlink, target: "owned", uid: 99, gid: 98, mtime: testTime},
			node{path: "null", kind: kindChar, mode: 0o666, major: 1, minor: 3, uid: -1, mtime: testTime},
			node{path: "loop", kind: kindBlock, mode: 0o660, major: 7, minor: 0, uid: -1, mtime: testTime},
			node{path: "bin/ping", kind: kindRegular, data: "ping", mode: 0o755, uid: -1, mtime: testTime,
				xattrs: map[string]string{"security.capability": capNetRaw()}},
		)
	}
	return nodes
}

func writeDir(t testing.TB, dir string, opts WriteOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteDir(context.Background(), &buf, dir, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func apply(t testing.TB, dir string, data []byte, opts ApplyOptions) {
	t.Helper()
	if _, _, err := Apply(context.Background(), dir, bytes.NewReader(data), opts); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	src := t.TempDir()
	build(t, src, richTree())
	layer := writeDir(t, src, WriteOptions{})

	dst := t.TempDir()
	apply(t, dst, layer, ApplyOptions{NoChown: !isRoot(), NoDevices: !isRoot()})

	want := describe(t, src)
	delete(want, "sock") // sockets are not archived
	got := describe(t, dst)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tree after WriteDir → Apply differs (-want +got):\n%s", diff)
	}

	// Applying is idempotent, and writing the copy gives the same bytes.
	apply(t, dst, layer, ApplyOptions{NoChown: !isRoot(), NoDevices: !isRoot()})
	if again := writeDir(t, dst, WriteOptions{}); !bytes.Equal(again, layer) {
		t.Errorf("WriteDir of the applied copy differs from the original layer")
	}
}

func TestWriteDirHeaders(t *testing.T) {
	src := t.TempDir()
	build(t, src, richTree())
	headers := readTar(t, writeDir(t, src, WriteOptions{}))
	byName := make(map[string]*tar.Header)
	for _, h := range headers {
		byName[h.Name] = h
		if strings.HasPrefix(h.Name, "/") || strings.HasPrefix(h.Name, "./") {
			t.Errorf("%s: name is not relative", h.Name)
		}
		if (h.Typeflag == tar.TypeDir) != strings.HasSuffix(h.Name, "/") {
			t.Errorf("%s: type %q and trailing slash disagree", h.Name, h.Typeflag)
		}
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: uname/gname %q/%q, want numeric ids only", h.Name, h.Uname, h.Gname)
		}
		if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: has atime/ctime", h.Name)
		}
		if h.ModTime.Nanosecond() != 0 {
			t.Errorf("%s: mtime %v is not whole seconds", h.Name, h.ModTime)
		}
		_, hasXattr := h.PAXRecords[paxXattrPrefix+"user.whittle.note"]
		needsPAX := len(h.Name) > 100 || h.Name == "ünïcødé.txt" || hasXattr ||
			h.Name == "bin/ping"
		if wantFormat := map[bool]tar.Format{false: tar.FormatUSTAR, true: tar.FormatPAX}[needsPAX]; h.Format != wantFormat {
			t.Errorf("%s: format %v, want %v", h.Name, h.Format, wantFormat)
		}
	}
	for i := 1; i < len(headers); i++ {
		prev, cur := strings.TrimSuffix(headers[i-1].Name, "/"), strings.TrimSuffix(headers[i].Name, "/")
		if parent := filepath.Dir(cur); parent != "." {
			if _, ok := byName[parent+"/"]; !ok {
				t.Errorf("%s: parent directory has no entry", cur)
			}
		}
		if prev == cur {
			t.Errorf("%s: duplicate entry", cur)
		}
	}
	if _, ok := byName["sock"]; ok {
		t.Errorf("socket was archived")
	}
	checks := []struct {
		name     string
		typeflag byte
		linkname string
		mode     int64
	}{
		{"a/one", tar.TypeReg, "", 0o644},
		{"a/two", tar.TypeLink, "a/one", 0o644},
		{"z/three", tar.TypeLink, "a/one", 0o644},
		{"bin/suid", tar.TypeReg, "", 0o4755},
		{"bin/sgid", tar.TypeReg, "", 0o2755},
		{"sticky/", tar.TypeDir, "", 0o1777},
		{"setgid-dir/", tar.TypeDir, "", 0o2775},
		{"fifo", tar.TypeFifo, "", 0o640},
		{"lnk-abs", tar.TypeSymlink, "/etc/passwd", 0o777},
		{"dangling", tar.TypeSymlink, "../../nowhere", 0o777},
	}
	for _, c := range checks {
		h, ok := byName[c.name]
		if !ok {
			t.Errorf("%s: missing", c.name)
			continue
		}
		if h.Typeflag != c.typeflag || h.Linkname != c.linkname || h.Mode != c.mode {
			t.Errorf("%s: type %q link %q mode %o, want %q %q %o", c.name, h.Typeflag, h.Linkname, h.Mode, c.typeflag, c.linkname, c.mode)
		}
	}
	if got := byName["xattr"].PAXRecords[paxXattrPrefix+"user.whittle.bin"]; got != "\x00\x01\xff" {
		t.Errorf("binary xattr written as %q", got)
	}
	if isRoot() {
		if h := byName["owned"]; h.Uid != 1234 || h.Gid != 5678 {
			t.Errorf("owned: uid/gid %d/%d, want 1234/5678", h.Uid, h.Gid)
		}
		if h := byName["null"]; h.Typeflag != tar.TypeChar || h.Devmajor != 1 || h.Devminor != 3 {
			t.Errorf("null: %q %d/%d, want char 1/3", h.Typeflag, h.Devmajor, h.Devminor)
		}
		if h := byName["loop"]; h.Typeflag != tar.TypeBlock || h.Devmajor != 7 || h.Devminor != 0 {
			t.Errorf("loop: %q %d/%d, want block 7/0", h.Typeflag, h.Devmajor, h.Devminor)
		}
		if got := byName["bin/ping"].PAXRecords[paxXattrPrefix+"security.capability"]; got != capNetRaw() {
			t.Errorf("security.capability written as %x", got)
		}
	}
}

func TestWriteDirDeterministic(t *testing.T) {
	nodes := richTree()
	a := t.TempDir()
	build(t, a, nodes)
	first := writeDir(t, a, WriteOptions{})
	if again := writeDir(t, a, WriteOptions{}); !bytes.Equal(first, again) {
		t.Fatal("two WriteDir of one tree differ")
	}

	// The same tree made in another order (other inode numbers, other
	// directory order on disk) gives the same bytes.
	reversed := make([]node, 0, len(nodes))
	for i := len(nodes) - 1; i >= 0; i-- {
		if nodes[i].kind == kindDir {
			reversed = append([]node{nodes[i]}, reversed...) // parents still first
		} else {
			reversed = append(reversed, nodes[i])
		}
	}
	// Hard links must follow their target; the link target "a/one" comes
	// before its links in this order only if we put it there.
	var targets, rest []node
	for _, n := range reversed {
		if n.path == "a/one" {
			targets = append(targets, n)
		} else {
			rest = append(rest, n)
		}
	}
	var dirs, others []node
	for _, n := range rest {
		if n.kind == kindDir {
			dirs = append(dirs, n)
		} else {
			others = append(others, n)
		}
	}
	order := append(append(dirs, targets...), others...)
	b := t.TempDir()
	build(t, b, order)
	if second := writeDir(t, b, WriteOptions{}); !bytes.Equal(first, second) {
		t.Errorf("a tree made in another order gives other bytes:\nfirst:  %q\nsecond: %q", tarNames(t, first), tarNames(t, second))
	}
}

func TestWriteDirEpoch(t *testing.T) {
	before := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	epoch := time.Date(2020, 2, 2, 2, 2, 2, 500, time.UTC)
	after := time.Date(2030, 1, 1, 0, 0, 0, 999, time.UTC)
	src := t.TempDir()
	build(t, src, []node{
		{path: "before", kind: kindRegular, data: "b", mode: 0o644, uid: -1, mtime: before},
		{path: "after", kind: kindRegular, data: "a", mode: 0o644, uid: -1, mtime: after},
		{path: "sub", kind: kindDir, mode: 0o755, uid: -1, mtime: after},
		{path: "sub/link", kind: kindSymlink, target: "x", uid: -1, mtime: after},
	})
	want := map[string]time.Time{
		"before":   before,
		"after":    epoch.Truncate(time.Second),
		"sub/":     epoch.Truncate(time.Second),
		"sub/link": epoch.Truncate(time.Second),
	}
	for _, h := range readTar(t, writeDir(t, src, WriteOptions{Epoch: &epoch})) {
		if !h.ModTime.Equal(want[h.Name]) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime.UTC(), want[h.Name])
		}
	}
	// Without an epoch, times are the files' own, in whole seconds.
	for _, h := range readTar(t, writeDir(t, src, WriteOptions{})) {
		if h.Name != "before" && !h.ModTime.Equal(after.Truncate(time.Second)) {
			t.Errorf("%s: mtime %v without epoch, want %v", h.Name, h.ModTime.UTC(), after.Truncate(time.Second))
		}
	}
}

// TestWriteDirGolden pins the exact bytes of a small layer: any change to
// header encoding, order or padding changes every image digest whittle
// makes, and must be deliberate.
func TestWriteDirGolden(t *testing.T) {
	testutil.RequireRoot(t) // the owners must be 0:0 whoever runs the test
	src := t.TempDir()
	own := func(n node) node { n.uid, n.gid = 0, 0; return n }
	build(t, src, []node{
		own(dirNode("etc", 0o755)),
		own(file("etc/hostname", "whittle\n", 0o644)),
		own(dirNode("usr", 0o755)),
		own(dirNode("usr/bin", 0o755)),
		own(file("usr/bin/hello", "#!/bin/sh\necho hello\n", 0o755)),
		own(symlink("bin", "usr/bin")),
		own(hardlink("usr/bin/hi", "usr/bin/hello")),
	})
	layer := writeDir(t, src, WriteOptions{})
	wantNames := []string{"bin", "etc/", "etc/hostname", "usr/", "usr/bin/", "usr/bin/hello", "usr/bin/hi"}
	if diff := cmp.Diff(wantNames, tarNames(t, layer)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	sum := sha256.Sum256(layer)
	const golden = "a4e052d0cbca5c499caa80e94da5096041b1c4e39fc606bc366b872932c2ed9d"
	if got := hex.EncodeToString(sum[:]); got != golden {
		t.Errorf("layer digest sha256:%s, want sha256:%s (%d bytes)", got, golden, len(layer))
	}
}

func TestWriteDirCancel(t *testing.T) {
	src := t.TempDir()
	build(t, src, richTree())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := WriteDir(ctx, &bytes.Buffer{}, src, WriteOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("WriteDir with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestWriteDirNotADirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(context.Background(), &bytes.Buffer{}, p, WriteOptions{}); err == nil {
		t.Error("WriteDir of a regular file succeeded")
	}
	if err := WriteDir(context.Background(), &bytes.Buffer{}, p+"-missing", WriteOptions{}); err == nil {
		t.Error("WriteDir of a missing path succeeded")
	}
}
