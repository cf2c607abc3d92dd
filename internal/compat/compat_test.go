package compat

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

// contextTime is the modification time every file and directory of a
// case's build context gets before the builds (a checkout's times vary).
var contextTime = time.Date(2024, time.February, 3, 4, 5, 6, 0, time.UTC)

// TestCompat builds every case of compatCases (the feature Dockerfiles of
// testdata/compat and the examples) with whittle, buildah and the reference
// BuildKit, flattens the final images and compares them with whittle's:
// every path's type, mode, owner, link target, size and content digest
// (modification times where the case is about them), and the config's Env,
// Entrypoint, Cmd, User, WorkingDir, ExposedPorts, Volumes, StopSignal,
// Healthcheck, OnBuild, Shell and Labels. Differences listed as tolerances
// (each documented in testdata/compat/README.md) are logged, the rest fail
// the case with a diff. A missing peer is skipped with a reason (a failure
// when CI=true); BuildKit is the reference where it and buildah disagree.
//
// Needs root, buildah, the loopback registry of .ci/run and buildkitd; the
// examples (Go and Python toolchain bases) are left out with -short.
func TestCompat(t *testing.T) {
	testutil.RequireRoot(t)
	cases := compatCases()
	checkCorpus(t, cases)
	begin := time.Now()

	// The peers: each one missing is left out with the reason (testutil
	// fails the test instead when CI=true). Both pull from the registry.
	var peers []builder
	reg, bah, bk := &probeTB{TB: t}, &probeTB{TB: t}, &probeTB{TB: t}
	registry := testutil.LocalRegistry(reg)
	bin := testutil.Tool(bah, "buildah")
	buildctl, addr := testutil.Buildkit(bk)
	switch {
	case reg.skipped != "":
		t.Logf("buildah and BuildKit left out: %s", reg.skipped)
	case bah.skipped != "":
		t.Logf("buildah left out: %s", bah.skipped)
	default:
		env, err := buildahEnv(t.TempDir(), registry)
		if err != nil {
			t.Fatal(err)
		}
		bb := buildahBuilder{bin: bin, env: env, tags: &tagList{}}
		t.Cleanup(func() {
			if err := bb.remove(); err != nil {
				t.Errorf("removing buildah's images: %v", err)
			}
		})
		peers = append(peers, bb)
	}
	if reg.skipped == "" {
		if bk.skipped != "" {
			t.Logf("BuildKit left out: %s", bk.skipped)
		} else {
			peers = append(peers, buildkitBuilder{buildctl: buildctl, addr: addr})
		}
	}
	if len(peers) == 0 {
		t.Skip("neither buildah nor BuildKit is there to compare with")
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fx := &fixtures{
		registry: registry,
		st:       st,
		all:      bases(),
		once:     map[string]*sync.Once{},
		errs:     map[string]error{},
	}
	whittle := whittleBuilder{st: st}
	tm := &timings{}
	// Cases run a few at a time: each runs its three builds at once, and the
	// peers' builds are mostly waiting (commits, registry round trips).
	sem := make(chan struct{}, runtime.GOMAXPROCS(0)+1)
	// The slow cases start first, so that the small ones fill in around them.
	order := slices.Clone(cases)
	slices.SortStableFunc(order, func(a, b compatCase) int {
		switch {
		case a.slow == b.slow:
			return 0
		case a.slow:
			return -1
		}
		return 1
	})
	t.Run("case", func(t *testing.T) {
		for _, c := range order {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				if c.slow && testing.Short() {
					t.Skip("builds a toolchain image: not with -short")
				}
				sem <- struct{}{}
				defer func() { <-sem }()
				runCase(t, c, fx, whittle, peers, tm)
			})
		}
	})
	t.Run("outcome", func(t *testing.T) { runOutcomes(t, fx, whittle, peers) })
	t.Run("cache", func(t *testing.T) { runCacheScenarios(t, fx, whittle, peers) })
	tm.report(t)
	t.Logf("%d cases in %v", len(cases), time.Since(begin).Round(100*time.Millisecond))
}

// probeTB stands for the test in testutil's lookups of peers: a skip there
// (the peer is missing) is recorded and the test goes on without the peer;
// a failure (CI=true, where every peer must be there) fails the test.
type probeTB struct {
	testing.TB
	skipped string
}

func (p *probeTB) Skip(args ...any)                 { p.skipped = fmt.Sprint(args...) }
func (p *probeTB) Skipf(format string, args ...any) { p.skipped = fmt.Sprintf(format, args...) }
func (p *probeTB) SkipNow()                         { p.skipped = "skipped" }

// maxShown is how many differences a failing comparison prints.
const maxShown = 40

