package build

import (
	"os"
	"path/filepath"
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
RUN --mount=type=cache,target=/var/cache/app,id=appcache \
    echo ` + step + ` >> /var/cache/app/log && cat /var/cache/app/log > /seen
`
	}
	dir := contextDir(t, map[string]string{"Dockerfile": df("one")})
	img, _ := e.mustBuild(dir, Options{})
	fs := filesystem(t, img)
	if got := fs["/seen"].content; got != "one\n" {
		t.Fatalf("first build saw %q", got)
	}
	for _, p := range []string{"/var/cache/app/log", "/var/cache/app", "/var/cache", "/var"} {
		if _, ok := fs[p]; ok {
			t.Errorf("%s is in the image", p)
		}
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
	if dirs != 1 {
		t.Errorf("%d cache directories in the store, want 1", dirs)
	}
}
