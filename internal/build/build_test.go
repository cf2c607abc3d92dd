package build

import (
	"archive/tar"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRunAndCopy(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
COPY hello.txt /app/
RUN echo built > /app/built && cat /app/hello.txt > /app/copy
`,
		"hello.txt": "hello\n",
	})
	img, _ := e.mustBuild(dir, Options{Tags: []string{"t:1"}})
	fs := filesystem(t, img)
	if got := fs["/app/hello.txt"].content; got != "hello\n" {
		t.Errorf("/app/hello.txt = %q", got)
	}
	if got := fs["/app/built"].content; got != "built\n" {
		t.Errorf("/app/built = %q", got)
	}
	if got := fs["/app/copy"].content; got != "hello\n" {
		t.Errorf("/app/copy = %q", got)
	}
	if n := layerCount(t, img); n != 3 {
		t.Errorf("%d layers, want 3 (base, COPY, RUN)", n)
	}
	// RUN leaves no mount points of its own behind that the image did not
	// have; the runtime's /proc, /dev and /sys stay, as in BuildKit's images.
	for _, p := range []string{"/etc/hosts", "/etc/resolv.conf", "/etc/hostname"} {
		if _, ok := fs[p]; ok {
			t.Errorf("%s left in the image by RUN", p)
		}
	}
	for _, p := range []string{"/proc", "/sys", "/dev"} {
		if f, ok := fs[p]; !ok || f.hdr.Typeflag != tar.TypeDir || f.hdr.Mode&0o7777 != 0o755 {
			t.Errorf("%s is not a 0755 directory in the image (BuildKit leaves the runtime's mount points)", p)
		}
	}
	if _, err := e.st.Lookup("t:1"); err != nil {
		t.Errorf("the image is not tagged: %v", err)
	}
}

func TestMultiStage(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox AS build
RUN mkdir /out && echo artifact > /out/app && echo junk > /junk

FROM busybox AS unused
RUN exit 1

FROM scratch
COPY --from=build /out/app /app
COPY --from=0 /bin/busybox /busybox
ENTRYPOINT ["/busybox", "cat", "/app"]
`,
	})
	img, _ := e.mustBuild(dir, Options{})
	fs := filesystem(t, img)
	want := []string{"/app", "/busybox"}
	if got := names(fs); !reflect.DeepEqual(got, want) {
		t.Errorf("final filesystem %v, want %v", got, want)
	}
	if fs["/app"].content != "artifact\n" {
		t.Errorf("/app = %q", fs["/app"].content)
	}
	// --target builds only what the target needs.
	img, evs := e.mustBuild(dir, Options{Target: "build"})
	if _, ok := filesystem(t, img)["/junk"]; !ok {
		t.Error("--target build did not build the build stage")
	}
	if ran := evs.executed("exit 1"); len(ran) != 0 {
		t.Errorf("unused stage ran: %v", ran)
	}
	// Building the unused stage fails with the line, command and exit code.
	_, _, err := e.build(dir, Options{Target: "unused"})
	if err == nil {
		t.Fatal("a failing RUN did not fail the build")
	}
	for _, want := range []string{"Dockerfile:5", "exit 1", "exit code: 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestConfigInstructions(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
ARG VERSION=1.0
ENV APP_HOME=/srv/app VERSION=$VERSION
WORKDIR $APP_HOME
LABEL org.example.version=$VERSION maintainer="me"
EXPOSE 8080 53/udp
VOLUME /data
USER app
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=2s CMD wget -q localhost:8080 || exit 1
ONBUILD RUN echo triggered > /tmp/onbuild
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hi"]
`,
	})
	img, _ := e.mustBuild(dir, Options{BuildArgs: map[string]string{"VERSION": "2.5"}})
	c := config(t, img)
	if c.WorkingDir != "/srv/app" {
		t.Errorf("WorkingDir = %q", c.WorkingDir)
	}
	if !contains(c.Env, "APP_HOME=/srv/app") || !contains(c.Env, "VERSION=2.5") {
		t.Errorf("Env = %v", c.Env)
	}
	if c.Labels["org.example.version"] != "2.5" || c.Labels["maintainer"] != "me" {
		t.Errorf("Labels = %v", c.Labels)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("ExposedPorts = %v", c.ExposedPorts)
	}
	if _, ok := c.ExposedPorts["53/udp"]; !ok {
		t.Errorf("ExposedPorts = %v", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("Volumes = %v", c.Volumes)
	}
	if c.User != "app" || c.StopSignal != "SIGTERM" {
		t.Errorf("User = %q, StopSignal = %q", c.User, c.StopSignal)
	}
	if c.Healthcheck == nil || c.Healthcheck.Interval != 5*time.Second || c.Healthcheck.Test[0] != "CMD-SHELL" {
		t.Errorf("Healthcheck = %+v", c.Healthcheck)
	}
	if len(c.OnBuild) != 1 || c.OnBuild[0] != "RUN echo triggered > /tmp/onbuild" {
		t.Errorf("OnBuild = %v", c.OnBuild)
	}
	if !reflect.DeepEqual(c.Entrypoint, []string{"/bin/sh", "-c"}) || !reflect.DeepEqual(c.Cmd, []string{"echo hi"}) {
		t.Errorf("Entrypoint %v Cmd %v", c.Entrypoint, c.Cmd)
	}
	for _, k := range c.Env {
		if strings.HasPrefix(k, "VERSION=1.0") {
			t.Errorf("the ARG default leaked: %v", c.Env)
		}
	}
	// WORKDIR created the directory, owned by root (USER came later).
	fs := filesystem(t, img)
	if h := fs["/srv/app"].hdr; h == nil || h.Uid != 0 {
		t.Errorf("/srv/app = %+v", h)
	}

	// ONBUILD triggers run when the image is a base.
	e.st.Tag("withonbuild", mustDesc(t, e, img))
	child := contextDir(t, map[string]string{"Dockerfile": "FROM withonbuild\nUSER root\nRUN cat /tmp/onbuild > /seen\n"})
	img2, _ := e.mustBuild(child, Options{})
	if got := filesystem(t, img2)["/seen"].content; got != "triggered\n" {
		t.Errorf("ONBUILD trigger did not run: /seen = %q", got)
	}
	if len(config(t, img2).OnBuild) != 0 {
		t.Error("ONBUILD triggers were inherited by the child image")
	}
}

func TestUserAndRunEnvironment(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
ARG BUILDONLY=yes
ENV KEEP=1
RUN mkdir -p /out && chmod 777 /out
USER app
WORKDIR /home/app/work
RUN id -u > /out/uid && id -g > /out/gid && pwd > /out/pwd && echo "$BUILDONLY $KEEP" > /out/env && hostname > /out/hostname
USER 1234:5678
RUN id -u > /out/uid2 && id -g > /out/gid2
`,
	})
	img, _ := e.mustBuild(dir, Options{})
	fs := filesystem(t, img)
	checks := map[string]string{
		"/out/uid": "1000\n", "/out/gid": "1000\n", "/out/pwd": "/home/app/work\n",
		"/out/env": "yes 1\n", "/out/uid2": "1234\n", "/out/gid2": "5678\n",
	}
	for p, want := range checks {
		if got := fs[p].content; got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if h := fs["/home/app/work"].hdr; h == nil || h.Uid != 1000 {
		t.Errorf("WORKDIR under USER app: %+v, want owned by 1000", h)
	}
	for _, env := range config(t, img).Env {
		if strings.HasPrefix(env, "BUILDONLY") {
			t.Errorf("build arg persisted in the image env: %v", env)
		}
	}
	// An unknown user is a clear error.
	bad := contextDir(t, map[string]string{"Dockerfile": "FROM busybox\nUSER nosuchuser\nRUN true\n"})
	_, _, err := e.build(bad, Options{})
	if err == nil || !strings.Contains(err.Error(), "nosuchuser") || !strings.Contains(err.Error(), "Dockerfile:3") {
		t.Errorf("unknown user error = %v", err)
	}
}

