package step

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/patternmatcher"

	"github.com/whittle-build/whittle/internal/plan"
	"github.com/whittle-build/whittle/internal/testutil"
)

var mtime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// tree writes files (name → content; a trailing "/" makes a dir, "->x" a symlink to x).
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := files[n]
		p := filepath.Join(root, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		switch {
		case strings.HasSuffix(n, "/"):
			os.MkdirAll(p, 0o755)
		case strings.HasPrefix(c, "->"):
			if err := os.Symlink(c[2:], p); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(p, mtime, mtime)
		}
	}
	return root
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	return string(b)
}

func TestCopy(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	type check func(t *testing.T, rootfs string)
	exists := func(rel, content string) check {
		return func(t *testing.T, rootfs string) {
			t.Helper()
			if got := read(t, filepath.Join(rootfs, rel)); got != content {
				t.Errorf("%s = %q, want %q", rel, got, content)
			}
		}
	}
	absent := func(rel string) check {
		return func(t *testing.T, rootfs string) {
			t.Helper()
			if _, err := os.Lstat(filepath.Join(rootfs, rel)); err == nil {
				t.Errorf("%s exists", rel)
			}
		}
	}
	owner := func(rel string, uid, gid uint32) check {
		return func(t *testing.T, rootfs string) {
			t.Helper()
			fi, err := os.Lstat(filepath.Join(rootfs, rel))
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != uid || st.Gid != gid {
				t.Errorf("%s owned by %d:%d, want %d:%d", rel, st.Uid, st.Gid, uid, gid)
			}
		}
	}
	mode := func(rel string, m os.FileMode) check {
		return func(t *testing.T, rootfs string) {
			t.Helper()
			fi, err := os.Lstat(filepath.Join(rootfs, rel))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky); got != m {
				t.Errorf("%s mode %v, want %v", rel, got, m)
			}
		}
	}
	modTime := func(rel string, want time.Time) check {
		return func(t *testing.T, rootfs string) {
			t.Helper()
			fi, err := os.Lstat(filepath.Join(rootfs, rel))
			if err != nil {
				t.Fatal(err)
			}
			if !fi.ModTime().Equal(want) {
				t.Errorf("%s mtime %v, want %v", rel, fi.ModTime(), want)
			}
		}
	}
	link := func(rel, target string) check {
		return func(t *testing.T, rootfs string) {
			t.Helper()
			got, err := os.Readlink(filepath.Join(rootfs, rel))
			if err != nil || got != target {
				t.Errorf("%s -> %q (%v), want %q", rel, got, err, target)
			}
		}
	}
	image := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\napp:x:1000:\nstaff:x:50:app\n",
		"existing/":  "",
		"file":       "old",
		"escape":     "->/../../../../tmp",
		"usr/bin/":   "",
		"bin":        "->usr/bin",
		"outside":    "->/etc",
		"to-file":    "->/file",
		"dangling":   "->/nowhere/new",
		"esc-file":   "->/../../../../tmp/pwned",
	}
	context := map[string]string{
		"a.txt":       "A",
		"b.txt":       "B",
		"dir/x":       "X",
		"dir/sub/y":   "Y",
		"dir/ignored": "I",
		"link":        "->a.txt",
		"app.tar.gz":  "",
		"notes.md":    "N",
	}
	tests := []struct {
		name   string
		copy   plan.Copy
		checks []check
		err    string
	}{
		{name: "file to file", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/new/b"},
			checks: []check{exists("new/b", "A"), owner("new/b", 0, 0), mode("new", 0o755), modTime("new/b", mtime)}},
		{name: "file into dir by slash", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/d/"},
			checks: []check{exists("d/a.txt", "A")}},
		{name: "file into existing dir", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/existing"},
			checks: []check{exists("existing/a.txt", "A")}},
		{name: "overwrite file", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/file"},
			checks: []check{exists("file", "A")}},
		{name: "dir contents", copy: plan.Copy{Sources: []string{"dir"}, Dest: "/app"},
			checks: []check{exists("app/x", "X"), exists("app/sub/y", "Y"), absent("app/dir"), absent("app/ignored")}},
		{name: "wildcard", copy: plan.Copy{Sources: []string{"*.txt"}, Dest: "/w/"},
			checks: []check{exists("w/a.txt", "A"), exists("w/b.txt", "B"), absent("w/notes.md")}},
		{name: "several sources need a dir", copy: plan.Copy{Sources: []string{"a.txt", "b.txt"}, Dest: "/nodir"},
			err: "must be a directory"},
		{name: "missing source", copy: plan.Copy{Sources: []string{"nope"}, Dest: "/"},
			err: "no such file"},
		{name: "ignored source", copy: plan.Copy{Sources: []string{"dir/ignored"}, Dest: "/"},
			err: "no such file"},
		{name: "chown name", copy: plan.Copy{Sources: []string{"dir"}, Dest: "/o", Chown: "app"},
			checks: []check{owner("o", 1000, 1000), owner("o/x", 1000, 1000), owner("o/sub", 1000, 1000)}},
		{name: "chown ids", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/ids", Chown: "7:8"},
			checks: []check{owner("ids", 7, 8)}},
		{name: "chown unknown", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/u", Chown: "nobody-here"},
			err: "nobody-here"},
		{name: "chmod octal", copy: plan.Copy{Sources: []string{"dir"}, Dest: "/m", Chmod: "0750"},
			checks: []check{mode("m/x", 0o750), mode("m/sub", 0o750), mode("m", 0o750)}},
		{name: "chmod octal on created parents", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/made/by/", Chmod: "700"},
			checks: []check{mode("made", 0o700), mode("made/by", 0o700), mode("made/by/a.txt", 0o700), mode("existing", 0o755)}},
		{name: "chmod with special bits: created parents get only the permissions", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/sp/bin/", Chmod: "4750"},
			checks: []check{mode("sp", 0o750), mode("sp/bin", 0o750), mode("sp/bin/a.txt", 0o750|os.ModeSetuid)}},
		{name: "chmod symbolic leaves created parents 0755", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/sym/", Chmod: "go-rwx"},
			checks: []check{mode("sym", 0o755), mode("sym/a.txt", 0o600)}},
		{name: "chmod symbolic", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/s", Chmod: "u+x,g-r"},
			checks: []check{mode("s", 0o704)}},
		{name: "symlink preserved in tree", copy: plan.Copy{Sources: []string{"."}, Dest: "/ctx/"},
			checks: []check{link("ctx/link", "a.txt")}},
		{name: "symlink source followed", copy: plan.Copy{Sources: []string{"link"}, Dest: "/followed"},
			checks: []check{exists("followed", "A")}},
		{name: "dest through image symlink stays inside", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/escape/pwned"},
			checks: []check{exists("tmp/pwned", "A")}},
		{name: "dest through absolute symlink stays inside", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/outside/x"},
			checks: []check{exists("etc/x", "A")}},
		{name: "dest through relative symlink", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/bin/tool"},
			checks: []check{exists("usr/bin/tool", "A"), link("bin", "usr/bin")}},
		{name: "onto a symlink to a file: its target written", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/to-file"},
			checks: []check{exists("file", "A"), link("to-file", "/file")}},
		{name: "onto a dangling symlink: its target made", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/dangling"},
			checks: []check{exists("nowhere/new", "A"), link("dangling", "/nowhere/new")}},
		{name: "heredoc onto a symlink to a file: its target written", copy: plan.Copy{Heredocs: []plan.Heredoc{{Name: "EOF", Content: "H"}}, Dest: "/to-file"},
			checks: []check{exists("file", "H"), link("to-file", "/file")}},
		{name: "onto a symlink out of the root: stays inside", copy: plan.Copy{Sources: []string{"a.txt"}, Dest: "/esc-file"},
			checks: []check{exists("tmp/pwned", "A"), link("esc-file", "/../../../../tmp/pwned")}},
		{name: "exclude", copy: plan.Copy{Sources: []string{"dir"}, Dest: "/e", Exclude: []string{"sub"}},
			checks: []check{exists("e/x", "X"), absent("e/sub")}},
		{name: "parents", copy: plan.Copy{Sources: []string{"dir/sub/y"}, Dest: "/p/", Parents: true},
			checks: []check{exists("p/dir/sub/y", "Y")}},
		{name: "heredoc", copy: plan.Copy{Heredocs: []plan.Heredoc{{Name: "EOF", Content: "hello\n"}}, Dest: "/h/greeting"},
			checks: []check{exists("h/greeting", "hello\n"), mode("h/greeting", 0o644)}},
		{name: "add unpacks tar.gz", copy: plan.Copy{Add: true, Sources: []string{"app.tar.gz"}, Dest: "/opt/"},
			checks: []check{exists("opt/app/bin", "binary"), owner("opt/app/bin", 33, 33)}},
		{name: "copy does not unpack", copy: plan.Copy{Sources: []string{"app.tar.gz"}, Dest: "/opt/"},
			checks: []check{absent("opt/app")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootfs := tree(t, image)
			src := tree(t, context)
			writeTarGz(t, filepath.Join(src, "app.tar.gz"))
			c := tt.copy
			err := Copy(ctx, rootfs, &c, Source{Root: src, Excluded: func(rel string) bool { return rel == "dir/ignored" }}, CopyOptions{Scratch: t.TempDir()})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.checks {
				c(t, rootfs)
			}
			if _, err := os.Stat("/tmp/pwned"); err == nil {
				os.Remove("/tmp/pwned")
				t.Fatal("a write escaped the root filesystem")
			}
		})
	}
}

