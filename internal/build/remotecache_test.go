package build

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/progress"
	"github.com/whittle-build/whittle/internal/remotecache"
	"github.com/whittle-build/whittle/internal/testutil"
)

// sharedCacheFiles is a two-stage build: a builder whose file the final
// stage copies, and a final stage with COPY from the context and RUN.
var sharedCacheFiles = map[string]string{
	"Dockerfile": `FROM busybox AS builder
RUN echo built > /out && mkdir -p /opt/tool && echo tool > /opt/tool/bin
RUN echo second >> /out

FROM busybox
COPY app.txt /app/
COPY --from=builder /out /app/out
RUN cat /app/out /app/app.txt > /app/both
WORKDIR /app
CMD ["cat", "/app/both"]
`,
	"app.txt": "application\n",
}

// cached returns the names of the steps that came from the cache.
func (e *events) cached() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.evs {
		if ev.Status == progress.Cached {
			out = append(out, ev.Name)
		}
	}
	return out
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var cacheEpoch = time.Unix(1700000000, 0).UTC()

// TestSharedCache builds in store A with --cache-to and in an empty store B
// (the base image only, a context in another directory) with --cache-from:
// every step is a hit, no RUN executes, the image is the same.
func TestSharedCache(t *testing.T) {
	for _, tc := range []struct {
		name string
		// specs returns the --cache-to and --cache-from values.
		specs func(t *testing.T) (to, from string)
	}{
		{"registry", func(t *testing.T) (string, string) {
			ref := testutil.Registry(t) + "/app/cache:main"
			return "type=registry,ref=" + ref + ",mode=max", ref // a bare reference is type=registry
		}},
		{"docker-registry", func(t *testing.T) (string, string) {
			ref := testutil.LocalRegistry(t) + "/whittle-test/build-cache:" + strconv.FormatInt(time.Now().UnixNano(), 36)
			return "type=registry,ref=" + ref + ",mode=max", "type=registry,ref=" + ref
		}},
		{"local", func(t *testing.T) (string, string) {
			dir := filepath.Join(t.TempDir(), "cache")
			return "type=local,dest=" + dir + ",mode=max", "type=local,src=" + dir
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to, from := tc.specs(t)
			toSpec, err := remotecache.ParseTo(to)
			if err != nil {
				t.Fatal(err)
			}
			fromSpec, err := remotecache.ParseFrom(from)
			if err != nil {
				t.Fatal(err)
			}
			a := newEnv(t)
			imgA, evsA := a.mustBuild(contextDir(t, sharedCacheFiles), Options{Epoch: &cacheEpoch, CacheTo: []remotecache.Spec{toSpec}})
			if ran := evsA.executed("RUN"); len(ran) != 3 {
				t.Fatalf("store A ran %v, want the 3 RUN steps", ran)
			}
			if n := len(evsA.executed("exporting cache to")); n != 1 {
				t.Errorf("%d cache exports reported", n)
			}

			b := newEnv(t)
			imgB, evsB := b.mustBuild(contextDir(t, sharedCacheFiles), Options{Epoch: &cacheEpoch, CacheFrom: []remotecache.Spec{fromSpec}})
			if ran := evsB.executed("RUN"); len(ran) != 0 {
				t.Errorf("store B ran %v with the shared cache, want none\n%s", ran, evsB.output())
			}
			if ran := evsB.executed("COPY"); len(ran) != 0 {
				t.Errorf("store B ran %v with the shared cache, want none", ran)
			}
			// 2 builder RUNs, 2 COPYs, RUN, WORKDIR: every layer step CACHED.
			if c := evsB.cached(); len(c) != 6 {
				t.Errorf("cached steps %v, want 6", c)
			}
			if da, db := digestOf(t, imgA), digestOf(t, imgB); da != db {
				t.Errorf("image digests differ: A %s, B %s", da, db)
			}
			if got := filesystem(t, imgB)["/app/both"].content; got != "built\nsecond\napplication\n" {
				t.Errorf("/app/both = %q", got)
			}
		})
	}
}

