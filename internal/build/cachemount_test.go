package build

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCacheMountPersists: a cache mount keeps its files from one build to
// the next (the second build's RUN differs, so it runs), and neither the
// files nor the mount point end up in a layer.
func TestCacheMountPersists(t *testing.T) {
	e := newEnv(t)
	df := func(step string) string {
		return `FROM busybox
RUN --mount=type=cache,target=/var/cache/app,id=appcache --mount=type=cache,target=/root/.cache/tool \
    echo ` + step + ` >> /var/cache/app/log && cat /var/cache/app/log > /seen && touch /root/.cache/tool/x
`
	}
	dir := contextDir(t, map[string]string{"Dockerfile": df("one")})
	img, _ := e.mustBuild(dir, Options{})
	fs := filesystem(t, img)
	if got := fs["/seen"].content; got != "one\n" {
		t.Fatalf("first build saw %q", got)
	}
	for _, p := range []string{"/var/cache/app/log", "/var/cache/app", "/var/cache", "/var", "/root/.cache"} {
		if _, ok := fs[p]; ok {
			t.Errorf("%s is in the image", p)
		}
	}
	// The RUN's layer is its one file and the runtime's mount points that
	// the base lacks (as in BuildKit): /root, which got a mount point, is
	// not in it either.
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if got := layerNames(t, ls[len(ls)-1]); strings.Join(got, " ") != "dev proc seen sys" {
		t.Errorf("the RUN's layer holds %q, want only seen and dev, proc, sys", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df("two")), 0o644); err != nil {
		t.Fatal(err)
	}
	img, _ = e.mustBuild(dir, Options{})
	if got := filesystem(t, img)["/seen"].content; got != "one\ntwo\n" {
		t.Errorf("second build saw %q, want the first build's line too", got)
	}
	// The directory is in the store, under mounts/.
	entries, err := os.ReadDir(filepath.Join(e.st.Root(), "mounts"))
	if err != nil {
		t.Fatal(err)
	}
	dirs := 0
	for _, en := range entries {
		if en.IsDir() && !strings.Contains(en.Name(), ".") {
			dirs++
		}
	}
	if dirs != 2 {
		t.Errorf("%d cache directories in the store, want 2", dirs)
	}
}

