package main

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

// TestRootless builds the core cases as the unprivileged user that .ci/run
// makes (WHITTLE_TEST_USER, with /etc/subuid and /etc/subgid ranges): whittle
// must enter a user namespace of its own, build with overlayfs inside it,
// keep the owners of files in the layers, cache, and run the result; then it
// builds the examples' multi-stage Dockerfiles to the digests root gets.
func TestRootless(t *testing.T) {
	testutil.RequireRoot(t)
	user := os.Getenv("WHITTLE_TEST_USER")
	if user == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("WHITTLE_TEST_USER is not set: .ci/run makes an unprivileged user for this test")
		}
		t.Skip("WHITTLE_TEST_USER (an unprivileged user with subordinate id ranges) is not set")
	}
	if _, err := exec.LookPath("runuser"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("runuser is missing: .ci/run needs util-linux's runuser for this test")
		}
		t.Skip("runuser is missing")
	}
	// The user must reach everything: not t.TempDir (mode 0700).
	dir, err := os.MkdirTemp("/var/tmp", "whittle-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	bin := filepath.Join(dir, "whittle")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building whittle: %v\n%s", err, out)
	}
	testutil.WriteOCILayout(t, testutil.BusyboxImage(t), filepath.Join(dir, "bb"), "busybox")
	ctxDir := filepath.Join(dir, "ctx")
	os.MkdirAll(ctxDir, 0o755)
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(`FROM busybox AS build
RUN echo built > /artifact && chown 1000:1000 /artifact && mkdir -p /out && cp -p /artifact /out/
FROM busybox
COPY --from=build /out/artifact /srv/artifact
COPY --chown=app:app note.txt /srv/note.txt
USER app
WORKDIR /home/app/work
RUN id -u > uid && cat /srv/note.txt && echo RAN-THE-STEP
`), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "note.txt"), []byte("note\n"), 0o644)
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			os.Chmod(p, fi.Mode()|0o055)
		}
		return nil
	})
	store := filepath.Join(dir, "store")
	whittle := func(args ...string) (string, error) {
		cmd := exec.Command("runuser", append([]string{"-u", user, "--", bin, "--root", store}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	info, err := whittle("info")
	if err != nil || !strings.Contains(info, "mode:         rootless") || !strings.Contains(info, "snapshotter:  overlayfs") {
		t.Fatalf("whittle info as %s: %v\n%s", user, err, info)
	}
	t.Logf("whittle info as %s:\n%s", user, info)

	// root's store is not the user's: the error says so, and what to do,
	// whether its directories are closed to the user or only its files.
	rootOwned := filepath.Join(dir, "root-owned-store")
	seedStore(t, rootOwned, nil)
	for _, how := range []string{"closed directories", "readable directories"} {
		if how == "readable directories" {
			if out, err := exec.Command("chmod", "-R", "go+rX", rootOwned).CombinedOutput(); err != nil {
				t.Fatalf("chmod: %v\n%s", err, out)
			}
		}
		cmd := exec.Command("runuser", "-u", user, "--", bin, "--root", rootOwned, "images")
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "this user may not write the store") || !strings.Contains(string(out), "--root DIR") {
			t.Errorf("whittle images on root's store (%s) as %s: %v\n%s", how, user, err, out)
		}
	}

	args := []string{"build", "--progress", "plain", "--build-context", "busybox=oci-layout://" + filepath.Join(dir, "bb") + ":busybox",
		"-t", "core", "-o", "type=oci,dest=" + filepath.Join(dir, "out"), "-o", "type=image", ctxDir}
	out, err := whittle(args...)
	if err != nil {
		t.Fatalf("rootless build: %v\n%s", err, out)
	}
	ran := regexp.MustCompile(`(?m)^#\d+ [0-9.]+ RAN-THE-STEP$`)
	if !ran.MatchString(out) {
		t.Errorf("the first build's output lacks the RUN step's output:\n%s", out)
	}
	files := layoutFiles(t, filepath.Join(dir, "out"))
	for path, want := range map[string]string{"srv/artifact": "1000:1000", "srv/note.txt": "1000:1000", "home/app/work/uid": "1000:1000"} {
		if got := files[path]; got != want {
			t.Errorf("%s owned by %q in the layers, want %q", path, got, want)
		}
	}
	if out, err := whittle("run", "core", "cat", "/home/app/work/uid"); err != nil || strings.TrimSpace(out) != "1000" {
		t.Errorf("whittle run as %s: %v: %q", user, err, out)
	}
	// The second build is all cache hits.
	out, err = whittle(args...)
	if err != nil {
		t.Fatalf("rootless rebuild: %v\n%s", err, out)
	}
	if n := strings.Count(out, "CACHED"); n != 5 || ran.MatchString(out) {
		t.Errorf("rootless rebuild: %d steps CACHED, want 5 (and no RUN output):\n%s", n, out)
	}

	// The examples' multi-stage Dockerfiles (TestExamples in internal/build
	// builds them as root), on the same bases written into the user's store:
	// the image passes its self-test, and it is the image root builds, digest
	// for digest (owners, modes and times all came out the same).
	if testing.Short() {
		return
	}
	exStore := filepath.Join(dir, "examples-store")
	rootStore := filepath.Join(dir, "examples-root-store")
	for _, st := range []string{exStore, rootStore} {
		seedStore(t, st, map[string]v1.Image{
			"golang:bookworm":                    testutil.DebianImage(t, "golang"),
			"python:bookworm":                    testutil.DebianImage(t, "python"),
			"gcr.io/distroless/static-debian12":  testutil.DebianImage(t, "static-extract"),
			"gcr.io/distroless/python3-debian12": testutil.DebianImage(t, "python3-extract"),
		})
	}
	if out, err := exec.Command("chown", "-R", user+":", exStore).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	for _, ex := range []struct{ name, selftest string }{{"python", "--selftest"}, {"go", "-selftest"}} {
		ctx := filepath.Join(dir, "example-"+ex.name)
		if out, err := exec.Command("cp", "-r", testutil.RepoPath(t, "examples", ex.name), ctx).CombinedOutput(); err != nil {
			t.Fatalf("copying the example: %v\n%s", err, out)
		}
		os.Chmod(ctx, 0o755)
		iid := filepath.Join(dir, ex.name+".iid")
		rootIID := filepath.Join(dir, ex.name+".root.iid")
		buildArgs := func(store, iidfile string) []string {
			return []string{"--root", store, "build", "--progress", "plain", "-t", "example-" + ex.name, "--iidfile", iidfile, ctx}
		}
		cmd := exec.Command("runuser", append([]string{"-u", user, "--", bin}, buildArgs(exStore, iid)...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME=", "SOURCE_DATE_EPOCH=1700000000")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("rootless build of examples/%s: %v\n%s", ex.name, err, out)
			continue
		}
		cmd = exec.Command(bin, buildArgs(rootStore, rootIID)...)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("root build of examples/%s: %v\n%s", ex.name, err, out)
			continue
		}
		got, _ := os.ReadFile(iid)
		want, _ := os.ReadFile(rootIID)
		if len(got) == 0 || string(got) != string(want) {
			t.Errorf("examples/%s: rootless image %s, root image %s: want the same digest", ex.name, got, want)
		}
		t.Logf("examples/%s: rootless and root build %s", ex.name, got)
		cmd = exec.Command("runuser", "-u", user, "--", bin, "--root", exStore, "run", "example-"+ex.name, ex.selftest)
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME=")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "selftest: ok") {
			t.Errorf("whittle run example-%s %s as %s: %v\n%s", ex.name, ex.selftest, user, err, out)
		}
	}
}

// seedStore writes images into a new store under the given names.
func seedStore(t *testing.T, root string, images map[string]v1.Image) {
	t.Helper()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name, img := range images {
		desc, err := st.WriteImage(context.Background(), img)
		if err != nil {
			t.Fatalf("writing %s: %v", name, err)
		}
		if err := st.Tag(name, desc); err != nil {
			t.Fatal(err)
		}
	}
}

// layoutFiles returns "uid:gid" by path for the regular files of the
// layers of the first image in an OCI layout.
func layoutFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) == 0 {
		t.Fatalf("no image in %s: %v", dir, err)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		testutil.EachTarEntry(t, rc, func(h *tar.Header, _ io.Reader) {
			if h.Typeflag == tar.TypeReg {
				files[strings.TrimPrefix(h.Name, "./")] = fmt.Sprintf("%d:%d", h.Uid, h.Gid)
			}
		})
		rc.Close()
	}
	return files
}
