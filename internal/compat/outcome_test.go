package compat

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/whittle-build/whittle/internal/testutil"
)

// outcome is one entry of testdata/compat/outcomes.txt: a Dockerfile and
// whether it builds.
type outcome struct {
	name, dockerfile string
	// want is "builds", "fails" (both builders) or "refused" (whittle
	// fails, BuildKit builds: a documented difference).
	want string
}

// readOutcomes parses testdata/compat/outcomes.txt.
func readOutcomes(path string) ([]outcome, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []outcome
	for i, chunk := range strings.Split(string(data), "\n### ")[1:] {
		head, body, _ := strings.Cut(chunk, "\n")
		f := strings.Fields(head)
		if len(f) != 2 || (f[1] != "builds" && f[1] != "fails" && f[1] != "refused") {
			return nil, fmt.Errorf("%s: entry %d: want \"### NAME builds|fails|refused\", have %q", path, i+1, head)
		}
		out = append(out, outcome{name: f[0], want: f[1], dockerfile: strings.TrimSpace(body) + "\n"})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no entries", path)
	}
	return out, nil
}

// outcomeContext makes the context every outcome builds: a.txt, sub/b.txt,
// link, a symlink to /etc/passwd, and dotdot.tar, whose second entry is
// named ../dotdot.
func outcomeContext(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"a.txt": "a\n", "sub/b.txt": "b\n"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	dotdot := tarBytes(t,
		tarFile{tar.Header{Typeflag: tar.TypeReg, Name: "ok.txt", Mode: 0o644}, "hi\n"},
		tarFile{tar.Header{Typeflag: tar.TypeReg, Name: "../dotdot", Mode: 0o644}, "hi\n"})
	if err := os.WriteFile(filepath.Join(dir, "dotdot.tar"), dotdot, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runOutcomes builds each outcome with whittle and BuildKit (buildah 1.28
// differs too often to be held to it) and checks that each builds or
// fails as the entry says.
func runOutcomes(t *testing.T, fx *fixtures, whittle builder, peers []builder) {
	outcomes, err := readOutcomes(testutil.RepoPath(t, "testdata", "compat", "outcomes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var bk builder
	for _, p := range peers {
		if p.name() == "buildkit" {
			bk = p
		}
	}
	fx.need(t, "busybox")
	ctxDir := outcomeContext(t)
	for _, o := range outcomes {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			dfDir := t.TempDir()
			df := filepath.Join(dfDir, "Dockerfile")
			if err := os.WriteFile(df, []byte(o.dockerfile), 0o644); err != nil {
				t.Fatal(err)
			}
			build := func(b builder) error {
				_, err := b.build(t.Context(), buildSpec{
					id:         fmt.Sprintf("outcome-%s-%d-%d", o.name, os.Getpid(), time.Now().UnixNano()),
					contextDir: ctxDir,
					dockerfile: df,
					out:        t.TempDir(),
				})
				return err
			}
			werr := build(whittle)
			if (werr == nil) != (o.want == "builds") {
				t.Errorf("whittle: %s, want it to %s", result(werr), map[bool]string{true: "build", false: "fail"}[o.want == "builds"])
			}
			if bk == nil {
				return
			}
			berr := build(bk)
			if (berr == nil) != (o.want != "fails") {
				t.Errorf("buildkit: %s, want it to %s", result(berr), map[bool]string{true: "build", false: "fail"}[o.want != "fails"])
			}
		})
	}
}

// result says how a build ended, in one line: its last line that names an
// error (a peer's error carries its output), else its first.
func result(err error) string {
	if err == nil {
		return "built"
	}
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	for i := len(lines) - 1; i > 0; i-- {
		if strings.Contains(strings.ToLower(lines[i]), "error") {
			return "failed: " + strings.TrimSpace(lines[i])
		}
	}
	return "failed: " + lines[0]
}