// runCase builds c with every builder at once and compares the peers'
// images with whittle's.
func runCase(t *testing.T, c compatCase, fx *fixtures, whittle builder, peers []builder, tm *timings) {
	fx.need(t, c.bases...)
	ctxDir := prepareContext(t, c)
	args := maps.Clone(c.buildArgs)
	if c.uniqueArg != "" {
		if args == nil {
			args = map[string]string{}
		}
		args[c.uniqueArg] = fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	if c.gitRepo != "" {
		if args == nil {
			args = map[string]string{}
		}
		args["REPO"] = serveGitRepo(t, filepath.Join(c.dir(t), c.gitRepo))
	}
	if c.http {
		if args == nil {
			args = map[string]string{}
		}
		args["URL"] = serveHTTP(t)
	}
	var secrets []string
	for _, id := range slices.Sorted(maps.Keys(c.secrets)) {
		src := filepath.Join(t.TempDir(), id)
		if err := os.WriteFile(src, []byte(c.secrets[id]), 0o600); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, "id="+id+",src="+src)
	}
	var ssh []string
	for _, id := range c.ssh {
		sock, _ := testutil.SSHAgent(t)
		ssh = append(ssh, id+"="+sock)
	}
	all := append([]builder{whittle}, peers...)
	images := make([]v1.Image, len(all))
	errs := make([]error, len(all))
	took := make([]time.Duration, len(all))
	var g errgroup.Group
	for i, b := range all {
		g.Go(func() error {
			out := filepath.Join(t.TempDir(), b.name())
			if err := os.MkdirAll(out, 0o755); err != nil {
				errs[i] = err
				return nil
			}
			begin := time.Now()
			defer func() { took[i] = time.Since(begin) }()
			images[i], errs[i] = b.build(t.Context(), buildSpec{
				id:         fmt.Sprintf("%s-%d-%d", c.name, os.Getpid(), time.Now().UnixNano()),
				contextDir: ctxDir,
				dockerfile: filepath.Join(ctxDir, c.dockerfileName()),
				target:     c.target,
				buildArgs:  args,
				labels:     c.labels,
				hosts:      c.hosts,
				secrets:    secrets,
				ssh:        ssh,
				platform:   c.platform,
				layers:     c.buildahLayers,
				out:        out,
			})
			tm.add(b.name(), c.name, time.Since(begin))
			return nil
		})
	}
	g.Wait() //nolint:errcheck // the builds' errors are in errs
	var tb strings.Builder
	for i, b := range all {
		fmt.Fprintf(&tb, " %s %v", b.name(), took[i].Round(10*time.Millisecond))
	}
	t.Logf("built in:%s", tb.String())
	if errs[0] != nil {
		t.Fatalf("whittle: %v", errs[0])
	}
	want, err := flatten(images[0])
	if err != nil {
		t.Fatalf("flattening whittle's image: %v", err)
	}
	wantCfg, err := images[0].ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if c.wantHistory != "" {
		if got := historyMarks(wantCfg); got != c.wantHistory {
			t.Errorf("whittle's history %s, want %s (L a layer, - none)", got, c.wantHistory)
		}
	}
	tols := append(slices.Clone(globalTolerances()), c.tolerate...)
	for i, p := range peers {
		img, err := images[i+1], errs[i+1]
		if err != nil {
			if p.name() == "buildah" && c.buildahUnsupported != "" {
				t.Logf("buildah cannot build this case (%s): %s", c.buildahUnsupported, firstLine(err))
				continue
			}
			t.Errorf("%s: %v", p.name(), err)
			continue
		}
		if p.name() == "buildah" && c.buildahUnsupported != "" {
			t.Logf("buildah built it after all (a newer buildah?): compared")
		}
		got, err := flatten(img)
		if err != nil {
			t.Errorf("flattening %s's image: %v", p.name(), err)
			continue
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Errorf("reading %s's config: %v", p.name(), err)
			continue
		}
		diffs := compareTrees(want, got, compareOptions{mtimes: c.mtimes})
		diffs = append(diffs, compareConfigs(wantCfg.Config, cfg.Config)...)
		if c.layers {
			diffs = append(diffs, compareLayers(images[0], img)...)
		}
		if p.name() == "buildkit" {
			hd, err := compareHistory(wantCfg, img)
			if err != nil {
				t.Errorf("reading %s's history: %v", p.name(), err)
			}
			diffs = append(diffs, hd...)
		}
		bad, tolerated := judge(p.name(), diffs, tols)
		for reason, ds := range tolerated {
			t.Logf("%s: %d tolerated difference(s): %s", p.name(), len(ds), reason)
		}
		if len(bad) > 0 {
			var b strings.Builder
			for i, d := range bad {
				if i == maxShown {
					fmt.Fprintf(&b, "\n\t... and %d more", len(bad)-maxShown)
					break
				}
				b.WriteString("\n\t" + d.format(p.name()))
			}
			t.Errorf("%s's image differs from whittle's (%d):%s", p.name(), len(bad), b.String())
		}
	}
}

// compareLayers compares the number of layers and which history entries
// have none: an instruction that changes nothing adds no layer.
func compareLayers(w, p v1.Image) []difference {
	describe := func(img v1.Image) string {
		cfg, err := img.ConfigFile()
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%d layers, history %s", len(cfg.RootFS.DiffIDs), historyMarks(cfg))
	}
	a, b := describe(w), describe(p)
	if a == b {
		return nil
	}
	return []difference{{field: "layers", whittle: a, peer: b}}
}