// TestCacheMountNoCache: a step run with the cache ignored starts with an
// empty cache mount, and the builds after it see what it left, not what
// was there before (BuildKit v0.34 does both: checked with buildctl
// --no-cache, whose cache-mounted go build then compiles from nothing).
// A cache mount is emptied once per build: a later step of the same
// --no-cache build sees what an earlier one left (BuildKit does too; a
// `go mod download` step then feeds a `--network=none` build step).
// --no-cache-filter does it to the named stage's steps only, not to those
// of stages built on it, which run again without ignoring the cache.
func TestCacheMountNoCache(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": `FROM busybox AS base
ARG N
RUN --mount=type=cache,id=c,target=/c ls /c > /seen-base && touch /c/base$N
FROM base AS child
RUN --mount=type=cache,id=d,target=/d ls /d > /seen-child && touch /d/child$N
RUN --mount=type=cache,id=c,target=/again ls /again > /seen-again
FROM busybox
COPY --from=child /seen-base /seen-child /seen-again /
`})
	var again []string
	seen := func(o Options, n string) (base, child []string) {
		t.Helper()
		o.BuildArgs = map[string]string{"N": n}
		img, _ := e.mustBuild(dir, o)
		fs := filesystem(t, img)
		again = strings.Fields(fs["/seen-again"].content)
		return strings.Fields(fs["/seen-base"].content), strings.Fields(fs["/seen-child"].content)
	}
	check := func(step string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s saw %q, want %q", step, got, want)
		}
	}
	b, c := seen(Options{}, "1")
	check("build 1's base", b)
	check("build 1's child", c)
	b, c = seen(Options{}, "2")
	check("build 2's base", b, "base1")
	check("build 2's child", c, "child1")
	b, c = seen(Options{NoCache: true}, "3")
	check("build 3 (--no-cache), base", b)
	check("build 3 (--no-cache), child", c)
	check("build 3 (--no-cache), the later step on base's cache", again, "base3")
	b, c = seen(Options{}, "4")
	check("build 4's base", b, "base3")
	check("build 4's child", c, "child3")
	b, c = seen(Options{NoCacheFilter: []string{"base"}}, "5")
	check("build 5 (--no-cache-filter base), base", b)
	check("build 5 (--no-cache-filter base), child", c, "child3", "child4")
	check("build 5 (--no-cache-filter base), the later step on base's cache", again, "base5")
}

// sharingDockerfile has two stages that run at once, each with the cache
// mount "c" of the given sharing; each RUN touches its name in "c", logs
// its start in a shared cache mount "log", waits (up to 6 s) for the other
// to start, lists "c" and logs its end. The last stage records the log.
func sharingDockerfile(sharing string) string {
	run := func(me, other string) string {
		return `RUN --mount=type=cache,id=log,target=/log --mount=type=cache,id=c,target=/c,sharing=` + sharing + ` \
    touch /c/` + me + `; echo start-` + me + ` >> /log/log; \
    i=0; while [ $i -lt 60 ] && ! grep -q start-` + other + ` /log/log; do sleep 0.1; i=$((i+1)); done; \
    ls /c > /seen; echo end-` + me + ` >> /log/log
`
	}
	return "FROM busybox AS a\n" + run("a", "b") +
		"FROM busybox AS b\n" + run("b", "a") +
		`FROM busybox
COPY --from=a /seen /seen-a
COPY --from=b /seen /seen-b
RUN --mount=type=cache,id=log,target=/log cat /log/log > /order
`
}

func TestCacheMountSharing(t *testing.T) {
	tests := []struct {
		sharing string
		// overlap: the two RUNs ran at the same time (else one after the other).
		overlap bool
		// seeOther: each RUN saw the other's file in /c.
		seeOther bool
	}{
		{"shared", true, true},
		{"locked", false, false}, // the second sees the first's file, checked below
		{"private", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.sharing, func(t *testing.T) {
			e := newEnv(t)
			dir := contextDir(t, map[string]string{"Dockerfile": sharingDockerfile(tt.sharing)})
			img, _ := e.mustBuild(dir, Options{Jobs: 4})
			fs := filesystem(t, img)
			order := strings.Fields(fs["/order"].content)
			if len(order) != 4 {
				t.Fatalf("log %q", order)
			}
			overlap := strings.HasPrefix(order[1], "start-")
			if overlap != tt.overlap {
				t.Errorf("sharing=%s: RUNs overlapped: %v, want %v (log %q)", tt.sharing, overlap, tt.overlap, order)
			}
			seenA, seenB := strings.Fields(fs["/seen-a"].content), strings.Fields(fs["/seen-b"].content)
			switch tt.sharing {
			case "locked":
				// One after the other, on one directory: the second sees both.
				first, second := seenA, seenB
				if order[0] == "start-b" {
					first, second = seenB, seenA
				}
				if len(first) != 1 || len(second) != 2 {
					t.Errorf("locked: first saw %q, second %q", first, second)
				}
			default:
				want := 1
				if tt.seeOther {
					want = 2
				}
				if len(seenA) != want || len(seenB) != want {
					t.Errorf("sharing=%s: a saw %q, b saw %q; want %d files each", tt.sharing, seenA, seenB, want)
				}
			}
		})
	}
}

// TestCacheMountSeedAndOwner: from= seeds a new cache with a stage's
// files; uid, gid and mode set its root; the seed is part of its identity.
func TestCacheMountSeedAndOwner(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox AS seed
RUN mkdir -p /deps && echo v1 > /deps/pkg

FROM busybox
RUN --mount=type=cache,target=/c,from=seed,source=/deps \
    cat /c/pkg > /from-seed && echo added > /c/new
RUN --mount=type=cache,target=/c,from=seed,source=/deps cat /c/new > /persisted
RUN --mount=type=cache,target=/o,uid=1000,gid=1000,mode=0750 stat -c '%u:%g %a' /o > /owner
`,
	})
	img, _ := e.mustBuild(dir, Options{})
	fs := filesystem(t, img)
	if got := fs["/from-seed"].content; got != "v1\n" {
		t.Errorf("seeded cache had %q, want the stage's file", got)
	}
	if got := fs["/persisted"].content; got != "added\n" {
		t.Errorf("the seeded cache did not keep a write: %q", got)
	}
	if got := fs["/owner"].content; got != "1000:1000 750\n" {
		t.Errorf("cache root is %q, want 1000:1000 750", got)
	}
	if _, ok := fs["/c"]; ok {
		t.Error("the mount point /c is in the image")
	}
}
