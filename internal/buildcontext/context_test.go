package buildcontext

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/whittle-build/whittle/internal/testutil"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// matchCase is a pattern and what Match returns for it.
type matchCase struct {
	pattern string
	want    []string
	err     error
}

// checkMatches runs Match of c on each case.
func checkMatches(t *testing.T, c *Context, tests []matchCase) {
	t.Helper()
	for _, tt := range tests {
		got, err := c.Match(tt.pattern)
		if !errors.Is(err, tt.err) || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Match(%q) = %q, %v; want %q, %v", tt.pattern, got, err, tt.want, tt.err)
		}
	}
}

func TestMatch(t *testing.T) {
	root := writeTree(t, map[string]string{
		"a.go": "", "b.go": "", "c.txt": "", "sub/d.go": "", "sub/e.txt": "", "secret.key": "", "build/out": "",
	})
	c, err := Open(root, Options{Ignore: []string{"*.key", "build"}})
	if err != nil {
		t.Fatal(err)
	}
	checkMatches(t, c, []matchCase{
		{".", []string{"."}, nil},
		{"/", []string{"."}, nil},
		{"./a.go", []string{"a.go"}, nil},
		{"*.go", []string{"a.go", "b.go"}, nil},
		{"/sub/*.go", []string{"sub/d.go"}, nil},
		{"*/*.txt", []string{"sub/e.txt"}, nil},
		{"?.go", []string{"a.go", "b.go"}, nil},
		{"[ab].go", []string{"a.go", "b.go"}, nil},
		{"secret.key", nil, ErrNotFound},
		{"*.key", nil, nil},
		{"build/out", nil, ErrNotFound},
		{"missing", nil, ErrNotFound},
		{"*.none", nil, nil},
		{"sub/*.none", nil, nil},
		{"no*/d.go", nil, nil},
		{"nodir/*.go", nil, ErrNotFound},
		{"a.go/*.go", nil, ErrNotFound},
		{"build/*", nil, ErrNotFound},
		{"../../etc/passwd", nil, ErrNotFound},
	})
}

// TestMatchExceptions: an ignored directory that a "!" exception reaches
// into is there for COPY, by name, by wildcard and before a wildcard (the
// copy then takes what the exception lets through); an ignored file is not.
func TestMatchExceptions(t *testing.T) {
	root := writeTree(t, map[string]string{"build/keep.js": "", "build/drop.js": "", "other/x": ""})
	c, err := Open(root, Options{Ignore: []string{"build", "!build/keep.js", "other"}})
	if err != nil {
		t.Fatal(err)
	}
	checkMatches(t, c, []matchCase{
		{"build", []string{"build"}, nil},
		{"b*", []string{"build"}, nil},
		{"build/*.js", []string{"build/keep.js"}, nil},
		{"build/drop.js", nil, ErrNotFound},
		// Any exception makes every ignored directory count (BuildKit
		// finds "other" missing: no exception reaches into it).
		{"other", []string{"other"}, nil},
	})
}

type memState struct{ b []byte }

func (m *memState) Load() ([]byte, error) { return m.b, nil }
func (m *memState) Save(b []byte) error   { m.b = append([]byte(nil), b...); return nil }

