package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/whittle-build/whittle/internal/progress"
	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

// faultDockerfile is the build the fault tests interrupt: a base with a
// 48 MB layer to unpack (see faultBase), a RUN that runs for a second or
// so and copies that layer's files, so that exporting compresses 48 MB, and
// a small last step. MARKER makes the RUN's processes findable in /proc.
const faultDockerfile = `FROM fault-base
RUN : MARKER && sleep 0.5 && cp -a /data /datacopy
RUN echo done > /done
CMD ["cat", "/done"]
`

var (
	faultBaseOnce sync.Once
	faultBaseImg  v1.Image
	faultBaseErr  error
)

// faultBase returns the base image of faultDockerfile: busybox and a layer
// of 3,000 files of 16 KiB (48 MiB, pseudo-random so compression cannot
// shrink it) under /data. The same bytes every time.
func faultBase(t *testing.T) v1.Image {
	t.Helper()
	busybox := testutil.BusyboxImage(t)
	faultBaseOnce.Do(func() {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		rng := rand.NewChaCha8([32]byte{'w', 'h', 'i', 't', 't', 'l', 'e'})
		content := make([]byte, 16<<10)
		hdr := func(h *tar.Header) {
			h.ModTime, h.Uname, h.Gname = testutil.FixtureTime, "", ""
			if faultBaseErr == nil {
				faultBaseErr = tw.WriteHeader(h)
			}
		}
		hdr(&tar.Header{Typeflag: tar.TypeDir, Name: "data/", Mode: 0o755})
		for d := 0; d < 30; d++ {
			hdr(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("data/d%02d/", d), Mode: 0o755})
			for i := 0; i < 100; i++ {
				rng.Read(content)
				hdr(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("data/d%02d/f%03d", d, i), Mode: 0o644, Size: int64(len(content))})
				if faultBaseErr == nil {
					_, faultBaseErr = tw.Write(content)
				}
			}
		}
		if faultBaseErr == nil {
			faultBaseErr = tw.Close()
		}
		if faultBaseErr != nil {
			return
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
		}, tarball.WithCompressionLevel(gzip.BestSpeed), tarball.WithMediaType(types.OCILayer))
		if err != nil {
			faultBaseErr = err
			return
		}
		faultBaseImg, faultBaseErr = mutate.Append(busybox, mutate.Addendum{
			Layer:   layer,
			History: v1.History{Created: v1.Time{Time: testutil.FixtureTime}, CreatedBy: "whittle fault test: /data"},
		})
	})
	if faultBaseErr != nil {
		t.Fatalf("making the fault test's base image: %v", faultBaseErr)
	}
	return faultBaseImg
}

// faultEnv is a context directory with faultDockerfile, and what an
// undisturbed build of it gave.
type faultEnv struct {
	ctxDir string
	marker string
	// digest is the undisturbed build's image digest.
	digest string
	// total, runWindow and export are how long the undisturbed build took
	// in all, from its RUN's process appearing to the RUN's end, and to
	// export.
	total, runWindow, export time.Duration
}

