package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var updateCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite testdata/fuzz seed corpora")

// fuzzSeeds are layers worth starting from: ordinary ones, whiteouts, and
// the hostile shapes TestApplyHostile checks.
func fuzzSeeds(t testing.TB) [][]byte {
	xattr := reg("x", "x")
	xattr.hdr.PAXRecords = map[string]string{paxXattrPrefix + "user.a": "1", paxXattrPrefix + "user.overlay.opaque": "y"}
	suid := reg("bin/s", "#!")
	suid.hdr.Mode = 0o4755
	long := reg(strings.Repeat("long/", 30)+"name", "l")
	return [][]byte{
		makeTar(t, dirEntry("d/"), reg("d/f", "hello"), symEntry("l", "d/f"), linkEntry("h", "d/f"), suid, xattr, long),
		makeTar(t, dirEntry("d/"), reg("d/.wh..wh..opq", ""), reg("d/x", "1"), reg(".wh.gone", ""), reg("n", "2"), reg(".wh.n", "")),
		makeTar(t, reg(".wh.d", ""), dirEntry("d/"), dirEntry("d/sub/"), reg("d/sub/y", "3"), reg("e/.wh..wh..opq", "")),
		makeTar(t, reg("../escape", "x")),
		makeTar(t, symEntry("o", "../outside"), reg("o/secret", "pwned"), reg("o/.wh.secret", ""), reg("o/.wh..wh..opq", "")),
		makeTar(t, symEntry("up", "../../.."), reg("up/escape", "x"), dirEntry("up/d/")),
		makeTar(t, linkEntry("h", "../outside/secret")),
		makeTar(t, symEntry("s", "../outside/secret"), linkEntry("h", "s"), reg("h", "pwned"), reg("s", "pwned")),
		makeTar(t, symEntry("d", "../outside"), dirEntry("d/"), reg("d/f", "x"), reg("a/..", "root")),
		makeTar(t, tarEntry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "null", Mode: 0o666, Devmajor: 1, Devminor: 3}},
			tarEntry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o600}}, dirEntry("./")),
		// Names a tar gives twice, and paths through files that parallel
		// writers may not have written yet.
		makeTar(t, reg("a", "1"), reg("a", "2"), reg("b", "3"), dirEntry("b/"), reg("b/c", "4")),
		makeTar(t, reg("a", "1"), reg("a/b", "2"), reg("x/y/z", "3"), reg("x/y", "4")),
		makeTar(t, reg("a", "1"), linkEntry("h", "a"), symEntry("a", "x"), reg("a", "5")),
		makeTar(t, dirEntry("d/"), reg("d/f", "1"), reg("d", "2"), symEntry("l", "e"), reg("e", "3"), reg("l/b", "4")),
		makeTar(t, reg(".wh.foo", ""), reg("foo", "1"), dirEntry("d/"), reg("d/.wh.x", ""), reg("d/x", "2")),
	}
}

// TestFuzzCorpus writes the committed seed corpora with
// -update-fuzz-corpus, and otherwise checks that they are there.
func TestFuzzCorpus(t *testing.T) {
	for _, target := range []string{"FuzzApply", "FuzzRoundTrip", "FuzzApplyParallel", "FuzzFlatten"} {
		dir := filepath.Join("testdata", "fuzz", target)
		for i, seed := range fuzzSeeds(t) {
			sum := sha256.Sum256(seed)
			name := filepath.Join(dir, fmt.Sprintf("seed-%02d-%s", i, hex.EncodeToString(sum[:4])))
			var content string
			if target != "FuzzRoundTrip" && target != "FuzzFlatten" {
				content = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbool(%v)\n", seed, i%2 == 1)
			} else {
				content = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
			}
			if *updateCorpus {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if got, err := os.ReadFile(name); err != nil || string(got) != content {
				t.Errorf("seed corpus %s is missing or stale (run go test -run TestFuzzCorpus -update-fuzz-corpus): %v", name, err)
			}
		}
	}
}

// FuzzApply applies arbitrary bytes as a layer, flat or in overlay format,
// and checks that nothing outside the target directory changed. Run it as
// an unprivileged user: a bug then cannot damage the machine.
func FuzzApply(f *testing.F) {
	for i, seed := range fuzzSeeds(f) {
		f.Add(seed, i%2 == 1)
	}
	f.Fuzz(func(t *testing.T, data []byte, overlay bool) {
		j := newJail(t)
		t.Cleanup(func() { makeRemovable(j.root) })
		opts := ApplyOptions{NoChown: true, NoDevices: true, Overlay: overlay, OpaqueXattr: UserOverlayOpaqueXattr}
		digest, size, err := Apply(context.Background(), j.root, bytes.NewReader(data), opts)
		j.check(t)
		if err == nil {
			sum := sha256.Sum256(data)
			if digest != "sha256:"+hex.EncodeToString(sum[:]) || size != int64(len(data)) {
				t.Errorf("Apply = %s, %d for %d bytes", digest, size, len(data))
			}
		} else if errors.Is(err, ErrUnsafePath) && !strings.Contains(err.Error(), "entry") {
			t.Errorf("unsafe-path error does not name its entry: %v", err)
		}
	})
}

// FuzzRoundTrip applies arbitrary bytes as a layer, writes the result with
// WriteDir, applies that to a fresh directory and writes it again: the two
// layers WriteDir made must be identical, and WriteDir's output must
// always apply.
func FuzzRoundTrip(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := ApplyOptions{NoChown: true, NoDevices: true}
		a, b := t.TempDir(), t.TempDir()
		t.Cleanup(func() { makeRemovable(a); makeRemovable(b) })
		ctx := context.Background()
		if _, _, err := Apply(ctx, a, bytes.NewReader(data), opts); err != nil {
			return
		}
		var first, second bytes.Buffer
		if err := WriteDir(ctx, &first, a, WriteOptions{}); err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return // e.g. a mode 0000 file, unreadable when not root
			}
			t.Fatalf("WriteDir of an applied layer: %v", err)
		}
		if _, _, err := Apply(ctx, b, bytes.NewReader(first.Bytes()), opts); err != nil {
			t.Fatalf("applying a layer WriteDir made: %v\nentries: %q", err, tarNames(t, first.Bytes()))
		}
		if err := WriteDir(ctx, &second, b, WriteOptions{}); err != nil {
			t.Fatalf("WriteDir of the copy: %v", err)
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			h1, h2 := readTar(t, first.Bytes()), readTar(t, second.Bytes())
			for i := 0; i < len(h1) && i < len(h2); i++ {
				if fmt.Sprint(*h1[i]) != fmt.Sprint(*h2[i]) {
					t.Fatalf("round trip changed entry %d:\n%+v\n%+v", i, *h1[i], *h2[i])
				}
			}
			t.Fatalf("round trip changed the layer: %q vs %q", tarNames(t, first.Bytes()), tarNames(t, second.Bytes()))
		}
	})
}

