package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/whittle-build/whittle/internal/testutil"
)

// listTree lists a tree compactly: "dir/", "dir/ (opaque)", "file=content",
// "link->target", "name (whiteout)", "name (char 1/3)".
func listTree(t testing.TB, root, opaqueXattr string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		st, err := lstat(p)
		if err != nil {
			return err
		}
		switch {
		case st.kind == kindDir:
			s := rel + "/"
			if v, err := getXattr(p, opaqueXattr); err == nil && string(v) == "y" {
				s += " (opaque)"
			}
			out = append(out, s)
		case st.kind == kindRegular:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out = append(out, rel+"="+string(data))
		case st.kind == kindSymlink:
			target, _ := os.Readlink(p)
			out = append(out, rel+"->"+target)
		case st.isWhiteout():
			out = append(out, rel+" (whiteout)")
		case st.kind == kindChar:
			out = append(out, fmt.Sprintf("%s (char %d/%d)", rel, st.major, st.minor))
		default:
			out = append(out, fmt.Sprintf("%s (kind %d)", rel, st.kind))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestApplyDigest(t *testing.T) {
	layer := makeTar(t, dirEntry("d/"), reg("d/f", "hello"))
	// Readers must hash everything, padding after the end marker included.
	input := append(append([]byte{}, layer...), make([]byte, 10240)...)
	sum := sha256.Sum256(input)
	digest, size, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(input), ApplyOptions{NoChown: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := "sha256:" + hex.EncodeToString(sum[:]); digest != want || size != int64(len(input)) {
		t.Errorf("Apply = %s, %d; want %s, %d", digest, size, want, len(input))
	}

	// An empty stream is an empty layer.
	digest, size, err = Apply(context.Background(), t.TempDir(), bytes.NewReader(nil), ApplyOptions{})
	if err != nil || size != 0 || digest != "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("Apply of nothing = %s, %d, %v", digest, size, err)
	}
}

func TestApplyFlatten(t *testing.T) {
	lower := []node{
		file("a", "1", 0o644),
		file("b", "2", 0o644),
		dirNode("d", 0o755),
		file("d/x", "3", 0o644),
		dirNode("d/sub", 0o755),
		file("d/sub/old", "4", 0o644),
		symlink("l", "d"),
	}
	lowerList := []string{"a=1", "b=2", "d/", "d/sub/", "d/sub/old=4", "d/x=3", "l->d"}
	without := func(drop ...string) []string {
		var out []string
	next:
		for _, s := range lowerList {
			for _, d := range drop {
				if s == d || strings.HasPrefix(s, strings.TrimSuffix(d, "/")+"/") {
					continue next
				}
			}
			out = append(out, s)
		}
		return out
	}
	with := func(base []string, add ...string) []string {
		out := append(append([]string{}, base...), add...)
		sort.Strings(out)
		return out
	}
	tests := []struct {
		name  string
		layer []tarEntry
		want  []string
	}{
		{"whiteout file", []tarEntry{reg(".wh.a", "")}, without("a=1")},
		{"whiteout dir", []tarEntry{reg(".wh.d", "")}, without("d/")},
		{"whiteout in dir", []tarEntry{dirEntry("d/"), reg("d/sub/.wh.old", "")}, without("d/sub/old=4")},
		{"opaque before children",
			[]tarEntry{dirEntry("d/"), reg("d/.wh..wh..opq", ""), reg("d/new", "5")},
			with(without("d/"), "d/", "d/new=5")},
		{"opaque after children",
			[]tarEntry{dirEntry("d/"), dirEntry("d/sub/"), reg("d/sub/new", "6"), reg("d/.wh..wh..opq", "")},
			with(without("d/"), "d/", "d/sub/", "d/sub/new=6")},
		{"whiteout of own file", []tarEntry{reg("n", "7"), reg(".wh.n", "")}, with(lowerList, "n=7")},
		{"whiteout then recreate",
			[]tarEntry{reg(".wh.d", ""), dirEntry("d/"), reg("d/y", "8")},
			with(without("d/"), "d/", "d/y=8")},
		{"whiteout of missing", []tarEntry{reg(".wh.nothing", ""), reg("missing/.wh.x", "")}, lowerList},
		{"opaque root", []tarEntry{reg(".wh..wh..opq", ""), reg("z", "9")}, []string{"z=9"}},
		{"aufs bookkeeping skipped", []tarEntry{dirEntry(".wh..wh.plnk/"), reg(".wh..wh.aufs", "")}, lowerList},
		{"file replaces dir", []tarEntry{reg("d", "10")}, with(without("d/"), "d=10")},
		{"dir replaces file", []tarEntry{dirEntry("a/"), reg("a/g", "11")}, with(without("a=1"), "a/", "a/g=11")},
		{"dirs merge", []tarEntry{dirEntry("d/"), reg("d/y", "12")}, with(lowerList, "d/y=12")},
		{"dir replaces symlink", []tarEntry{dirEntry("l/"), reg("l/y", "13")}, with(without("l->d"), "l/", "l/y=13")},
		{"file replaces file", []tarEntry{reg("a", "14")}, with(without("a=1"), "a=14")},
		{"write through symlinked dir", []tarEntry{reg("l/y", "15")}, with(lowerList, "d/y=15")},
		{"implied parents", []tarEntry{reg("p/q/r", "16")}, with(lowerList, "p/", "p/q/", "p/q/r=16")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			build(t, dir, lower)
			apply(t, dir, makeTar(t, tt.layer...), ApplyOptions{NoChown: true})
			if diff := cmp.Diff(tt.want, listTree(t, dir, OverlayOpaqueXattr)); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyMetadata(t *testing.T) {
	dirTime := time.Date(2011, 1, 1, 1, 1, 1, 0, time.UTC)
	linkTime := time.Date(2012, 2, 2, 2, 2, 2, 0, time.UTC)
	d := dirEntry("d/")
	d.hdr.ModTime, d.hdr.Mode = dirTime, 0o2750
	l := symEntry("d/l", "f")
	l.hdr.ModTime = linkTime
	f := reg("d/f", "data")
	f.hdr.Mode = 0o4711
	ro := dirEntry("ro/")
	ro.hdr.Mode = 0o555
	// Outside the 1678-2262 range of UnixNano, inside ext4's and tmpfs's.
	future, past := reg("future", "f"), reg("past", "p")
	future.hdr.ModTime = time.Date(2400, 1, 2, 3, 4, 5, 0, time.UTC)
	past.hdr.ModTime = time.Date(1910, 1, 2, 3, 4, 5, 0, time.UTC)
	d2 := d // a second entry for d: the last one wins
	d.hdr.Mode, d.hdr.ModTime = 0o700, testTime
	layer := makeTar(t, d, f, l, ro, reg("ro/inside", "x"), future, past, d2)
	dir := t.TempDir()
	t.Cleanup(func() { makeRemovable(dir) }) // "ro" is read-only to non-root
	apply(t, dir, layer, ApplyOptions{NoChown: true})

	checks := []struct {
		path  string
		mode  uint32
		mtime time.Time
	}{
		{"d", 0o2750, dirTime}, // set after d/f and d/l were written in it
		{"d/f", 0o4711, testTime},
		{"d/l", 0, linkTime},
		{"ro", 0o555, testTime},
		{"future", 0o644, future.hdr.ModTime},
		{"past", 0o644, past.hdr.ModTime},
	}
	for _, c := range checks {
		st, err := lstat(filepath.Join(dir, c.path))
		if err != nil {
			t.Fatal(err)
		}
		if c.mode != 0 && st.perm != c.mode {
			t.Errorf("%s: mode %o, want %o", c.path, st.perm, c.mode)
		}
		if !st.mtime.Equal(c.mtime) {
			t.Errorf("%s: mtime %v, want %v", c.path, st.mtime.UTC(), c.mtime)
		}
	}
}

func TestApplyOwnership(t *testing.T) {
	testutil.RequireRoot(t)
	f := reg("f", "x")
	f.hdr.Uid, f.hdr.Gid, f.hdr.Mode = 1000, 2000, 0o6755
	d := dirEntry("d/")
	d.hdr.Uid, d.hdr.Gid = 3000, 4000
	l := symEntry("l", "f")
	l.hdr.Uid, l.hdr.Gid = 5000, 6000
	c := tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "ping", Mode: 0o755, Size: 1, ModTime: testTime,
		PAXRecords: map[string]string{paxXattrPrefix + "security.capability": capNetRaw()}}, data: "p"}
	dir := t.TempDir()
	apply(t, dir, makeTar(t, f, d, l, c), ApplyOptions{})
	for _, w := range []struct {
		path     string
		uid, gid uint32
		mode     uint32
	}{{"f", 1000, 2000, 0o6755}, {"d", 3000, 4000, 0o755}, {"l", 5000, 6000, 0o777}} {
		st, err := lstat(filepath.Join(dir, w.path))
		if err != nil {
			t.Fatal(err)
		}
		if st.uid != w.uid || st.gid != w.gid || st.perm != w.mode {
			t.Errorf("%s: %d:%d %o, want %d:%d %o (setuid must survive chown)", w.path, st.uid, st.gid, st.perm, w.uid, w.gid, w.mode)
		}
	}
	if v, err := getXattr(filepath.Join(dir, "ping"), "security.capability"); err != nil || string(v) != capNetRaw() {
		t.Errorf("security.capability = %x, %v", v, err)
	}
}

func TestApplyOverlay(t *testing.T) {
	for _, xattr := range []string{OverlayOpaqueXattr, UserOverlayOpaqueXattr} {
		t.Run(xattr, func(t *testing.T) {
			if xattr == OverlayOpaqueXattr {
				testutil.RequireRoot(t)
			}
			layer := makeTar(t,
				reg(".wh.a", ""),
				dirEntry("d/"), reg("d/.wh..wh..opq", ""), reg("d/x", "1"),
				reg(".wh.e", ""), dirEntry("e/"), reg("e/y", "2"),
				reg("f/.wh..wh..opq", ""),
				reg("n", "3"), reg(".wh.n", ""),
				reg("g/.wh.gone", ""),
			)
			dir := t.TempDir()
			opts := ApplyOptions{Overlay: true, OpaqueXattr: xattr, NoChown: true}
			apply(t, dir, layer, opts)
			want := []string{
				"a (whiteout)",
				"d/ (opaque)", "d/x=1",
				"e/ (opaque)", "e/y=2", // whited out, then made again: opaque
				"f/ (opaque)",
				"g/", "g/gone (whiteout)",
				"n=3",
			}
			if diff := cmp.Diff(want, listTree(t, dir, xattr)); diff != "" {
				t.Errorf("snapshot (-want +got):\n%s", diff)
			}

			// And back: WriteDir turns the snapshot into the OCI entries.
			names := tarNames(t, writeDir(t, dir, WriteOptions{OpaqueXattr: xattr}))
			wantNames := []string{".wh.a", "d/", "d/.wh..wh..opq", "d/x", "e/", "e/.wh..wh..opq", "e/y",
				"f/", "f/.wh..wh..opq", "g/", "g/.wh.gone", "n"}
			if diff := cmp.Diff(wantNames, names); diff != "" {
				t.Errorf("WriteDir of the snapshot (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyCompressedInput(t *testing.T) {
	var buf bytes.Buffer
	zw, err := Compress(&buf, Gzip)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(makeTar(t, reg("f", "x")))
	zw.Close()
	_, _, err = Apply(context.Background(), t.TempDir(), &buf, ApplyOptions{NoChown: true})
	if err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("Apply of a gzip stream: %v, want an error naming gzip", err)
	}
	// A tar whose first name starts like a compressed stream is a tar.
	for name, want := range map[string][]string{
		"BZh91AY":             {"BZh91AY=x"},
		"\x1f\x8bgz":          {"\x1f\x8bgz=x"},
		"\xfd7zXZ":            {"\xfd7zXZ=x"},
		"\x28\xb5\x2f\xfdzst": {"(\xb5/", "(\xb5/\xfdzst=x"}, // the zstd magic holds a "/"
	} {
		dir := t.TempDir()
		apply(t, dir, makeTar(t, gnuNamed(name)), ApplyOptions{NoChown: true})
		if diff := cmp.Diff(want, listTree(t, dir, OverlayOpaqueXattr)); diff != "" {
			t.Errorf("tree (-want +got):\n%s", diff)
		}
	}
}

func TestApplyCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := Apply(ctx, t.TempDir(), bytes.NewReader(makeTar(t, reg("f", "x"))), ApplyOptions{NoChown: true})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestApplyTruncated(t *testing.T) {
	layer := makeTar(t, reg("f", strings.Repeat("x", 4096)))
	_, _, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(layer[:1500]), ApplyOptions{NoChown: true})
	if err == nil {
		t.Error("Apply of a truncated tar succeeded")
	}
}

func TestApplyDevices(t *testing.T) {
	null := tarEntry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "null", Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: testTime}}
	fifo := tarEntry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o600, ModTime: testTime}}
	layer := makeTar(t, null, fifo)

	dir := t.TempDir()
	apply(t, dir, layer, ApplyOptions{NoDevices: true, NoChown: true})
	if diff := cmp.Diff([]string{"fifo (kind 5)"}, listTree(t, dir, OverlayOpaqueXattr)); diff != "" {
		t.Errorf("NoDevices (-want +got):\n%s", diff)
	}

	testutil.RequireRoot(t)
	dir = t.TempDir()
	apply(t, dir, layer, ApplyOptions{})
	if diff := cmp.Diff([]string{"fifo (kind 5)", "null (char 1/3)"}, listTree(t, dir, OverlayOpaqueXattr)); diff != "" {
		t.Errorf("devices as root (-want +got):\n%s", diff)
	}
}

func TestApplyRootEntry(t *testing.T) {
	root := dirEntry("./")
	root.hdr.Mode = 0o711
	dir := t.TempDir()
	apply(t, dir, makeTar(t, root, reg("f", "x")), ApplyOptions{NoChown: true})
	if st, err := lstat(dir); err != nil || st.perm != 0o711 || !st.mtime.Equal(testTime) {
		t.Errorf("root dir after a \"./\" entry: %o %v %v", st.perm, st.mtime, err)
	}
	if _, _, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(makeTar(t, reg(".", "x"))), ApplyOptions{NoChown: true}); err == nil {
		t.Error("a regular file named \".\" was accepted")
	}
}
