package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/whittle-build/whittle/internal/progress"
	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

// env is a store with the busybox fixture tagged "busybox".
type env struct {
	t  *testing.T
	st *store.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	testutil.RequireRoot(t)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	desc, err := st.WriteImage(context.Background(), testutil.BusyboxImage(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Tag("busybox", desc); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, st: st}
}

// contextDir writes a build context: name → content ("Dockerfile" included).
func contextDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// events records progress events.
type events struct {
	mu  sync.Mutex
	evs []progress.Event
}

func (e *events) Event(ev progress.Event) { e.mu.Lock(); e.evs = append(e.evs, ev); e.mu.Unlock() }
func (e *events) Close() error            { return nil }

// executed returns the names of vertices that ran (not cached) and whose
// name contains substr.
func (e *events) executed(substr string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.evs {
		if ev.Status == progress.Started && strings.Contains(ev.Name, substr) {
			out = append(out, ev.Name)
		}
	}
	return out
}

func (e *events) output() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.evs {
		b.Write(ev.Data)
	}
	return b.String()
}

// buildDesc builds dir and returns the result's descriptor (an image or,
// for several platforms, an index) and the events.
func (e *env) buildDesc(dir string, o Options) (v1.Descriptor, *events, error) {
	e.t.Helper()
	o.ContextDir = dir
	evs := &events{}
	o.Progress = evs
	res, err := Build(context.Background(), e.st, o)
	if err != nil {
		return v1.Descriptor{}, evs, err
	}
	return res.Descriptor, evs, nil
}

// build builds dir and returns the image and the events.
func (e *env) build(dir string, o Options) (v1.Image, *events, error) {
	e.t.Helper()
	desc, evs, err := e.buildDesc(dir, o)
	if err != nil {
		return nil, evs, err
	}
	img, err := e.st.Image(desc)
	if err != nil {
		e.t.Fatal(err)
	}
	return img, evs, nil
}

// mustBuildDesc is buildDesc, failing the test on an error.
func (e *env) mustBuildDesc(dir string, o Options) (v1.Descriptor, *events) {
	e.t.Helper()
	desc, evs, err := e.buildDesc(dir, o)
	if err != nil {
		e.t.Fatalf("build failed: %v\noutput:\n%s", err, evs.output())
	}
	return desc, evs
}

func (e *env) mustBuild(dir string, o Options) (v1.Image, *events) {
	e.t.Helper()
	img, evs, err := e.build(dir, o)
	if err != nil {
		e.t.Fatalf("build failed: %v\noutput:\n%s", err, evs.output())
	}
	return img, evs
}

// file is an entry of an image's final filesystem.
type file struct {
	hdr     *tar.Header
	content string
}

// filesystem flattens img.
func filesystem(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]file{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if h.Typeflag == tar.TypeReg && h.Size < 1<<20 {
			io.Copy(&b, tr)
		}
		out["/"+strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = file{hdr: h, content: b.String()}
	}
	return out
}

func config(t *testing.T, img v1.Image) v1.Config {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Config
}

func layerCount(t *testing.T, img v1.Image) int {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return len(ls)
}

func names(m map[string]file) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
