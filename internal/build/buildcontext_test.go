package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/whittle-build/whittle/internal/testutil"
)

// TestBuildContexts: --build-context NAME=DIR works for FROM, COPY --from
// and RUN --mount=from=; NAME=docker-image://REF and oci-layout://DIR:TAG
// replace images, end to end.
func TestBuildContexts(t *testing.T) {
	e := newEnv(t)
	// An image the store does not have, in a registry and in a layout.
	tagged, err := mutate.Config(testutil.BusyboxImage(t), mustConfig(t, "FROM_REGISTRY=1"))
	if err != nil {
		t.Fatal(err)
	}
	reg := testutil.Registry(t)
	ref, err := name.ParseReference(reg + "/ctx/busy:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, tagged); err != nil {
		t.Fatal(err)
	}
	layoutDir := t.TempDir()
	laidOut, err := mutate.Config(testutil.BusyboxImage(t), mustConfig(t, "FROM_LAYOUT=1"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteOCILayout(t, laidOut, layoutDir, "v1")

	extra := contextDir(t, map[string]string{
		"data.txt":      "from the extra context\n",
		"sub/deep.txt":  "deep\n",
		"ignored.log":   "should not be seen\n",
		".dockerignore": "*.log\n",
	})
	if err := filepath.Walk(extra, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 4321, 4321)
	}); err != nil {
		t.Fatal(err)
	}
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM extra AS files

FROM registryimg AS fromreg
RUN env | grep FROM_ > /env

FROM layoutimg AS fromlayout
RUN env | grep FROM_ > /env

FROM busybox
COPY --from=extra /data.txt /copied
COPY --from=files / /files/
COPY --from=fromreg /env /env-reg
COPY --from=fromlayout /env /env-layout
RUN --mount=type=bind,from=extra,source=sub,target=/m cat /m/deep.txt > /mounted
RUN --mount=type=cache,from=extra,source=sub,target=/cc cat /cc/deep.txt > /cache-seeded && stat -c %u /cc/deep.txt >> /cache-seeded
`,
	})
	o := Options{BuildContexts: map[string]string{
		"extra":       extra,
		"registryimg": "docker-image://" + reg + "/ctx/busy:1",
		"layoutimg":   "oci-layout://" + layoutDir + ":v1",
	}}
	img, _ := e.mustBuild(dir, o)
	fs := filesystem(t, img)
	want := map[string]string{
		"/copied":             "from the extra context\n",
		"/files/data.txt":     "from the extra context\n",
		"/files/sub/deep.txt": "deep\n",
		"/env-reg":            "FROM_REGISTRY=1\n",
		"/env-layout":         "FROM_LAYOUT=1\n",
		"/mounted":            "deep\n",
		"/cache-seeded":       "deep\n0\n",
	}
	for p, w := range want {
		if got := fs[p].content; got != w {
			t.Errorf("%s = %q, want %q", p, got, w)
		}
	}
	if _, ok := fs["/files/ignored.log"]; ok {
		t.Error("FROM a context ignored its .dockerignore")
	}

	// The stage FROM a context directory on its own: one layer, root-owned
	// files, a config for the platform, one history entry for the layer.
	o.Target = "files"
	img, _ = e.mustBuild(dir, o)
	if n := layerCount(t, img); n != 1 {
		t.Errorf("FROM a context gave %d layers, want 1", n)
	}
	fs = filesystem(t, img)
	if f := fs["/data.txt"]; f.hdr == nil || f.hdr.Uid != 0 || f.hdr.Gid != 0 {
		t.Errorf("/data.txt: %+v, want it root-owned", f.hdr)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture == "" {
		t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if len(cfg.History) != 1 || cfg.History[0].EmptyLayer || !strings.Contains(cfg.History[0].CreatedBy, "extra") {
		t.Errorf("history %+v", cfg.History)
	}

	// A change in the context directory changes the stage.
	os.WriteFile(filepath.Join(extra, "data.txt"), []byte("changed\n"), 0o644)
	img, _ = e.mustBuild(dir, o)
	if got := filesystem(t, img)["/data.txt"].content; got != "changed\n" {
		t.Errorf("after a change FROM the context gave %q", got)
	}
}

// mustConfig returns the busybox fixture's config with env added.
func mustConfig(t *testing.T, env ...string) v1.Config {
	t.Helper()
	cfg, err := testutil.BusyboxImage(t).ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := *cfg.Config.DeepCopy()
	c.Env = append(c.Env, env...)
	return c
}
