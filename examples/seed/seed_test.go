// Package seed_test is CI's run of the seed's examples (issue 6): it runs
// examples/seed/build.sh for example 4 (go) and example 6 (python), which
// makes the bases with `whittle base`, builds each example single-stage and
// multi-stage (and go on scratch), runs every image and measures it; then it
// checks what the script reports against the OCI layouts it wrote, runs the
// distroless finals itself, and runs the script a second time to see that
// every multi-stage final gets the same digest.
package seed_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/whittle-build/whittle/internal/testutil"
)

// row is one line of build.sh's results.tsv.
type row struct {
	example, variant, dir, digest string
	size, compressed, layers      int64
	shellsPMs, seconds, runs      string
}

// TestSeedGoPython builds and runs examples 4 and 6 the way build.sh does
// for the README's table, and checks the proofs for them: every
// image runs and answers, the distroless finals have no shell and no package
// manager, go multi is at least 50x and python multi at least 5x smaller
// than its single-stage image, and a second run gives the same digests.
func TestSeedGoPython(t *testing.T) {
	if testing.Short() {
		t.Skip("makes Debian bases and builds Go and Python images (minutes): not with -short")
	}
	testutil.RequireRoot(t)
	testutil.RequireNetwork(t, "`whittle base` downloads Debian packages from the host's apt sources")
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("build.sh needs %s: %v", tool, err)
		}
	}
	script := testutil.RepoPath(t, "examples", "seed", "build.sh")
	out := t.TempDir()

	first := buildSeed(t, script, out, "single multi compare")
	want := map[string]bool{"go-single": false, "go-multi": true, "go-multi-scratch": true, "python-single": false, "python-multi": true}
	for name, distroless := range want {
		r, ok := first[name]
		if !ok {
			t.Errorf("results.tsv has no %s", name)
			continue
		}
		if r.runs != "yes" {
			t.Errorf("%s did not run and answer (log: logs/%s.run.log)", name, name)
		}
		if distroless && r.shellsPMs != "none" {
			t.Errorf("%s has shells or package managers: %s", name, r.shellsPMs)
		}
		if !distroless && !strings.Contains(r.shellsPMs, "sh") {
			t.Errorf("%s reports no shell (%q): the analysis found nothing in a full Debian image", name, r.shellsPMs)
		}
		checkLayout(t, filepath.Join(out, name), r)
	}
	for _, c := range []struct {
		single, multi string
		min           float64
	}{
		{"go-single", "go-multi", 50},
		{"python-single", "python-multi", 5},
	} {
		s, m := first[c.single], first[c.multi]
		if s.size == 0 || m.size == 0 {
			continue // reported above
		}
		ratio := float64(s.size) / float64(m.size)
		t.Logf("%s / %s = %.1fx (%d / %d bytes)", c.single, c.multi, ratio, s.size, m.size)
		if ratio < c.min {
			t.Errorf("%s is only %.1fx smaller than %s, want at least %gx", c.multi, ratio, c.single, c.min)
		}
	}

	// The finals, run from the store without the script: the distroless
	// ones have no shell, so only their own command can answer.
	whittle := filepath.Join(out, "bin", "whittle")
	store := filepath.Join(out, "store")
	serve(t, whittle, store, "seed/go:multi", "/api/hello", `{"language":"go","message":"hello from the seed"}`+"\n")
	serve(t, whittle, store, "seed/python:multi", "/api/items/bolts", `{"bin": "A3", "count": 120, "name": "bolts"}`+"\n")
	shell(t, whittle, store, "seed/go:multi")
	shell(t, whittle, store, "seed/python:multi")

	// Built again from nothing but the bases (build.sh passes --no-cache):
	// the same digests, which build.sh itself also compares.
	second := buildSeed(t, script, out, "multi compare")
	for name, distroless := range want {
		if !distroless {
			continue
		}
		if a, b := first[name].digest, second[name].digest; a == "" || a != b {
			t.Errorf("%s: the second build gave %s, the first %s", name, b, a)
		}
	}
}

// buildSeed runs build.sh for go and python into out and returns its
// results by directory name. The script's own checks (ratios, distroless
// finals, digests against the previous run) make it exit 1.
func buildSeed(t *testing.T, script, out, variants string) map[string]row {
	t.Helper()
	cmd := exec.Command("bash", script, out)
	cmd.Env = append(os.Environ(), "SEED_EXAMPLES=go python", "SEED_VARIANTS="+variants, "WHITTLE_ROOT=")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	begin := time.Now()
	err := cmd.Run()
	t.Logf("build.sh (%s) in %v:\n%s", variants, time.Since(begin).Round(time.Second), log.String())
	if err != nil {
		t.Fatalf("build.sh failed: %v", err)
	}
	if left := running(t, filepath.Join(out, "bin", "whittle")); len(left) > 0 {
		t.Errorf("build.sh left whittle running: %s", strings.Join(left, "; "))
	}
	return readResults(t, filepath.Join(out, "results.tsv"))
}

