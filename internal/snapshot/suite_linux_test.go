package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// The conformance suite every Snapshotter passes (containerd's
// core/snapshots/testsuite pattern): each case builds lower layers in
// overlay format, prepares a snapshot, changes its root, commits, and checks
// (1) that the root after Prepare is the merge of the lowers, (2) that the
// lowers plus the diff merge to exactly what the root held before Commit,
// (3) which entries the diff holds, and (4) that nothing stays mounted.

var fixedTime = time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC)

// ent describes one entry of a test layer.
type ent struct {
	path     string
	kind     byte // 'f' file, 'd' dir, 'l' symlink, 'w' whiteout, 'h' hard link, 'p' fifo, 'c' char device
	content  string
	target   string // symlink target or hard link source
	mode     os.FileMode
	uid, gid int
	opaque   bool
	xattrs   map[string]string
}

func F(p, content string) ent { return ent{path: p, kind: 'f', content: content, mode: 0o644} }
func D(p string) ent          { return ent{path: p, kind: 'd', mode: 0o755} }
func O(p string) ent          { return ent{path: p, kind: 'd', mode: 0o755, opaque: true} }
func L(p, target string) ent  { return ent{path: p, kind: 'l', target: target, mode: 0o777} }
func W(p string) ent          { return ent{path: p, kind: 'w'} }
func H(p, target string) ent  { return ent{path: p, kind: 'h', target: target} }

func (e ent) withMode(m os.FileMode) ent { e.mode = m; return e }
func (e ent) withOwner(u, g int) ent     { e.uid, e.gid = u, g; return e }
func (e ent) withXattr(k, v string) ent {
	e.xattrs = map[string]string{k: v}
	return e
}

// writeLayer makes dir a layer holding entries (parents must be listed
// before children); all times are fixedTime.
func writeLayer(t testing.TB, dir string, entries ...ent) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		p := filepath.Join(dir, e.path)
		var err error
		switch e.kind {
		case 'f':
			err = os.WriteFile(p, []byte(e.content), 0o600)
		case 'd':
			err = os.Mkdir(p, 0o700)
			dirs = append(dirs, p)
			if err == nil && e.opaque {
				err = unix.Lsetxattr(p, opaqueXattrName(), []byte("y"), 0)
			}
		case 'l':
			err = os.Symlink(e.target, p)
		case 'w':
			err = makeWhiteout(p)
		case 'h':
			err = os.Link(filepath.Join(dir, e.target), p)
		case 'p':
			err = unix.Mkfifo(p, 0o600)
		case 'c':
			err = unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3)))
		}
		if err != nil {
			t.Fatalf("writing layer entry %s: %v", e.path, err)
		}
		if e.kind == 'w' || e.kind == 'h' {
			continue
		}
		if err := os.Lchown(p, e.uid, e.gid); err != nil {
			t.Fatal(err)
		}
		if e.kind != 'l' {
			if err := unix.Chmod(p, uint32(e.mode.Perm())|uint32(specialBits(e.mode))); err != nil {
				t.Fatal(err)
			}
		}
		for k, v := range e.xattrs {
			if err := unix.Lsetxattr(p, k, []byte(v), 0); err != nil {
				t.Fatal(err)
			}
		}
		setFixedTime(t, p)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		setFixedTime(t, dirs[i])
	}
	setFixedTime(t, dir)
}

func specialBits(m os.FileMode) uint32 {
	var b uint32
	if m&os.ModeSetuid != 0 {
		b |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		b |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		b |= unix.S_ISVTX
	}
	return b
}

func setFixedTime(t testing.TB, p string) {
	t.Helper()
	ts := unix.NsecToTimespec(fixedTime.UnixNano())
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
}

// info is what the suite compares about a path.
type info struct {
	Kind    string // "file", "dir", "symlink", "whiteout", "fifo", "char 1/3"
	Mode    uint32 // permission and set-id bits
	UID     uint32
	GID     uint32
	Content string
	Target  string
	Xattrs  map[string]string // without overlayfs's
	Mtime   int64
	Opaque  bool   `cmp:"-"`
	Ino     uint64 // for hard links; not compared
	Bad     []string
}