// newFaultEnv writes the context and makes the reference build in a store
// of its own.
func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	testutil.RequireRoot(t)
	f := &faultEnv{marker: "whittle-fault-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	f.ctxDir = t.TempDir()
	df := strings.Replace(faultDockerfile, "MARKER", f.marker, 1)
	if err := os.WriteFile(filepath.Join(f.ctxDir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	root := f.newStore(t)
	iid := filepath.Join(t.TempDir(), "iid")
	p := startWhittle(t, root, "build", "--progress", "json", "--iidfile", iid, "-t", "fault:ref", f.ctxDir)
	markerSeen := f.waitMarker(p, 5*time.Minute)
	if err := p.wait(5 * time.Minute); err != nil {
		t.Fatalf("reference build: %v\n%s", err, p.output())
	}
	f.total = time.Since(p.start)
	if ev, ok := p.event(0, finished("RUN : "+f.marker)); ok && !markerSeen.IsZero() {
		f.runWindow = ev.Time.Sub(markerSeen)
	}
	if ev, ok := p.event(0, finished("exporting to image")); ok {
		f.export = ev.Elapsed
	}
	b, err := os.ReadFile(iid)
	if err != nil {
		t.Fatal(err)
	}
	f.digest = strings.TrimSpace(string(b))
	t.Logf("reference build: %s in %v (RUN window %v, export %v)", f.digest, f.total.Round(time.Millisecond), f.runWindow.Round(time.Millisecond), f.export.Round(time.Millisecond))
	return f
}

// newStore returns a new store directory holding the base image.
func (f *faultEnv) newStore(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "store")
	if err := putImage(root, faultBase(t), "fault-base"); err != nil {
		t.Fatal(err)
	}
	return root
}

// waitMarker waits until the RUN's process is running (returning when it
// was first seen) or p exits (zero time).
func (f *faultEnv) waitMarker(p *proc, d time.Duration) time.Time {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && !p.exited() {
		if len(processesWith(f.marker)) > 0 {
			return time.Now()
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Time{}
}

// waitUnpack waits until a layer is being unpacked into the store's staging
// area, or p exits (false).
func waitUnpack(p *proc, root string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && !p.exited() {
		if m, _ := filepath.Glob(filepath.Join(root, "tmp", "s-*", "unpack-*")); len(m) > 0 {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}

// jitter returns a random duration in [0, d).
func jitter(r *rand.Rand, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(r.Int64N(int64(d)))
}

// kill sends SIGKILL to the whittle process (not its children: they must
// die of it on their own), waits for everything it started to be gone and
// checks what it left: nothing mounted, a consistent store. It reports
// whether the process was still running when killed.
func (f *faultEnv) kill(t *testing.T, p *proc, root string) bool {
	t.Helper()
	landed := !p.exited()
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(time.Minute)
	waitGone(t, 20*time.Second, root, f.marker)
	if ms, err := mountsUnder(root); err != nil || len(ms) > 0 {
		t.Errorf("after SIGKILL, mounted under the store: %v %v", ms, err)
	}
	if err := checkStore(root); err != nil {
		t.Errorf("after SIGKILL, the store is inconsistent: %v", err)
	}
	return landed
}

// TestFaultSIGKILL kills `whittle build` with SIGKILL at random points
// (while a layer is unpacked, while a RUN runs, while the image is exported
// and named, and at a random time), several times in a row on one store,
// then builds again: the build succeeds with the digest of an undisturbed
// build, the store is consistent after every kill, nothing is left mounted
// or running, the dead builds' staging is swept, and prune works.
// WHITTLE_FAULT_SEEDS=N runs N seeds (default 3).
func TestFaultSIGKILL(t *testing.T) {
	f := newFaultEnv(t)
	seeds := 3
	if s := os.Getenv("WHITTLE_FAULT_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("WHITTLE_FAULT_SEEDS=%q: %v", s, err)
		}
		seeds = n
	}
	var (
		mu     sync.Mutex
		landed = map[string]int{}
	)
	// The seeds run in parallel, each on stores of its own: the kills are
	// timed by what each build reports, and slower builds only make them
	// land more surely.
	t.Run("seeds", func(t *testing.T) {
		for seed := 1; seed <= seeds; seed++ {
			t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
				t.Parallel()
				f.seed(t, seed, func(phase string) { mu.Lock(); landed[phase]++; mu.Unlock() })
			})
		}
	})
	t.Logf("SIGKILLs that landed before the build ended, of %d seeds: %v", seeds, landed)
	if seeds >= 3 && !t.Failed() {
		for _, phase := range []string{"unpack", "run", "export", "random"} {
			if landed[phase] == 0 {
				t.Errorf("no SIGKILL landed during %s: the test proved nothing there", phase)
			}
		}
	}
}

// seed runs one seed of TestFaultSIGKILL, calling landed with the phase of
// each kill that came before the build's end.
func (f *faultEnv) seed(t *testing.T, seed int, landed func(phase string)) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	root := f.newStore(t)
	build := func() *proc {
		return startWhittle(t, root, "build", "--progress", "json", "-t", "fault:1", f.ctxDir)
	}
	hit := func(phase string, p *proc) {
		if f.kill(t, p, root) {
			landed(phase)
		}
		t.Logf("%s: killed %v after the start", phase, time.Since(p.start).Round(time.Millisecond))
	}

	// 1. While the base is unpacked.
	p := build()
	if !waitUnpack(p, root, 2*time.Minute) {
		t.Fatalf("no unpack seen: %v\n%s", p.wait(time.Minute), p.output())
	}
	time.Sleep(jitter(r, 300*time.Millisecond))
	hit("unpack", p)

	// 2. While the RUN runs (or its layer is committed).
	p = build()
	if f.waitMarker(p, 2*time.Minute).IsZero() {
		t.Fatalf("the RUN never started: %v\n%s", p.wait(time.Minute), p.output())
	}
	time.Sleep(jitter(r, f.runWindow))
	hit("run", p)

	// 3. While the image is exported (layers compressed, blobs
	// written) and named.
	p = build()
	if _, ok := p.event(5*time.Minute, started("exporting to image")); !ok {
		t.Fatalf("no export seen: %v\n%s", p.wait(time.Minute), p.output())
	}
	time.Sleep(jitter(r, f.export*4/5))
	hit("export", p)
	f.rebuild(t, root)

	// 4. At a random time of a build from scratch, in a new store.
	root = f.newStore(t)
	p = build()
	time.Sleep(jitter(r, f.total))
	hit("random", p)
	f.rebuild(t, root)
}

// rebuild builds again after kills: the build succeeds with the digest of
// the undisturbed build and runs; the killed builds' staging is swept; the
// store is consistent; prune works and keeps what the image needs.
func (f *faultEnv) rebuild(t *testing.T, root string) {
	t.Helper()
	begin := time.Now()
	defer func() { t.Logf("rebuild and checks: %v", time.Since(begin).Round(time.Millisecond)) }()
	iid := filepath.Join(t.TempDir(), "iid")
	runWhittle(t, root, "build", "--progress", "quiet", "--iidfile", iid, "-t", "fault:1", f.ctxDir)
	b, err := os.ReadFile(iid)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != f.digest {
		t.Errorf("after the kills the build gave %s, an undisturbed one %s", got, f.digest)
	}
	if out := runWhittle(t, root, "run", "fault:1"); out != "done\n" {
		t.Errorf("whittle run fault:1 printed %q", out)
	}
	if out := runWhittle(t, root, "run", "fault:1", "sh", "-c", "find /datacopy -type f | wc -l"); out != "3000\n" {
		t.Errorf("the RUN's files are not in the image: %q", out)
	}
	// The finished builds swept the staging of the killed ones.
	if left, _ := os.ReadDir(filepath.Join(root, "tmp")); len(left) > 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("staging left in %s/tmp: %v", root, names)
	}
	if err := checkStore(root); err != nil {
		t.Errorf("after the rebuild: %v", err)
	}
	runWhittle(t, root, "prune")
	if err := checkStore(root); err != nil {
		t.Errorf("after prune: %v", err)
	}
	if out := runWhittle(t, root, "run", "fault:1"); out != "done\n" {
		t.Errorf("after prune, whittle run fault:1 printed %q", out)
	}
}

