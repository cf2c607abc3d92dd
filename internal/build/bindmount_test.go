package build

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBindMountFromStage(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox AS builder
RUN mkdir /out && echo artifact > /out/x

FROM busybox
RUN --mount=type=bind,from=builder,source=/out,target=/mnt \
    cat /mnt/x > /ro-read && if touch /mnt/y 2>/dev/null; then echo writable; else echo read-only; fi > /ro-write
RUN --mount=type=bind,from=builder,source=/out,target=/mnt,rw \
    touch /mnt/y && echo written > /mnt/x && cat /mnt/x > /rw-read
RUN --mount=type=bind,from=builder,source=/out,target=/mnt \
    ls /mnt > /after && cat /mnt/x >> /after
COPY --from=builder /out /builder-out
RUN --mount=type=bind,from=busybox,source=/etc/group,target=/g cut -d: -f1 /g > /image-groups
`,
	})
	img, _ := e.mustBuild(dir, Options{})
	fs := filesystem(t, img)
	want := map[string]string{
		"/ro-read":  "artifact\n",
		"/ro-write": "read-only\n",
		"/rw-read":  "written\n",
		"/after":    "x\nartifact\n", // rw writes were discarded
		// from= an image: a file of its filesystem.
		"/image-groups": "root\napp\nnogroup\n",
	}
	for p, w := range want {
		if got := fs[p].content; got != w {
			t.Errorf("%s = %q, want %q", p, got, w)
		}
	}
	if got := fs["/builder-out/x"].content; got != "artifact\n" {
		t.Errorf("the rw mount changed the stage: %q", got)
	}
	if _, ok := fs["/builder-out/y"]; ok {
		t.Error("the rw mount's new file reached the stage")
	}
	if _, ok := fs["/mnt"]; ok {
		t.Error("the mount point /mnt is in the image")
	}
}

// TestBindMountFromContext: a context bind mount shows the context as
// BuildKit's local source does (root-owned, .dockerignore applied,
// read-only), and its content is part of the step's cache key: a change
// under the source re-runs the step, a change elsewhere does not.
func TestBindMountFromContext(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN --mount=type=bind,source=src,target=/src \
    cat /src/a > /got && ls -a /src > /listing && stat -c '%u:%g' /src/a > /owner && \
    if touch /src/new 2>/dev/null; then echo writable; else echo read-only; fi > /write
`,
		"src/a":          "one\n",
		"src/secret.key": "do not ship\n",
		"other":          "unrelated\n",
		".dockerignore":  "src/*.key\n",
	})
	// Files from the user's checkout are not owned by root.
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 1234, 1234)
	}); err != nil {
		t.Fatal(err)
	}
	img, evs := e.mustBuild(dir, Options{})
	fs := filesystem(t, img)
	if got := fs["/got"].content; got != "one\n" {
		t.Errorf("/got = %q", got)
	}
	if got := fs["/listing"].content; got != ".\n..\na\n" {
		t.Errorf("the mount shows %q; want only a (.dockerignore hides secret.key)", got)
	}
	if got := fs["/owner"].content; got != "0:0\n" {
		t.Errorf("owner %q, want 0:0 as BuildKit", got)
	}
	if got := fs["/write"].content; got != "read-only\n" {
		t.Errorf("the mount is %q", got)
	}
	if _, ok := fs["/src"]; ok {
		t.Error("the mount point /src is in the image")
	}
	if ran := evs.executed("RUN --mount"); len(ran) != 1 {
		t.Fatalf("first build ran %v", ran)
	}

	// Unchanged: cached.
	_, evs = e.mustBuild(dir, Options{})
	if ran := evs.executed("RUN --mount"); len(ran) != 0 {
		t.Errorf("an unchanged bind source re-ran the step: %v", ran)
	}
	// A change outside the source, or to an ignored file: cached.
	os.WriteFile(filepath.Join(dir, "other"), []byte("changed\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "src/secret.key"), []byte("rotated\n"), 0o644)
	_, evs = e.mustBuild(dir, Options{})
	if ran := evs.executed("RUN --mount"); len(ran) != 0 {
		t.Errorf("a change outside the bind source re-ran the step: %v", ran)
	}
	// A change under the source: runs again, and sees it.
	os.WriteFile(filepath.Join(dir, "src/a"), []byte("two\n"), 0o644)
	img, evs = e.mustBuild(dir, Options{})
	if ran := evs.executed("RUN --mount"); len(ran) != 1 {
		t.Errorf("a changed bind source did not re-run the step: %v", ran)
	}
	if got := filesystem(t, img)["/got"].content; got != "two\n" {
		t.Errorf("after the change /got = %q", got)
	}
}

// TestBindMountRWFromContext: rw lets the step write into its view of the
// context, and the writes go nowhere: not into the context, not into the
// image.
func TestBindMountRWFromContext(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN --mount=type=bind,target=/src,rw echo scribble > /src/f && rm /src/Dockerfile && cat /src/f > /got
RUN --mount=type=bind,target=/src ls /src > /listing
`,
		"f": "orig\n",
	})
	img, _ := e.mustBuild(dir, Options{})
	fs := filesystem(t, img)
	if got := fs["/got"].content; got != "scribble\n" {
		t.Errorf("/got = %q", got)
	}
	if got := fs["/listing"].content; got != "Dockerfile\nf\n" {
		t.Errorf("the next mount shows %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "orig\n" {
		t.Errorf("the rw mount wrote into the context: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err != nil {
		t.Error("the rw mount removed a context file")
	}
}

// TestBindMountContextDirect: a root-owned context with nothing ignored
// under the source is bound as it is (no copy: no view step runs), and
// looks the same as a view would; an ignored file under the source makes
// it a view again.
func TestBindMountContextDirect(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN --mount=type=bind,source=src,target=/src \
    ls -a /src > /listing && stat -c '%u:%g' /src/a > /owner && \
    if touch /src/new 2>/dev/null; then echo writable; else echo read-only; fi > /write
`,
		"src/a": "one\n",
	})
	img, evs := e.mustBuild(dir, Options{})
	fs := filesystem(t, img)
	for p, want := range map[string]string{"/listing": ".\n..\na\n", "/owner": "0:0\n", "/write": "read-only\n"} {
		if got := fs[p].content; got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if views := evs.executed("load context"); len(views) != 0 {
		t.Errorf("a root-owned context was copied: %v", views)
	}
	if _, err := os.Stat(filepath.Join(dir, "src/new")); err == nil {
		t.Error("the step wrote into the context")
	}

	// (a changes too, so that the step runs again.)
	os.WriteFile(filepath.Join(dir, "src/a"), []byte("two\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "src/b.tmp"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("**/*.tmp\n"), 0o644)
	img, evs = e.mustBuild(dir, Options{})
	if got := filesystem(t, img)["/listing"].content; got != ".\n..\na\n" {
		t.Errorf("with an ignored file the mount shows %q", got)
	}
	if views := evs.executed("load context"); len(views) != 1 {
		t.Errorf("an ignored file under the source did not make a view: %v", views)
	}
}