// readTree reads every entry under dir (not dir itself).
func readTree(t testing.TB, dir string) map[string]info {
	t.Helper()
	out := map[string]info{}
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st, err := lstat(p)
		if err != nil {
			return err
		}
		in := info{Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Nano(), Ino: st.Ino}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			in.Kind = "file"
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			in.Content = string(b)
		case unix.S_IFDIR:
			in.Kind = "dir"
			in.Opaque = isOpaque(p)
		case unix.S_IFLNK:
			in.Kind = "symlink"
			in.Target, _ = os.Readlink(p)
			in.Mode = 0
		case unix.S_IFIFO:
			in.Kind = "fifo"
		case unix.S_IFCHR:
			in.Kind = fmt.Sprintf("char %d/%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
			if st.Rdev == 0 {
				in = info{Kind: "whiteout"}
			}
		default:
			in.Kind = fmt.Sprintf("type %#o", st.Mode&unix.S_IFMT)
		}
		names, err := listXattrs(p)
		if err != nil {
			return err
		}
		for _, n := range names {
			if isOverlayXattr(n) {
				if n != OpaqueXattr && n != UserOpaqueXattr {
					in.Bad = append(in.Bad, n)
				}
				continue
			}
			v, err := getXattr(p, n)
			if err != nil {
				return err
			}
			if in.Xattrs == nil {
				in.Xattrs = map[string]string{}
			}
			in.Xattrs[n] = string(v)
		}
		out[rel] = in
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// merge is the reference model of overlay: layers bottom first.
func merge(layers ...map[string]info) map[string]info {
	out := map[string]info{}
	removeUnder := func(p string) {
		for k := range out {
			if strings.HasPrefix(k, p+"/") {
				delete(out, k)
			}
		}
	}
	for _, l := range layers {
		paths := make([]string, 0, len(l))
		for p := range l {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		// Whiteouts and opaque directories act on the lower layers only:
		// apply them first, then this layer's entries.
		for _, p := range paths {
			e := l[p]
			switch {
			case e.Kind == "whiteout":
				delete(out, p)
				removeUnder(p)
			case e.Kind == "dir" && e.Opaque:
				removeUnder(p)
			case e.Kind != "dir":
				removeUnder(p)
			}
		}
		for _, p := range paths {
			if e := l[p]; e.Kind != "whiteout" {
				out[p] = e
			}
		}
	}
	return out
}

// summary is a diff's content in short: path → kind ("dir", "dir opaque").
func summary(tree map[string]info) map[string]string {
	out := map[string]string{}
	for p, in := range tree {
		k := in.Kind
		if in.Opaque {
			k += " opaque"
		}
		out[p] = k
	}
	return out
}

var cmpTree = []cmp.Option{cmpopts.IgnoreFields(info{}, "Opaque", "Ino"), cmpopts.EquateEmpty()}

// suiteCase is one conformance case.
type suiteCase struct {
	name string
	// layers are the lowers, bottom first.
	layers [][]ent
	change func(t *testing.T, root string)
	// want is summary(diff); nil skips the check.
	want map[string]string
	// check inspects the diff further.
	check func(t *testing.T, diff string)
	// privileged cases make changes a user namespace's root may not:
	// owners outside the namespace's ids, devices, security attributes.
	privileged bool
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var baseLayer = []ent{
	D("bin"), F("bin/sh", "#!shell").withMode(0o755),
	D("etc"), F("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), F("etc/os-release", "ID=test\n").withOwner(0, 0),
	D("usr"), D("usr/share"), D("usr/share/doc"), F("usr/share/doc/README", "readme"), F("usr/share/keep", "k").withXattr("user.origin", "lower"),
	D("tmp").withMode(0o1777 | os.ModeSticky),
	F("setuid", "s").withMode(0o4755 | os.ModeSetuid),
}

func suiteCases() []suiteCase {
	return []suiteCase{
		{
			name:   "nothing changed",
			layers: [][]ent{baseLayer},
			change: func(t *testing.T, root string) {
				_, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
				must(t, err)
				_, err = os.ReadDir(filepath.Join(root, "usr/share"))
				must(t, err)
			},
			want: map[string]string{},
		},
		{
			name:   "create file",
			layers: [][]ent{baseLayer},
			change: func(t *testing.T, root string) {
				must(t, os.WriteFile(filepath.Join(root, "etc/new.conf"), []byte("new"), 0o640))
			},
			want: map[string]string{"etc": "dir", "etc/new.conf": "file"},
		},
		{
			name:   "modify lower file",
			layers: [][]ent{baseLayer},
			change: func(t *testing.T, root string) {
				f, err := os.OpenFile(filepath.Join(root, "etc/passwd"), os.O_APPEND|os.O_WRONLY, 0)
				must(t, err)
				_, err = f.WriteString("u:x:1000:1000::/home/u:/bin/sh\n")
				must(t, err)
				must(t, f.Close())
			},
			want: map[string]string{"etc": "dir", "etc/passwd": "file"},
		},
		{
			name:   "delete lower file",
			layers: [][]ent{baseLayer},
			change: func(t *testing.T, root string) { must(t, os.Remove(filepath.Join(root, "etc/passwd"))) },
			want:   map[string]string{"etc": "dir", "etc/passwd": "whiteout"},
		},
		{
			name:   "delete lower directory",
			layers: [][]ent{baseLayer},
			change: func(t *testing.T, root string) { must(t, os.RemoveAll(filepath.Join(root, "usr/share"))) },
			want:   map[string]string{"usr": "dir", "usr/share": "whiteout"},
		},
		{
			name:   "delete and recreate directory",
			layers: [][]ent{baseLayer},
			change: func(t *testing.T, root string) {
				must(t, os.RemoveAll(filepath.Join(root, "usr/share")))
				must(t, os.Mkdir(filepath.Join(root, "usr/share"), 0o755))
				must(t, os.WriteFile(filepath.Join(root, "usr/share/new"), []byte("n"), 0o644))
			},
			want: map[string]string{"usr": "dir", "usr/share": "dir opaque", "usr/share/new": "file"},
		},
		{
			name:   "chmod only",
			layers: [][]ent{baseLayer},
			change: func(t *testing.T, root string) { must(t, os.Chmod(filepath.Join(root, "etc/passwd"), 0o600)) },
			want:   map[string]string{"etc": "dir", "etc/passwd": "file"},
		},
		{
			name:       "chown only",
			privileged: true,
			layers:     [][]ent{baseLayer},
			change:     func(t *testing.T, root string) { must(t, os.Lchown(filepath.Join(root, "etc/passwd"), 1000, 1000)) },
			want:       map[string]string{"etc": "dir", "etc/passwd": "file"},
			check: func(t *testing.T, diff string) {
				st, err := lstat(filepath.Join(diff, "etc/passwd"))
				must(t, err)
				if st.Uid != 1000 || st.Gid != 1000 {
					t.Errorf("owner %d:%d, want 1000:1000", st.Uid, st.Gid)
				}
			},
		},
		{
			name:   "metadata rewritten to the same values",
			layers: [][]ent{baseLayer},
			change: func(t *testing.T, root string) {
				p := filepath.Join(root, "etc/passwd")
				must(t, os.Chmod(p, 0o644))
				must(t, os.Lchown(p, 0, 0))
				setFixedTime(t, p)
			},
			want: map[string]string{},
		},
		{
			name:   "mount point made and removed again",
			layers: [][]ent{baseLayer},
			change: func(t *testing.T, root string) {
				// What the sandbox does for /etc/hosts and /proc.
				must(t, os.WriteFile(filepath.Join(root, "etc/hosts"), nil, 0o644))
				must(t, os.Mkdir(filepath.Join(root, "proc"), 0o755))
				must(t, os.Remove(filepath.Join(root, "etc/hosts")))
				must(t, os.Remove(filepath.Join(root, "proc")))
				setFixedTime(t, filepath.Join(root, "etc"))
			},
			want: map[string]string{},
		},
		{
			name:   "symlink replaces directory",
			layers: [][]ent{baseLayer},
			change: func(t *testing.T, root string) {
				must(t, os.RemoveAll(filepath.Join(root, "usr/share")))
				must(t, os.Symlink("/opt/share", filepath.Join(root, "usr/share")))
			},
			want: map[string]string{"usr": "dir", "usr/share": "symlink"},
		},
		{
			name:   "file replaces directory and directory replaces file",
			layers: [][]ent{baseLayer},
			change: func(t *testing.T, root string) {
				must(t, os.RemoveAll(filepath.Join(root, "usr/share/doc")))
				must(t, os.WriteFile(filepath.Join(root, "usr/share/doc"), []byte("now a file"), 0o644))
				must(t, os.Remove(filepath.Join(root, "etc/os-release")))
				must(t, os.Mkdir(filepath.Join(root, "etc/os-release"), 0o755))
			},
			want: map[string]string{"usr": "dir", "usr/share": "dir", "usr/share/doc": "file", "etc": "dir", "etc/os-release": "dir opaque"},
		},
		{
			name:   "hard links",
			layers: [][]ent{append(slices.Clone(baseLayer), F("lib.so.1", "lib"), H("lib.so", "lib.so.1"))},
			change: func(t *testing.T, root string) {
				must(t, os.WriteFile(filepath.Join(root, "tmp/a"), []byte("a"), 0o644))
				must(t, os.Link(filepath.Join(root, "tmp/a"), filepath.Join(root, "tmp/b")))
				must(t, os.Link(filepath.Join(root, "etc/passwd"), filepath.Join(root, "etc/passwd-link")))
			},
			want: map[string]string{"tmp": "dir", "tmp/a": "file", "tmp/b": "file", "etc": "dir", "etc/passwd": "file", "etc/passwd-link": "file"},
			check: func(t *testing.T, diff string) {
				for _, pair := range [][2]string{{"tmp/a", "tmp/b"}, {"etc/passwd", "etc/passwd-link"}} {
					a, err := lstat(filepath.Join(diff, pair[0]))
					must(t, err)
					b, err := lstat(filepath.Join(diff, pair[1]))
					must(t, err)
					if a.Ino != b.Ino {
						t.Errorf("%s and %s are not hard links in the diff", pair[0], pair[1])
					}
				}
			},
		},
		{
			name:   "hard links within a lower survive Prepare",
			layers: [][]ent{append(slices.Clone(baseLayer), F("lib.so.1", "lib"), H("lib.so", "lib.so.1"))},
			change: func(t *testing.T, root string) {
				a, err := lstat(filepath.Join(root, "lib.so"))
				must(t, err)
				b, err := lstat(filepath.Join(root, "lib.so.1"))
				must(t, err)
				if a.Ino != b.Ino {
					t.Errorf("the lower's hard link is two files in the snapshot")
				}
			},
			want: map[string]string{},
		},
		{
			name:       "extended attributes and special files",
			privileged: true,
			layers:     [][]ent{baseLayer},
			change: func(t *testing.T, root string) {
				must(t, unix.Lsetxattr(filepath.Join(root, "bin/sh"), "user.test", []byte("v"), 0))
				must(t, unix.Lsetxattr(filepath.Join(root, "bin/sh"), "security.capability", capNetBindService(), 0))
				must(t, unix.Mkfifo(filepath.Join(root, "tmp/fifo"), 0o600))
				must(t, unix.Mknod(filepath.Join(root, "tmp/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
			},
			want: map[string]string{"bin": "dir", "bin/sh": "file", "tmp": "dir", "tmp/fifo": "fifo", "tmp/null": "char 1/3"},
		},
		{
			name: "whiteouts and opaque directories of lowers",
			layers: [][]ent{
				baseLayer,
				{D("etc"), W("etc/passwd"), D("usr"), O("usr/share"), F("usr/share/only", "o"), F("setuid", "replaced")},
			},
			change: func(t *testing.T, root string) {
				if _, err := os.Lstat(filepath.Join(root, "usr/share/keep")); err == nil {
					t.Errorf("a file under an opaque directory shows through")
				}
				must(t, os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("again"), 0o644))
			},
			want: map[string]string{"etc": "dir", "etc/passwd": "file"},
		},
		{
			name:   "scratch",
			layers: nil,
			change: func(t *testing.T, root string) {
				must(t, os.MkdirAll(filepath.Join(root, "app/bin"), 0o755))
				must(t, os.WriteFile(filepath.Join(root, "app/bin/tool"), []byte("t"), 0o755))
				must(t, os.WriteFile(filepath.Join(root, "gone"), []byte("t"), 0o755))
				must(t, os.Remove(filepath.Join(root, "gone")))
			},
			want: map[string]string{"app": "dir", "app/bin": "dir", "app/bin/tool": "file"},
		},
		manyLowersCase(120),
	}
}

// capNetBindService is a security.capability value (v2) granting
// cap_net_bind_service=ep.
func capNetBindService() []byte {
	return []byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
}

// longDir is a nested directory path of about 200 bytes.
var longDir = strings.Repeat("a-directory-with-a-rather-long-name/", 5) + "leaf"

func manyLowersCase(n int) suiteCase {
	var layers [][]ent
	parents := func() []ent {
		var out []ent
		p := ""
		for _, part := range strings.Split(longDir, "/") {
			p = filepath.Join(p, part)
			out = append(out, D(p))
		}
		return out
	}
	for i := range n {
		l := parents()
		l = append(l, F(fmt.Sprintf("%s/layer-%03d", longDir, i), fmt.Sprint(i)))
		if i%10 == 9 {
			l = append(l, W(fmt.Sprintf("%s/layer-%03d", longDir, i-1)))
		}
		layers = append(layers, l)
	}
	return suiteCase{
		name:   fmt.Sprintf("%d lowers with long paths", n),
		layers: layers,
		change: func(t *testing.T, root string) {
			entries, err := os.ReadDir(filepath.Join(root, longDir))
			must(t, err)
			if want := n - n/10; len(entries) != want {
				t.Errorf("merged view has %d files, want %d", len(entries), want)
			}
			must(t, os.WriteFile(filepath.Join(root, longDir, "layer-005"), []byte("changed"), 0o644))
			must(t, os.Remove(filepath.Join(root, longDir, "layer-100")))
		},
		check: func(t *testing.T, diff string) {
			got := readTree(t, diff)
			if len(got) != len(strings.Split(longDir, "/"))+2 {
				t.Errorf("diff has %d entries, want the directories and two files", len(got))
			}
			if got[longDir+"/layer-005"].Kind != "file" || got[longDir+"/layer-100"].Kind != "whiteout" {
				t.Errorf("diff: %v", summary(got))
			}
		},
	}
}

// newFunc makes the Snapshotter under test in workDir.
type newFunc func(t *testing.T, workDir string) Snapshotter

// testSnapshotter runs the conformance suite against one implementation.
func testSnapshotter(t *testing.T, newSnapshotter newFunc) {
	for _, tc := range suiteCases() {
		t.Run(tc.name, func(t *testing.T) {
			if tc.privileged && os.Getenv(userNSEnv) != "" {
				t.Skip("needs privileges a single-id user namespace does not have")
			}
			base := t.TempDir()
			// Long layer paths, as a store's are.
			layerRoot := filepath.Join(base, "layers", strings.Repeat("0123456789abcdef", 4))
			var lowers []string // top-most first
			var trees []map[string]info
			for i, l := range tc.layers {
				dir := filepath.Join(layerRoot, fmt.Sprintf("layer-%03d", i))
				writeLayer(t, dir, l...)
				lowers = append([]string{dir}, lowers...)
				trees = append(trees, readTree(t, dir))
			}
			workDir := filepath.Join(base, "work")
			sn := newSnapshotter(t, workDir)
			ctx := context.Background()
			active, err := sn.Prepare(ctx, slices.Clone(lowers))
			if err != nil {
				t.Fatal(err)
			}
			defer active.Release()
			root := active.Root()

			merged := merge(trees...)
			if diff := cmp.Diff(merged, readTree(t, root), cmpTree...); diff != "" {
				t.Fatalf("root after Prepare is not the merge of the lowers (-want +got):\n%s", diff)
			}
			tc.change(t, root)
			before := readTree(t, root)

			diffDir, err := active.Commit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(diffDir)
			if m, err := mountinfo.GetMounts(mountinfo.PrefixFilter(base)); err != nil || len(m) != 0 {
				t.Errorf("mounts left after Commit: %v %v", m, err)
			}
			if entries, _ := os.ReadDir(workDir); len(entries) != 1 || filepath.Join(workDir, entries[0].Name()) != diffDir {
				t.Errorf("work directory after Commit holds %v, want only the diff %s", entries, diffDir)
			}
			got := readTree(t, diffDir)
			for p, in := range got {
				if len(in.Bad) > 0 {
					t.Errorf("%s keeps overlayfs attributes %v", p, in.Bad)
				}
			}
			if tc.want != nil {
				if diff := cmp.Diff(tc.want, summary(got), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("diff entries (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(before, merge(append(trees, got)...), cmpTree...); diff != "" {
				t.Errorf("lowers + diff do not give the root as it was before Commit (-want +got):\n%s", diff)
			}
			if tc.check != nil {
				tc.check(t, diffDir)
			}
			if err := active.Release(); err != nil {
				t.Errorf("Release after Commit: %v", err)
			}
			if _, err := active.Commit(ctx); err == nil {
				t.Errorf("a second Commit succeeded")
			}
		})
	}

	t.Run("release", func(t *testing.T) {
		base := t.TempDir()
		lower := filepath.Join(base, "lower")
		writeLayer(t, lower, baseLayer...)
		workDir := filepath.Join(base, "work")
		sn := newSnapshotter(t, workDir)
		active, err := sn.Prepare(context.Background(), []string{lower})
		if err != nil {
			t.Fatal(err)
		}
		must(t, os.WriteFile(filepath.Join(active.Root(), "etc/passwd"), []byte("x"), 0o644))
		if err := active.Release(); err != nil {
			t.Fatal(err)
		}
		if err := active.Release(); err != nil {
			t.Errorf("second Release: %v", err)
		}
		if entries, _ := os.ReadDir(workDir); len(entries) != 0 {
			t.Errorf("work directory after Release holds %v", entries)
		}
		if m, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(base)); len(m) != 0 {
			t.Errorf("mounts left after Release: %v", m)
		}
		if b, _ := os.ReadFile(filepath.Join(lower, "etc/passwd")); string(b) != "root:x:0:0::/root:/bin/sh\n" {
			t.Errorf("the lower changed: %q", b)
		}
	})

	t.Run("errors", func(t *testing.T) {
		base := t.TempDir()
		workDir := filepath.Join(base, "work")
		sn := newSnapshotter(t, workDir)
		if _, err := sn.Prepare(context.Background(), []string{filepath.Join(base, "missing")}); err == nil {
			t.Errorf("Prepare with a missing lower succeeded")
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := sn.Prepare(ctx, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("Prepare with a cancelled context: %v", err)
		}
		if entries, _ := os.ReadDir(workDir); len(entries) != 0 {
			t.Errorf("work directory after failed Prepares holds %v", entries)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		base := t.TempDir()
		lower := filepath.Join(base, "lower")
		writeLayer(t, lower, baseLayer...)
		sn := newSnapshotter(t, filepath.Join(base, "work"))
		errs := make(chan error, 8)
		for i := range 8 {
			go func() {
				errs <- func() error {
					a, err := sn.Prepare(context.Background(), []string{lower})
					if err != nil {
						return err
					}
					name := fmt.Sprintf("f%d", i)
					if err := os.WriteFile(filepath.Join(a.Root(), name), nil, 0o644); err != nil {
						a.Release()
						return err
					}
					d, err := a.Commit(context.Background())
					if err != nil {
						return err
					}
					defer os.RemoveAll(d)
					names, err := readDirNames(d)
					if err != nil {
						return err
					}
					if !slices.Equal(names, []string{name}) {
						return fmt.Errorf("diff %d holds %v", i, names)
					}
					return nil
				}()
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
}