// tarDirs returns the directories the tar in data names, as relative
// clean paths ("" for the root), as far as it reads.
func tarDirs(data []byte) map[string]bool {
	named := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			return named
		}
		if h.Typeflag == tar.TypeDir {
			if rel, err := CleanPath(h.Name); err == nil {
				named[rel] = true
			}
		}
	}
}

// sameDirTimes sets the times of the directories below root, root
// included, that are not in named to the Unix epoch.
func sameDirTimes(root string, named map[string]bool) {
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			rel = ""
		}
		if !named[rel] {
			os.Chtimes(p, time.Unix(0, 0), time.Unix(0, 0))
		}
		return nil
	})
}

// makeRemovable gives the owner full access to every directory below dir,
// so that a layer's mode 0 directories do not stop the test's cleanup when
// it runs unprivileged.
func makeRemovable(dir string) {
	if st, err := lstat(dir); err != nil || st.kind != kindDir {
		return
	}
	chmod(dir, 0o700)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			makeRemovable(filepath.Join(dir, e.Name()))
		}
	}
}

// FuzzApplyParallel applies arbitrary bytes as a layer to an empty
// directory (regular files written by parallel writers) and to another with
// the writers off: both fail or both succeed, with the same tree.
func FuzzApplyParallel(f *testing.F) {
	for i, seed := range fuzzSeeds(f) {
		f.Add(seed, i%2 == 1)
	}
	f.Fuzz(func(t *testing.T, data []byte, overlay bool) {
		a, b := t.TempDir(), t.TempDir()
		t.Cleanup(func() { makeRemovable(a); makeRemovable(b) })
		ctx := context.Background()
		opts := ApplyOptions{NoChown: true, NoDevices: true, Overlay: overlay, OpaqueXattr: UserOverlayOpaqueXattr}
		_, _, errParallel := Apply(ctx, a, bytes.NewReader(data), opts)
		opts.sequential = true
		_, _, errSequential := Apply(ctx, b, bytes.NewReader(data), opts)
		if (errParallel == nil) != (errSequential == nil) {
			t.Fatalf("parallel: %v; sequential: %v", errParallel, errSequential)
		}
		if errParallel != nil {
			return
		}
		if got, want := listTree(t, a, UserOverlayOpaqueXattr), listTree(t, b, UserOverlayOpaqueXattr); !slices.Equal(got, want) {
			t.Fatalf("parallel tree:\n%q\nsequential tree:\n%q", got, want)
		}
		if overlay {
			return
		}
		// Directories the tar does not name get the time of their last
		// change, which differs between any two applies: not compared.
		named := tarDirs(data)
		sameDirTimes(a, named)
		sameDirTimes(b, named)
		var pa, sa bytes.Buffer
		errA, errB := WriteDir(ctx, &pa, a, WriteOptions{}), WriteDir(ctx, &sa, b, WriteOptions{})
		if errA != nil || errB != nil {
			if errors.Is(errA, fs.ErrPermission) && errors.Is(errB, fs.ErrPermission) {
				return
			}
			t.Fatalf("WriteDir: parallel %v, sequential %v", errA, errB)
		}
		if !bytes.Equal(pa.Bytes(), sa.Bytes()) {
			t.Fatalf("the trees differ in metadata: %q vs %q", tarNames(t, pa.Bytes()), tarNames(t, sa.Bytes()))
		}
	})
}