// running lists the processes whose command starts with bin (the services
// build.sh starts with `whittle run` must all be stopped when it ends).
func running(t *testing.T, bin string) []string {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if args[0] == bin {
			out = append(out, filepath.Base(filepath.Dir(p))+": "+strings.Join(args, " "))
		}
	}
	return out
}

func readResults(t *testing.T, path string) map[string]row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]row{}
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		if first {
			continue // the header
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 10 {
			t.Fatalf("%s: %q has %d columns, want 10", path, sc.Text(), len(c))
		}
		r := row{example: c[0], variant: c[1], dir: c[2], digest: c[3], shellsPMs: c[7], seconds: c[8], runs: c[9]}
		for i, p := range []*int64{&r.size, &r.compressed, &r.layers} {
			n, err := strconv.ParseInt(c[4+i], 10, 64)
			if err != nil {
				t.Fatalf("%s: column %d of %q: %v", path, 5+i, sc.Text(), err)
			}
			*p = n
		}
		rows[r.dir] = r
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// checkLayout opens the OCI layout build.sh wrote for r and checks that it
// holds the image the table reports: digest, compressed bytes, layers; a
// multi-stage final also runs as 65532 and has none of a shell, apt, dpkg
// or pip in its filesystem.
func checkLayout(t *testing.T, dir string, r row) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Errorf("%s: %v", r.dir, err)
		return
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("%s: index.json lists %d images, want 1", r.dir, len(im.Manifests))
	}
	if got := im.Manifests[0].Digest.String(); got != r.digest {
		t.Errorf("%s: the layout holds %s, the table says %s", r.dir, got, r.digest)
	}
	img, err := p.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var compressed int64
	for _, l := range m.Layers {
		compressed += l.Size
	}
	if compressed != r.compressed || int64(len(m.Layers)) != r.layers {
		t.Errorf("%s: the layout has %d layers, %d compressed bytes; the table says %d, %d",
			r.dir, len(m.Layers), compressed, r.layers, r.compressed)
	}
	if !strings.HasPrefix(r.variant, "multi") {
		return
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("%s: User = %q, want 65532:65532", r.dir, cfg.Config.User)
	}
	files := paths(t, img)
	for _, f := range []string{"/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/bash", "/bin/busybox",
		"/usr/bin/apt", "/usr/bin/apt-get", "/usr/bin/dpkg", "/usr/bin/pip", "/usr/bin/pip3"} {
		if files[f] {
			t.Errorf("%s has %s", r.dir, f)
		}
	}
	app := map[string]string{"go": "/greeter", "python": "/app/server.py"}[r.example]
	if !files[app] {
		t.Errorf("%s has no %s", r.dir, app)
	}
}

// paths lists the files of img's flattened filesystem, symlinks included.
func paths(t *testing.T, img v1.Image) map[string]bool {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]bool{}
	testutil.EachTarEntry(t, rc, func(h *tar.Header, _ io.Reader) {
		out["/"+strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = true
	})
	return out
}

// serve runs image with `whittle run` on a free loopback port and checks
// that GET path answers want.
func serve(t *testing.T, whittle, store, image, path, want string) {
	t.Helper()
	port := testutil.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, whittle, "--root", store, "run", "-e", "BIND=127.0.0.1", "-e", "PORT="+strconv.Itoa(port), image)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	body, err := testutil.GetOK(fmt.Sprintf("http://127.0.0.1:%d%s", port, path), 30*time.Second)
	cancel()
	werr := cmd.Wait()
	if err != nil {
		t.Errorf("%s did not answer GET %s: %v\nits output (%v):\n%s", image, path, err, werr, log.String())
	} else if body != want {
		t.Errorf("%s: GET %s = %q, want %q", image, path, body, want)
	}
}

// shell checks that image cannot run a shell: `whittle run IMAGE sh -c`
// must fail, and say so.
func shell(t *testing.T, whittle, store, image string) {
	t.Helper()
	cmd := exec.Command(whittle, "--root", store, "run", "--entrypoint", "sh", image, "-c", "echo shell")
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 127 || strings.Contains(string(b), "shell\n") {
		t.Errorf("%s: running sh: %v, want exit status 127 (not found)\n%s", image, err, b)
	}
}