// TestSharedCacheModes: with mode=min, only the target stage's chain is
// exported, so the builder stage's steps run again in store B (and the
// final stage's still hit, the builder giving the same result); with
// mode=max, nothing runs.
func TestSharedCacheModes(t *testing.T) {
	reg := testutil.Registry(t)
	a := newEnv(t)
	ctxA := contextDir(t, sharedCacheFiles)
	var imgA v1.Image
	for _, mode := range []string{"min", "max"} {
		spec, err := remotecache.ParseTo("type=registry,ref=" + reg + "/app/cache:" + mode + ",mode=" + mode)
		if err != nil {
			t.Fatal(err)
		}
		imgA, _ = a.mustBuild(ctxA, Options{Epoch: &cacheEpoch, CacheTo: []remotecache.Spec{spec}})
	}
	for _, tc := range []struct {
		mode string
		ran  []string
	}{
		{"min", []string{"echo built", "echo second"}},
		{"max", nil},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			spec, err := remotecache.ParseFrom(reg + "/app/cache:" + tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			b := newEnv(t)
			img, evs := b.mustBuild(contextDir(t, sharedCacheFiles), Options{Epoch: &cacheEpoch, CacheFrom: []remotecache.Spec{spec}})
			ran := evs.executed("RUN")
			if len(ran) != len(tc.ran) {
				t.Fatalf("mode=%s: ran %v, want the steps %v", tc.mode, ran, tc.ran)
			}
			for i, r := range tc.ran {
				if !strings.Contains(ran[i], "[builder") || !strings.Contains(ran[i], r) {
					t.Errorf("mode=%s: ran %q, want the builder's %q", tc.mode, ran[i], r)
				}
			}
			if n := len(evs.executed("COPY")) + len(evs.executed("cat /app/out")); n != 0 {
				t.Errorf("mode=%s: the final stage's steps ran", tc.mode)
			}
			if da, db := digestOf(t, imgA), digestOf(t, img); da != db {
				t.Errorf("mode=%s: image digests differ: A %s, B %s", tc.mode, da, db)
			}
		})
	}
}

// TestSharedCacheTampered: a layer blob of a local cache is changed; the
// import refuses it and the steps that need it run, with the same result.
func TestSharedCacheTampered(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	to, _ := remotecache.ParseTo("type=local,dest=" + dir + ",mode=max")
	from, _ := remotecache.ParseFrom("type=local,src=" + dir)
	a := newEnv(t)
	imgA, _ := a.mustBuild(contextDir(t, sharedCacheFiles), Options{Epoch: &cacheEpoch, CacheTo: []remotecache.Spec{to}})

	// The layer of the final RUN (the image's top layer) is damaged in the cache.
	layers, err := imgA.Layers()
	if err != nil {
		t.Fatal(err)
	}
	top, _ := layers[len(layers)-1].Digest()
	p := filepath.Join(dir, "blobs", "sha256", top.Hex)
	blob, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("the top layer is not in the cache: %v", err)
	}
	blob[len(blob)/2] ^= 0x55
	if err := os.WriteFile(p, blob, 0o644); err != nil {
		t.Fatal(err)
	}

	b := newEnv(t)
	img, evs := b.mustBuild(contextDir(t, sharedCacheFiles), Options{Epoch: &cacheEpoch, CacheFrom: []remotecache.Spec{from}})
	ran := evs.executed("RUN")
	if len(ran) != 1 || !strings.Contains(ran[0], "cat /app/out") {
		t.Errorf("ran %v, want only the RUN whose layer was tampered with", ran)
	}
	if da, db := digestOf(t, imgA), digestOf(t, img); da != db {
		t.Errorf("image digests differ: A %s, B %s", da, db)
	}
	if !b.st.HasBlob(top) {
		// The blob is made again by the build itself, from its own layer.
		t.Errorf("store B has no blob %s after rebuilding the layer", top)
	}
}

// TestSharedCacheMounts: mounts=true exports the store's cache mount
// directories and --cache-from restores them, so a RUN that the cache
// does not cover finds what an earlier runner left in the mount.
func TestSharedCacheMounts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	to, _ := remotecache.ParseTo("type=local,dest=" + dir + ",mode=max,mounts=true")
	from, _ := remotecache.ParseFrom("type=local,src=" + dir)
	a := newEnv(t)
	a.mustBuild(contextDir(t, map[string]string{"Dockerfile": `FROM busybox
RUN --mount=type=cache,id=shared-data,target=/cache echo filled-by-A > /cache/f
`}), Options{Epoch: &cacheEpoch, CacheTo: []remotecache.Spec{to}})

	b := newEnv(t)
	img, evs := b.mustBuild(contextDir(t, map[string]string{"Dockerfile": `FROM busybox
RUN --mount=type=cache,id=shared-data,target=/cache cat /cache/f > /seen
`}), Options{Epoch: &cacheEpoch, CacheFrom: []remotecache.Spec{from}})
	if ran := evs.executed("RUN"); len(ran) != 1 {
		t.Fatalf("ran %v, want the new RUN", ran)
	}
	if got := filesystem(t, img)["/seen"].content; got != "filled-by-A\n" {
		t.Errorf("/seen = %q, want what store A's build left in the cache mount", got)
	}
}