// historyMarks prints cfg's history as one mark per entry: "L" for one
// with a layer, "-" for an empty_layer one.
func historyMarks(cfg *v1.ConfigFile) string {
	var b strings.Builder
	for _, h := range cfg.History {
		if h.EmptyLayer {
			b.WriteString("-")
		} else {
			b.WriteString("L")
		}
	}
	return b.String()
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// prepareContext copies the case's directory into a new one that all the
// builders read: regular files 0644 (0755 when executable), directories
// 0755, every time contextTime; then the case's setup makes what a git
// checkout cannot hold (archives, hard links, special modes, times).
func prepareContext(t *testing.T, c compatCase) string {
	t.Helper()
	src := c.dir(t)
	dst := filepath.Join(t.TempDir(), "context")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if fi.Mode()&0o111 != 0 {
				mode = 0o755
			}
			if err := os.WriteFile(target, b, mode); err != nil {
				return err
			}
			return os.Chmod(target, mode)
		default:
			return fmt.Errorf("%s: unexpected file type %v", p, d.Type())
		}
	})
	if err != nil {
		t.Fatalf("copying the context of %s: %v", c.name, err)
	}
	if c.setup != nil {
		c.setup(t, dst)
	}
	setTimes(t, dst, c.keepTimes)
	return dst
}

// setTimes gives every path under dir contextTime, except those a case's
// setup gave times of its own (keep, relative paths).
func setTimes(t *testing.T, dir string, keep []string) {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !slices.Contains(keep, rel) {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Children first, so that setting them does not touch their directory
	// after it was set.
	slices.Reverse(paths)
	for _, p := range paths {
		if err := lchtimes(p, contextTime); err != nil {
			t.Fatalf("setting the times of %s: %v", p, err)
		}
	}
}

// checkCorpus fails t when the cases, the directories of testdata/compat and
// its README disagree: every directory is a case, every case is listed.
func checkCorpus(t *testing.T, cases []compatCase) {
	t.Helper()
	root := testutil.RepoPath(t, "testdata", "compat")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	features := 0
	for _, c := range cases {
		if known[c.name] {
			t.Errorf("case %s is listed twice", c.name)
		}
		known[c.name] = true
		if !strings.Contains(string(readme), "`"+c.name+"`") {
			t.Errorf("testdata/compat/README.md does not list case %s", c.name)
		}
		if c.example == "" {
			features++
		}
	}
	for _, e := range entries {
		if e.IsDir() && !known[e.Name()] {
			t.Errorf("testdata/compat/%s is no case of compatCases", e.Name())
		}
	}
	if features < 25 {
		t.Errorf("%d feature cases, want at least 25", features)
	}
}

// serveGitRepo makes a Git repository of the files in dir (one commit on
// main, tagged v1), serves it over smart HTTP on 127.0.0.1, and returns
// its URL. buildkitd and buildah run git on the host too, so they reach it.
func serveGitRepo(t *testing.T, dir string) string {
	t.Helper()
	work, root := t.TempDir(), t.TempDir()
	if err := os.CopyFS(work, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	testutil.GitCommit(t, work, nil, "compat")
	testutil.Git(t, work, "tag", "v1")
	testutil.Git(t, work, "clone", "-q", "--bare", work, filepath.Join(root, "repo.git"))
	return testutil.GitServer(t, root) + "/repo.git"
}

// serveHTTP serves the files of the add-http case on 127.0.0.1 and returns
// the server's URL: under /files/ with a Last-Modified time, /nolm/data.bin
// without one, /dl whatever the query, the root, and /cd/file with a
// Content-Disposition naming another file.
func serveHTTP(t *testing.T) string {
	t.Helper()
	modified := time.Date(2023, 5, 6, 7, 8, 9, 0, time.UTC)
	appTime := time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC)
	tgz := gzipBytes(t, tarBytes(t,
		tarFile{tar.Header{Typeflag: tar.TypeDir, Name: "app/", Mode: 0o755, Uid: 1234, Gid: 5678, ModTime: appTime}, ""},
		tarFile{tar.Header{Typeflag: tar.TypeReg, Name: "app/run.sh", Mode: 0o755, Uid: 1234, Gid: 5678, ModTime: appTime}, "#!/bin/sh\necho run\n"},
		tarFile{tar.Header{Typeflag: tar.TypeReg, Name: "app/conf", Mode: 0o640, Uid: 1234, Gid: 5678, ModTime: appTime}, "k=v\n"},
	))
	files := map[string]string{
		"/files/plain.txt":  "hello\n",
		"/files/script.sh":  "#!/bin/sh\necho script\n",
		"/files/app.tar.gz": string(tgz),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case files[p] != "":
			w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
			io.WriteString(w, files[p])
		case p == "/nolm/data.bin":
			io.WriteString(w, "no time\n")
		case p == "/dl":
			io.WriteString(w, "query "+r.URL.RawQuery+"\n")
		case p == "/":
			io.WriteString(w, "root\n")
		case p == "/cd/file":
			w.Header().Set("Content-Disposition", `attachment; filename="other.txt"`)
			io.WriteString(w, "disposition\n")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