// TestInterruptRUN sends SIGINT (Ctrl-C) to `whittle build` while a RUN
// runs: it exits non-zero within seconds, its RUN processes and mounts are
// gone, and the next open of the store finds no staging left.
func TestInterruptRUN(t *testing.T) {
	testutil.RequireRoot(t)
	marker := "whittle-sigint-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	dir := t.TempDir()
	df := "FROM busybox\nRUN echo " + marker + " && sleep 60\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "store")
	if err := putImage(root, testutil.BusyboxImage(t), "busybox"); err != nil {
		t.Fatal(err)
	}
	p := startWhittle(t, root, "build", "--progress", "json", dir)
	if _, ok := p.event(time.Minute, func(ev progress.Event) bool { return strings.Contains(string(ev.Data), marker) }); !ok {
		t.Fatalf("the RUN did not start: %v\n%s", p.wait(time.Minute), p.output())
	}
	sent := time.Now()
	p.cmd.Process.Signal(syscall.SIGINT)
	err := p.wait(30 * time.Second)
	took := time.Since(sent)
	if exitStatus(err) != 130 {
		t.Errorf("whittle build exited with %v after SIGINT, want status 130 (128+SIGINT)", err)
	}
	if took > 5*time.Second {
		t.Errorf("whittle build took %v to exit after SIGINT", took)
	}
	t.Logf("exited %v after SIGINT: %v", took.Round(time.Millisecond), err)
	if _, ok := p.event(0, func(ev progress.Event) bool { return ev.Status == "canceled" || ev.Status == "error" }); !ok {
		t.Errorf("no canceled or error event for the RUN:\n%s", p.output())
	}
	waitGone(t, 10*time.Second, root, marker)
	if ms, err := mountsUnder(root); err != nil || len(ms) > 0 {
		t.Errorf("after SIGINT, mounted under the store: %v %v", ms, err)
	}
	if err := checkStore(root); err != nil {
		t.Errorf("after SIGINT, the store is inconsistent: %v", err)
	}
	// The next open sweeps what is left: only its own session remains.
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	left, _ := os.ReadDir(filepath.Join(root, "tmp"))
	var others []string
	for _, e := range left {
		if !strings.HasPrefix(filepath.Join(root, "tmp", e.Name()), sessionOf(t, st)) {
			others = append(others, e.Name())
		}
	}
	if len(others) > 0 {
		t.Errorf("staging left after the next open: %v", others)
	}
}

