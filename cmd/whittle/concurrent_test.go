package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/whittle-build/whittle/internal/testutil"
)

// TestConcurrentBuilds runs whittle builds on one store at the same time,
// as separate processes: two different Dockerfiles (with a prune started in
// the middle, which must wait for them), then two identical ones (each time
// without the cache, so both really run, unpack and export the same layers
// at once). Every build succeeds and gives the right image; identical ones
// give one digest; the store is consistent and no staging is left.
func TestConcurrentBuilds(t *testing.T) {
	testutil.RequireRoot(t)
	root := filepath.Join(t.TempDir(), "store")
	if err := putImage(root, faultBase(t), "fault-base"); err != nil {
		t.Fatal(err)
	}
	context := func(who string) string {
		dir := t.TempDir()
		df := "FROM fault-base\nRUN sleep 0.3 && echo " + who + " > /who && cp -a /data/d00 /copy\nCMD [\"cat\", \"/who\"]\n"
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	both := func(t *testing.T, builds ...[]string) []*proc {
		t.Helper()
		var ps []*proc
		for _, args := range builds {
			ps = append(ps, startWhittle(t, root, args...))
		}
		return ps
	}
	waitAll := func(t *testing.T, ps []*proc) {
		t.Helper()
		for _, p := range ps {
			if err := p.wait(5 * time.Minute); err != nil {
				t.Errorf("whittle %s: %v\n%s", strings.Join(p.cmd.Args[3:], " "), err, p.output())
			}
		}
	}

	t.Run("different Dockerfiles and a prune", func(t *testing.T) {
		a, b := context("a"), context("b")
		ps := both(t,
			[]string{"build", "--progress", "json", "-t", "conc:a", a},
			[]string{"build", "--progress", "json", "-t", "conc:b", b},
		)
		// A prune started while they run waits for them, then keeps what
		// their names need.
		if _, ok := ps[0].event(time.Minute, started("RUN")); !ok {
			t.Fatalf("the first build's RUN never started:\n%s", ps[0].output())
		}
		ps = append(ps, startWhittle(t, root, "prune"))
		waitAll(t, ps)
		for _, who := range []string{"a", "b"} {
			if out := runWhittle(t, root, "run", "conc:"+who); out != who+"\n" {
				t.Errorf("conc:%s printed %q", who, out)
			}
		}
	})

	t.Run("identical Dockerfiles", func(t *testing.T) {
		same := context("same")
		for round := range 3 {
			iids := []string{filepath.Join(t.TempDir(), "1"), filepath.Join(t.TempDir(), "2")}
			ps := both(t,
				[]string{"build", "--progress", "json", "--no-cache", "--iidfile", iids[0], "-t", "same:1", same},
				[]string{"build", "--progress", "json", "--no-cache", "--iidfile", iids[1], "-t", "same:2", same},
			)
			waitAll(t, ps)
			if t.Failed() {
				t.Fatalf("round %d failed", round)
			}
			var digests []string
			for _, f := range iids {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				digests = append(digests, string(b))
			}
			if digests[0] != digests[1] {
				t.Errorf("round %d: identical builds gave %s and %s", round, digests[0], digests[1])
			}
			for _, n := range []string{"same:1", "same:2"} {
				if out := runWhittle(t, root, "run", n); out != "same\n" {
					t.Errorf("round %d: %s printed %q", round, n, out)
				}
			}
		}
	})

	if err := checkStore(root); err != nil {
		t.Errorf("the store after concurrent builds: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "tmp")); len(left) > 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("staging left: %v", names)
	}
	out := runWhittle(t, root, "images", "-q")
	if want := "conc:a\nconc:b\nfault-base:latest\nsame:1\nsame:2\n"; out != want {
		t.Errorf("images -q:\n%s\nwant:\n%s", out, want)
	}
}