func TestCache(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
COPY a /a
RUN cat /a > /a2
COPY b /b
RUN cat /b > /b2
`,
		"a": "1", "b": "1",
	})
	first, evs := e.mustBuild(dir, Options{})
	if n := len(evs.executed("RUN")); n != 2 {
		t.Fatalf("first build ran %d RUN steps, want 2", n)
	}
	second, evs := e.mustBuild(dir, Options{})
	if n := len(evs.executed("RUN")) + len(evs.executed("COPY")); n != 0 {
		t.Errorf("a no-op rebuild executed %d steps", n)
	}
	d1, _ := first.Digest()
	d2, _ := second.Digest()
	if d1 != d2 {
		t.Errorf("a fully cached rebuild changed the digest: %s → %s", d1, d2)
	}
	// A touched but unchanged file keeps the cache.
	now := time.Now().Add(time.Minute)
	os.Chtimes(filepath.Join(dir, "a"), now, now)
	_, evs = e.mustBuild(dir, Options{})
	if n := len(evs.executed("RUN")); n != 0 {
		t.Errorf("touching a file re-ran %d steps", n)
	}
	// Changing b re-runs only what reads it.
	os.WriteFile(filepath.Join(dir, "b"), []byte("2"), 0o644)
	img, evs := e.mustBuild(dir, Options{})
	if ran := evs.executed("RUN"); len(ran) != 1 || !strings.Contains(ran[0], "/b2") {
		t.Errorf("after changing b, ran %v; want only the RUN reading b", ran)
	}
	if got := filesystem(t, img)["/b2"].content; got != "2" {
		t.Errorf("/b2 = %q", got)
	}
	// --no-cache runs everything.
	_, evs = e.mustBuild(dir, Options{NoCache: true})
	if n := len(evs.executed("RUN")); n != 2 {
		t.Errorf("--no-cache ran %d RUN steps, want 2", n)
	}
}

// TestCacheConfigOnly: an instruction that changes only the image config
// (LABEL, EXPOSE, an ARG no step reads but RUN's environment) leaves the
// later file steps cached, as in BuildKit, and the image has the new
// config and history; ENV changes what RUN sees, so RUN runs again but the
// COPY before it does not.
func TestCacheConfigOnly(t *testing.T) {
	e := newEnv(t)
	dockerfile := func(label, port, env string) string {
		return "FROM busybox\nARG UNUSED\nLABEL version=" + label + "\nCOPY a /a\nEXPOSE " + port +
			"\nENV X=" + env + "\nRUN cat /a > /a2\nCOPY a /a3\n"
	}
	dir := contextDir(t, map[string]string{"Dockerfile": dockerfile("1", "80", "1"), "a": "a"})
	epoch := time.Unix(1700000000, 0)
	e.mustBuild(dir, Options{Epoch: &epoch})
	steps := func(evs *events) []string { return append(evs.executed("COPY"), evs.executed("RUN")...) }

	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile("2", "81", "1")), 0o644)
	img, evs := e.mustBuild(dir, Options{Epoch: &epoch})
	if ran := steps(evs); len(ran) != 0 {
		t.Errorf("after LABEL and EXPOSE changed, ran %q; want every step cached", ran)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.Labels["version"] != "2" {
		t.Errorf("label version = %q, want the new 2", cfg.Config.Labels["version"])
	}
	if _, ok := cfg.Config.ExposedPorts["81/tcp"]; !ok || len(cfg.Config.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v, want only 81/tcp", cfg.Config.ExposedPorts)
	}
	var history []string
	for _, h := range cfg.History {
		history = append(history, h.CreatedBy)
	}
	if !slices.Contains(history, "LABEL version=2") || slices.Contains(history, "LABEL version=1") {
		t.Errorf("history %q, want LABEL version=2 and not 1", history)
	}
	again, _ := e.mustBuild(dir, Options{Epoch: &epoch})
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("a cached rebuild changed the digest: %s → %s", d1, d2)
	}

	_, evs = e.mustBuild(dir, Options{Epoch: &epoch, BuildArgs: map[string]string{"UNUSED": "x"}})
	if ran := steps(evs); len(ran) != 2 || !strings.Contains(ran[0], "/a3") || !strings.Contains(ran[1], "RUN") {
		t.Errorf("after a build arg changed, ran %q; want the RUN (whose environment has it) and the COPY after it", ran)
	}

	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile("2", "81", "2")), 0o644)
	_, evs = e.mustBuild(dir, Options{Epoch: &epoch})
	if ran := steps(evs); len(ran) != 2 || !strings.Contains(ran[1], "RUN") {
		t.Errorf("after ENV changed, ran %q; want the RUN and the COPY after it", ran)
	}
}

// TestCopyFromReadsContent: COPY --from is keyed by the files of the stage
// it reads, not by how that stage was reached: after `--no-cache --target
// base` made a new /stamp, a full build copies the new one; after a stage
// ran again and made the same files, the COPY stays cached.
func TestCopyFromReadsContent(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": `FROM busybox AS base
RUN cat /proc/sys/kernel/random/uuid > /stamp
FROM busybox AS same
RUN echo same > /same
FROM busybox
COPY --from=same /same /s
COPY --from=base /stamp /c
`})
	epoch := time.Unix(1700000000, 0)
	o := Options{Epoch: &epoch}
	e.mustBuild(dir, o)
	base, _ := e.mustBuild(dir, Options{Epoch: &epoch, NoCache: true, Target: "base"})
	stamp := filesystem(t, base)["/stamp"].content
	img, evs := e.mustBuild(dir, o)
	if got := filesystem(t, img)["/c"].content; got != stamp {
		t.Errorf("/c = %q, want the new stamp %q", got, stamp)
	}
	if ran := evs.executed("COPY --from=base"); len(ran) != 1 {
		t.Errorf("COPY --from=base ran %d times, want once", len(ran))
	}
	// The same files again (SOURCE_DATE_EPOCH makes the layer the same).
	e.mustBuild(dir, Options{Epoch: &epoch, NoCache: true, Target: "same"})
	_, evs = e.mustBuild(dir, o)
	if ran := append(evs.executed("RUN"), evs.executed("COPY")...); len(ran) != 0 {
		t.Errorf("after the same stage made the same files, ran %q", ran)
	}
}

func TestDockerignoreAndBuildArgs(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
ARG NAME
COPY . /ctx
RUN echo "$NAME" > /name
`,
		".dockerignore": "secret*\n*.log\n!keep.log\n",
		"secret.key":    "x",
		"app.log":       "x",
		"keep.log":      "k",
		"src/main.c":    "int main;",
	})
	img, _ := e.mustBuild(dir, Options{BuildArgs: map[string]string{"NAME": "whittle"}})
	fs := filesystem(t, img)
	for _, p := range []string{"/ctx/secret.key", "/ctx/app.log"} {
		if _, ok := fs[p]; ok {
			t.Errorf("%s was copied despite .dockerignore", p)
		}
	}
	for _, p := range []string{"/ctx/keep.log", "/ctx/src/main.c", "/ctx/Dockerfile"} {
		if _, ok := fs[p]; !ok {
			t.Errorf("%s missing", p)
		}
	}
	if fs["/name"].content != "whittle\n" {
		t.Errorf("/name = %q", fs["/name"].content)
	}
}