// sessionOf returns the staging directory of the open store st (its
// session's, under tmp/).
func sessionOf(t *testing.T, st *store.Store) string {
	t.Helper()
	d, err := st.TempDir("probe-")
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(d)
}

// TestFaultPrune kills `whittle prune` with SIGKILL while it removes an
// unpacked layer: the layer must then be either wholly there or gone,
// never half removed under its final name, where the next build would
// take it for complete and run on a rootfs with files missing.
func TestFaultPrune(t *testing.T) {
	testutil.RequireRoot(t)
	base := faultBase(t)
	cfg, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	data := cfg.RootFS.DiffIDs[len(cfg.RootFS.DiffIDs)-1]
	dir := t.TempDir()
	df := "FROM fault-base\nRUN find /data -type f | wc -l > /count\nCMD [\"cat\", \"/count\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	landed := 0
	for attempt := 1; attempt <= 8 && landed == 0; attempt++ {
		root := filepath.Join(t.TempDir(), "store")
		if err := putImage(root, base, "fault-base"); err != nil {
			t.Fatal(err)
		}
		runWhittle(t, root, "build", "--progress", "quiet", "-t", "count:1", dir)
		snap := filepath.Join(root, "snapshots", data.Algorithm, data.Hex)
		if _, err := os.Stat(filepath.Join(snap, "data")); err != nil {
			t.Fatalf("the base's /data layer is not unpacked at %s: %v", snap, err)
		}
		runWhittle(t, root, "rmi", "fault-base", "count:1")

		// Kill the prune once some, not all, of /data's 30 directories are
		// gone: wherever the layer is being removed, in place or after a
		// move into the staging area.
		p := startWhittle(t, root, "prune", "--all")
		hit := false
		for !p.exited() && !hit {
			dirs, _ := filepath.Glob(filepath.Join(root, "tmp", "s-*", "*", "*", "data"))
			for _, d := range append(dirs, filepath.Join(snap, "data")) {
				if entries, err := os.ReadDir(d); err == nil && len(entries) > 0 && len(entries) < 30 {
					p.cmd.Process.Signal(syscall.SIGKILL)
					hit = true
					break
				}
			}
		}
		p.wait(time.Minute)
		waitGone(t, 20*time.Second, root)
		if !hit {
			continue
		}
		landed++
		if err := checkStore(root); err != nil {
			t.Errorf("after killing prune, the store is inconsistent: %v", err)
		}
		if n := countFiles(filepath.Join(snap, "data")); n != 0 && n != 3000 {
			t.Errorf("after killing prune, the layer %s is half removed under its final name: %d of 3000 files", data, n)
		}
		// The base is fetched again (here: written again); the build must see all of it.
		if err := putImage(root, base, "fault-base"); err != nil {
			t.Fatal(err)
		}
		runWhittle(t, root, "build", "--progress", "quiet", "--no-cache", "-t", "count:2", dir)
		if out := runWhittle(t, root, "run", "count:2"); out != "3000\n" {
			t.Errorf("after killing prune, a build on the base sees %q files in /data, want 3000", strings.TrimSpace(out))
		}
	}
	if landed == 0 {
		t.Fatal("no SIGKILL landed while prune removed the layer: the test proved nothing")
	}
	t.Logf("%d kills landed while prune removed the layer", landed)
}

// countFiles counts the regular files under dir (0 when it is absent).
func countFiles(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}
