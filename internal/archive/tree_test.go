package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// node is one file of a test tree.
type node struct {
	path   string
	kind   fileKind
	mode   uint32 // permission bits with setuid, setgid, sticky
	data   string // content of a regular file
	size   int    // if data is empty: this many pseudo-random bytes
	target string // of a symlink; of a hard link (kindRegular with link set)
	link   bool   // a hard link to target
	uid    int    // -1: leave as created
	gid    int
	mtime  time.Time
	xattrs map[string]string
	major  uint32
	minor  uint32
}

var testTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func file(path, data string, mode uint32) node {
	return node{path: path, kind: kindRegular, data: data, mode: mode, uid: -1, mtime: testTime}
}

func dirNode(path string, mode uint32) node {
	return node{path: path, kind: kindDir, mode: mode, uid: -1, mtime: testTime}
}

func symlink(path, target string) node {
	return node{path: path, kind: kindSymlink, target: target, uid: -1, mtime: testTime}
}

func hardlink(path, target string) node {
	return node{path: path, kind: kindRegular, link: true, target: target, uid: -1}
}

// build makes nodes under dir, in the given order, then sets their
// metadata, directories last and deepest first so that their times stick.
func build(t testing.TB, dir string, nodes []node) {
	t.Helper()
	for _, n := range nodes {
		p := filepath.Join(dir, n.path)
		var err error
		switch {
		case n.link:
			err = os.Link(filepath.Join(dir, n.target), p)
		case n.kind == kindRegular:
			data := []byte(n.data)
			if n.data == "" && n.size > 0 {
				data = pseudoRandom(n.path, n.size)
			}
			err = os.WriteFile(p, data, 0o600)
		case n.kind == kindDir:
			err = os.Mkdir(p, 0o700)
		case n.kind == kindSymlink:
			err = os.Symlink(n.target, p)
		case n.kind == kindSocket:
			var fd int
			fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err == nil {
				err = unix.Bind(fd, &unix.SockaddrUnix{Name: p})
				unix.Close(fd)
			}
		default:
			err = mknod(p, n.kind, n.mode, n.major, n.minor)
		}
		if err != nil {
			t.Fatalf("building %s: %v", n.path, err)
		}
	}
	order := make([]node, len(nodes))
	copy(order, nodes)
	sort.SliceStable(order, func(i, j int) bool {
		di, dj := order[i].kind == kindDir, order[j].kind == kindDir
		if di != dj {
			return !di
		}
		return strings.Count(order[i].path, "/") > strings.Count(order[j].path, "/")
	})
	for _, n := range order {
		if n.link {
			continue
		}
		p := filepath.Join(dir, n.path)
		if n.uid >= 0 {
			if err := os.Lchown(p, n.uid, n.gid); err != nil {
				t.Fatal(err)
			}
		}
		if n.kind != kindSymlink && n.kind != kindSocket {
			if err := chmod(p, n.mode); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range sortedKeys(n.xattrs) {
			if err := setXattr(p, k, []byte(n.xattrs[k])); err != nil {
				t.Fatal(err)
			}
		}
		if !n.mtime.IsZero() {
			if err := lutimes(p, n.mtime, n.mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// pseudoRandom returns n bytes that depend only on seed.
func pseudoRandom(seed string, n int) []byte {
	h := sha256.Sum256([]byte(seed))
	r := rand.NewChaCha8(h)
	b := make([]byte, n)
	r.Read(b)
	return b
}

// desc describes one file of a tree for comparisons.
type desc struct {
	Kind   fileKind
	Mode   uint32
	UID    uint32
	GID    uint32
	Size   int64
	Sum    string // sha256 of a regular file's content
	Target string // of a symlink
	Link   string // first path (in sorted order) sharing this inode, if not this one
	Mtime  int64  // seconds; not for directories when skipDirTimes
	Xattrs map[string]string
	Dev    [2]uint32
}

// describe lists every file below dir by relative path.
func describe(t testing.TB, dir string) map[string]desc {
	t.Helper()
	out := make(map[string]desc)
	seen := make(map[inode]string)
	var paths []string
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	var xbuf []byte
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		st, err := lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		d := desc{Kind: st.kind, Mode: st.perm, UID: st.uid, GID: st.gid, Mtime: st.mtime.Unix()}
		if st.kind == kindChar || st.kind == kindBlock {
			d.Dev = [2]uint32{st.major, st.minor}
		}
		if st.kind != kindDir && st.nlink > 1 {
			key := inode{st.dev, st.ino}
			if first, ok := seen[key]; ok {
				d.Link = first
			} else {
				seen[key] = rel
			}
		}
		switch st.kind {
		case kindRegular:
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			d.Size, d.Sum = st.size, hex.EncodeToString(sum[:8])
		case kindSymlink:
			d.Target, _ = os.Readlink(p)
		}
		attrs, err := listXattrs(p, &xbuf)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range attrs {
			if a.name == "security.selinux" {
				continue
			}
			if d.Xattrs == nil {
				d.Xattrs = make(map[string]string)
			}
			d.Xattrs[a.name] = string(a.value)
		}
		out[rel] = d
	}
	return out
}

// tarEntry is one entry of a tar made by makeTar.
type tarEntry struct {
	hdr  tar.Header
	data string
}

func reg(name, data string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: testTime}, data: data}
}

func dirEntry(name string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: testTime}}
}

func symEntry(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: testTime}}
}

func linkEntry(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: testTime}}
}

// makeTar writes entries to a tar in memory.
func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("writing %s: %v", e.hdr.Name, err)
		}
		if _, err := io.WriteString(tw, e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readTar lists the headers of a tar.
func readTar(t testing.TB, data []byte) []*tar.Header {
	t.Helper()
	var out []*tar.Header
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, hdr)
	}
}

// tarNames lists the names of a tar's entries.
func tarNames(t testing.TB, data []byte) []string {
	t.Helper()
	var names []string
	for _, h := range readTar(t, data) {
		names = append(names, h.Name)
	}
	return names
}

func isRoot() bool { return os.Geteuid() == 0 }