func writeTarGz(t *testing.T, p string) {
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 33, Gid: 33, ModTime: mtime})
	tw.WriteHeader(&tar.Header{Name: "app/bin", Typeflag: tar.TypeReg, Mode: 0o755, Size: 6, Uid: 33, Gid: 33, ModTime: mtime})
	tw.Write([]byte("binary"))
	tw.Close()
	gz.Close()
}

func TestCopyHardlinksAndKeepOwner(t *testing.T) {
	testutil.RequireRoot(t)
	src := tree(t, map[string]string{"d/a": "same"})
	if err := os.Link(filepath.Join(src, "d/a"), filepath.Join(src, "d/b")); err != nil {
		t.Fatal(err)
	}
	os.Lchown(filepath.Join(src, "d/a"), 42, 43)
	rootfs := t.TempDir()
	err := Copy(context.Background(), rootfs, &plan.Copy{Sources: []string{"d"}, Dest: "/out"}, Source{Root: src, KeepOwner: true}, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.Lstat(filepath.Join(rootfs, "out/a"))
	b, _ := os.Lstat(filepath.Join(rootfs, "out/b"))
	if !os.SameFile(a, b) {
		t.Error("hard link not preserved")
	}
	if st := a.Sys().(*syscall.Stat_t); st.Uid != 42 || st.Gid != 43 {
		t.Errorf("owner %d:%d, want 42:43 kept from a stage source", st.Uid, st.Gid)
	}
}

func TestParseChmod(t *testing.T) {
	tests := []struct {
		spec  string
		in    os.FileMode
		isDir bool
		want  os.FileMode
	}{
		{"755", 0o644, false, 0o755},
		{"4755", 0o644, false, 0o755 | os.ModeSetuid},
		{"+x", 0o644, false, 0o755},
		{"go-rwx", 0o755, true, 0o700},
		{"a=r", 0o755, false, 0o444},
		{"u=rwX,go=rX", 0o600, true, 0o755},
		{"u=rwX,go=rX", 0o600, false, 0o644},
	}
	for _, tt := range tests {
		c, err := parseChmod(tt.spec)
		if err != nil {
			t.Fatalf("%s: %v", tt.spec, err)
		}
		if got := c.apply(tt.in, tt.isDir); got != tt.want {
			t.Errorf("chmod %s on %v = %v, want %v", tt.spec, tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"99999", "u+q", "z+x", "rwx"} {
		if _, err := parseChmod(bad); err == nil {
			t.Errorf("parseChmod(%q) accepted", bad)
		}
	}
}

// TestCopyTreeTimes: the directory COPY copies a directory's contents into
// takes the source directory's modification time, created or existing (as
// BuildKit); an existing one keeps its mode.
func TestCopyTreeTimes(t *testing.T) {
	testutil.RequireRoot(t)
	src := tree(t, map[string]string{"d/a": "A", "d/sub/b": "B"})
	dirTime := time.Date(2010, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, d := range []string{"d/sub", "d"} {
		if err := os.Chtimes(filepath.Join(src, d), dirTime, dirTime); err != nil {
			t.Fatal(err)
		}
	}
	rootfs := tree(t, map[string]string{"exist/": ""})
	if err := os.Chmod(filepath.Join(rootfs, "exist"), 0o711); err != nil {
		t.Fatal(err)
	}
	epoch := time.Date(2022, 2, 2, 2, 2, 2, 0, time.UTC)
	for _, dest := range []string{"/new/", "/exist/", "/deep/er/"} {
		err := Copy(context.Background(), rootfs, &plan.Copy{Sources: []string{"d"}, Dest: dest}, Source{Root: src}, CopyOptions{Epoch: &epoch})
		if err != nil {
			t.Fatal(err)
		}
	}
	for rel, want := range map[string]time.Time{
		"new": dirTime, "new/sub": dirTime, "exist": dirTime, "deep/er": dirTime, "deep": epoch,
	} {
		fi, err := os.Lstat(filepath.Join(rootfs, rel))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(want) {
			t.Errorf("%s mtime %v, want %v", rel, fi.ModTime().UTC(), want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(rootfs, "exist")); err != nil || fi.Mode().Perm() != 0o711 {
		t.Errorf("exist: %v %v, want its mode 0711 kept", fi.Mode(), err)
	}
}

// TestCopyExceptionsInsideExcludedDir: with a "!" exception, a directory
// .dockerignore excludes is looked into, and made in the image when
// something below it is copied (BuildKit), with the source's metadata.
func TestCopyExceptionsInsideExcludedDir(t *testing.T) {
	testutil.RequireRoot(t)
	src := tree(t, map[string]string{"docs/private/p": "P", "docs/public/q": "Q", "docs/public/deep/r": "R", "a": "A"})
	if err := os.Chmod(filepath.Join(src, "docs/public"), 0o750); err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New([]string{"docs/**", "!docs/public/**"})
	if err != nil {
		t.Fatal(err)
	}
	excluded := func(rel string) bool {
		ok, err := pm.MatchesOrParentMatches(rel)
		return err == nil && ok
	}
	rootfs := t.TempDir()
	err = Copy(context.Background(), rootfs, &plan.Copy{Sources: []string{"."}, Dest: "/ctx/"}, Source{Root: src, Excluded: excluded, Exceptions: true}, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{"ctx/a": "A", "ctx/docs/public/q": "Q", "ctx/docs/public/deep/r": "R"} {
		if got := read(t, filepath.Join(rootfs, rel)); got != want {
			t.Errorf("%s = %q, want %q", rel, got, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(rootfs, "ctx/docs/private")); err == nil {
		t.Error("ctx/docs/private was copied")
	}
	if fi, err := os.Lstat(filepath.Join(rootfs, "ctx/docs/public")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("ctx/docs/public: %v %v, want the source's mode 0750", fi, err)
	}
}

// TestCopyStopsOnFileError: when writing a file fails (here a full disk),
// the copy stops queueing files and reports that failure, instead of trying
// every other file of the tree first.
func TestCopyStopsOnFileError(t *testing.T) {
	testutil.RequireRoot(t)
	src := t.TempDir()
	const n = 2000
	data := strings.Repeat("x", 8<<10)
	for i := range n {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%04d", i)), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rootfs := t.TempDir()
	if err := syscall.Mount("tmpfs", rootfs, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("mounting a tmpfs: %v", err)
	}
	defer syscall.Unmount(rootfs, syscall.MNT_DETACH)

	err := Copy(context.Background(), rootfs, &plan.Copy{Sources: []string{"."}, Dest: "/d/"}, Source{Root: src}, CopyOptions{Epoch: &mtime})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Copy onto a full disk: %v; want ENOSPC", err)
	}
	// Every file tried is left behind, empty or cut short (the disk holds
	// eight whole ones).
	tried, err := os.ReadDir(filepath.Join(rootfs, "d"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tried) > n/10 {
		t.Errorf("%d of %d files were tried; want the copy stopped soon after the disk was full", len(tried), n)
	}
}