func TestReproducible(t *testing.T) {
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox AS b
RUN echo one > /one && sleep 1
FROM busybox
COPY --from=b /one /one
COPY f /f
RUN echo x > /x && mkdir -p /d/e && touch /d/e/f
`,
		"f": "f",
	})
	epoch := time.Unix(1700000000, 0).UTC()
	var digests []string
	for i := 0; i < 2; i++ {
		e := newEnv(t)
		os.Chtimes(filepath.Join(dir, "f"), time.Now(), time.Now().Add(time.Duration(i)*time.Hour))
		img, _ := e.mustBuild(dir, Options{Epoch: &epoch, Tags: []string{"r"}})
		cfg, _ := img.ConfigFile()
		if !cfg.Created.Equal(epoch) {
			t.Errorf("created = %v, want the epoch", cfg.Created)
		}
		fs := filesystem(t, img)
		if h := fs["/x"].hdr; h == nil || h.ModTime.After(epoch) {
			t.Errorf("/x mtime %v not clamped", h.ModTime)
		}
		d, _ := img.Digest()
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds with SOURCE_DATE_EPOCH in fresh stores differ: %v", digests)
	}
}

func mustDesc(t *testing.T, e *env, img v1.Image) v1.Descriptor {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	desc, err := e.st.Lookup(d.String())
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