func TestChecksum(t *testing.T) {
	ctx := context.Background()
	root := writeTree(t, map[string]string{"a": "1", "dir/b": "2", "dir/c": "3", "ignored": "x"})
	open := func(st StateStore) *Context {
		c, err := Open(root, Options{Ignore: []string{"ignored"}, State: st})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	sum := func(c *Context, rels ...string) string {
		s, err := c.Checksum(ctx, rels, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := sum(open(nil), ".")

	// An ignored file does not count.
	os.WriteFile(filepath.Join(root, "ignored"), []byte("changed"), 0o644)
	if got := sum(open(nil), "."); got != base {
		t.Error("changing an ignored file changed the checksum")
	}
	// A touched but unchanged file does not count.
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(root, "a"), future, future)
	if got := sum(open(nil), "."); got != base {
		t.Error("touching a file changed the checksum")
	}
	// Content, mode and names do.
	os.WriteFile(filepath.Join(root, "dir/b"), []byte("22"), 0o644)
	changed := sum(open(nil), ".")
	if changed == base {
		t.Error("changing content did not change the checksum")
	}
	os.Chmod(filepath.Join(root, "dir/b"), 0o755)
	if got := sum(open(nil), "."); got == changed {
		t.Error("changing the mode did not change the checksum")
	}
	// A source outside the changed file keeps its checksum.
	a1 := sum(open(nil), "a")
	os.WriteFile(filepath.Join(root, "dir/c"), []byte("33"), 0o644)
	if a2 := sum(open(nil), "a"); a1 != a2 {
		t.Error("changing dir/c changed the checksum of a")
	}
	// Extra excludes.
	c := open(nil)
	withB, _ := c.Checksum(ctx, []string{"dir"}, nil)
	withoutB, _ := c.Checksum(ctx, []string{"dir"}, []string{"dir/b"})
	if withB == withoutB {
		t.Error("--exclude did not change the checksum")
	}
}

func TestChecksumStateReused(t *testing.T) {
	ctx := context.Background()
	root := writeTree(t, map[string]string{"f": "content"})
	st := &memState{}
	c, _ := Open(root, Options{State: st})
	first, err := c.Checksum(ctx, []string{"f"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if len(st.b) == 0 {
		t.Fatal("nothing saved")
	}
	c2, _ := Open(root, Options{State: st})
	reads := 0
	c2.sums.digest = func(p string) (string, error) { reads++; return fileDigest(p) }
	second, err := c2.Checksum(ctx, []string{"f"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reads != 0 || first != second {
		t.Errorf("second build read %d files (want 0); checksums equal: %v", reads, first == second)
	}
	// A rewritten file is read again.
	os.WriteFile(filepath.Join(root, "f"), []byte("other"), 0o644)
	if third, _ := c2.Checksum(ctx, []string{"f"}, nil); reads != 1 || third == first {
		t.Errorf("after a change: %d reads, checksum changed: %v", reads, third != first)
	}
}

// TestChecksumXattrs: a file's extended attributes are part of its
// checksum, so changing one (also through the digest cache, by the ctime
// it changes) re-runs the COPY that reads the file; a file without any
// keeps the checksum of its content alone.
func TestChecksumXattrs(t *testing.T) {
	ctx := context.Background()
	root := writeTree(t, map[string]string{"f": "content"})
	c, _ := Open(root, Options{State: &memState{}})
	plain, err := c.Checksum(ctx, []string{"f"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Lsetxattr(filepath.Join(root, "f"), "user.k", []byte("1"), 0); err != nil {
		testutil.Unavailable(t, "user.* attributes on the temporary directory's file system: %v", err)
	}
	withAttr, _ := c.Checksum(ctx, []string{"f"}, nil)
	unix.Lsetxattr(filepath.Join(root, "f"), "user.k", []byte("2"), 0)
	changed, _ := c.Checksum(ctx, []string{"f"}, nil)
	unix.Lremovexattr(filepath.Join(root, "f"), "user.k")
	removed, _ := c.Checksum(ctx, []string{"f"}, nil)
	if withAttr == plain || changed == withAttr || removed != plain {
		t.Errorf("checksums: plain %s, with user.k=1 %s, =2 %s, removed %s", plain, withAttr, changed, removed)
	}
}

func TestLoadIgnore(t *testing.T) {
	root := writeTree(t, map[string]string{".dockerignore": "a\n# comment\nb\n", "Dockerfile.special.dockerignore": "c\n"})
	got, err := LoadIgnore(root, filepath.Join(root, "Dockerfile"))
	if err != nil || !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("LoadIgnore = %q, %v", got, err)
	}
	got, err = LoadIgnore(root, filepath.Join(root, "Dockerfile.special"))
	if err != nil || !reflect.DeepEqual(got, []string{"c"}) {
		t.Errorf("LoadIgnore(special) = %q, %v", got, err)
	}
}

func TestSumsEncoding(t *testing.T) {
	m := map[string]sumEntry{
		"a":              {Ino: 1, Size: 2, Mtime: 3, Ctime: 4, Digest: "aa"},
		"dir/with space": {Ino: 5, Size: 6, Mtime: -7, Ctime: 8, Digest: "bb"},
		"new\nline":      {Ino: 9, Digest: "cc"},
	}
	got, ok := decodeSums(encodeSums(m))
	if !ok {
		t.Fatal("decoding what was encoded failed")
	}
	delete(m, "new\nline") // not representable: left out
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip: %v, want %v", got, m)
	}
	for _, bad := range []string{"", "{}", sumsHeader + "x 1 2 3\n", sumsHeader + "d x 2 3 4 p\n"} {
		if _, ok := decodeSums([]byte(bad)); ok {
			t.Errorf("decodeSums(%q) accepted", bad)
		}
	}
}

// TestExcludedConcurrent asks one context from several goroutines at once,
// as parallel stages do. The matcher compiles its patterns on first use, so
// without the context's lock `go test -race` reports a data race here.
func TestExcludedConcurrent(t *testing.T) {
	c, err := Open(t.TempDir(), Options{Ignore: []string{"*.log", "build/**", "!build/keep", "docs/*.md"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"a.log": true, "build/x/y": true, "build/keep": false, "docs/r.md": true, "src/main.go": false}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(want))
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p, w := range want {
				if got := c.Excluded(p); got != w {
					errs <- fmt.Sprintf("Excluded(%q) = %v, want %v", p, got, w)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
