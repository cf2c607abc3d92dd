package buildcontext

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whittle-build/whittle/internal/testutil"
)

// makeRepo makes root/app.git with two commits on main (the second
// changing a), a tag v1 on the first, a branch dev and a subdirectory;
// it returns the first commit.
func makeRepo(t *testing.T, root string) string {
	t.Helper()
	work := t.TempDir()
	first := testutil.GitCommit(t, work, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY a /a\n", "a": "one\n",
		"sub/Dockerfile": "FROM busybox\nCOPY b /b\n", "sub/b": "sub\n",
	}, "one")
	testutil.Git(t, work, "tag", "v1")
	testutil.Git(t, work, "branch", "dev")
	testutil.GitCommit(t, work, map[string]string{"a": "two\n"}, "two")
	testutil.Git(t, work, "clone", "-q", "--bare", work, filepath.Join(root, "app.git"))
	return first
}

func TestFromGit(t *testing.T) {
	root := t.TempDir()
	first := makeRepo(t, root)
	base := testutil.GitServer(t, root) + "/app.git"
	for _, tc := range []struct{ frag, file, want string }{
		{"", "a", "two\n"},
		{"#main", "a", "two\n"},
		{"#v1", "a", "one\n"},
		{"#dev", "a", "one\n"},
		{"#" + first, "a", "one\n"},
		{"#:sub", "b", "sub\n"},
		{"#v1:sub", "b", "sub\n"},
	} {
		if !IsGitURL(base + tc.frag) {
			t.Fatalf("IsGitURL(%q) = false", base+tc.frag)
		}
		dir := t.TempDir()
		ctxDir, err := FromGit(t.Context(), mustGit(t, base+tc.frag), dir, "")
		if err != nil {
			t.Errorf("%s: %v", tc.frag, err)
			continue
		}
		if b, err := os.ReadFile(filepath.Join(ctxDir, tc.file)); err != nil || string(b) != tc.want {
			t.Errorf("%s: %s = %q, %v; want %q", tc.frag, tc.file, b, err, tc.want)
		}
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			t.Errorf("%s: .git was kept", tc.frag)
		}
	}
	for frag, want := range map[string]string{
		"#nope":       `no branch, tag or commit "nope" in the repository`,
		"#main:nodir": "the repository has no directory nodir",
	} {
		if _, err := FromGit(t.Context(), mustGit(t, base+frag), t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", frag, err, want)
		}
	}
	// A subdirectory that climbs out stays inside the checkout.
	dir := t.TempDir()
	if got, err := FromGit(t.Context(), mustGit(t, base+"#main:../../"), dir, ""); err != nil || got != dir {
		t.Errorf("#main:../../ = %s, %v; want the checkout %s", got, err, dir)
	}
	// Credentials never appear in messages.
	g := mustGit(t, "https://user:secret@git.example/app.git#main:sub")
	if s := g.String(); strings.Contains(s, "secret") || s != "https://git.example/app.git#main:sub" {
		t.Errorf("String() = %q", s)
	}
	for _, s := range []string{"git@github.com:org/app.git", "git://host/app", "https://host/app.git#x", "http://host/app.git"} {
		if !IsGitURL(s) {
			t.Errorf("IsGitURL(%q) = false", s)
		}
	}
	for _, s := range []string{"https://host/ctx.tar.gz", "https://host/app.git.tar", "-", "ctx", "github.com/org/app"} {
		if IsGitURL(s) {
			t.Errorf("IsGitURL(%q) = true", s)
		}
	}
}

func mustGit(t *testing.T, s string) GitRef {
	t.Helper()
	g, ok := ParseGitURL(s)
	if !ok {
		t.Fatalf("ParseGitURL(%q): not a Git URL", s)
	}
	return g
}
