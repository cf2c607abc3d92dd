package build

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/whittle-build/whittle/internal/step"
	"github.com/whittle-build/whittle/internal/testutil"
)

// TestLabels: --label sets labels in the target's config over the
// Dockerfile's, adds no history and leaves the cache alone, as BuildKit
// does.
func TestLabels(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": `FROM busybox AS build
LABEL stage=build
RUN echo built > /b
FROM busybox
LABEL a=1 b=2
COPY --from=build /b /b
`})
	plain, _ := e.mustBuild(dir, Options{})
	img, evs := e.mustBuild(dir, Options{Labels: map[string]string{"b": "x", "c": "3", "empty": ""}})
	got := config(t, img).Labels
	want := map[string]string{"a": "1", "b": "x", "c": "3", "empty": ""}
	if len(got) != len(want) {
		t.Errorf("labels = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if ran := append(evs.executed("RUN"), evs.executed("COPY")...); len(ran) != 0 {
		t.Errorf("labels re-ran %v", ran)
	}
	c1, _ := plain.ConfigFile()
	c2, _ := img.ConfigFile()
	if len(c1.History) != len(c2.History) {
		t.Errorf("history: %d entries without --label, %d with", len(c1.History), len(c2.History))
	}
	if l := config(t, plain).Labels; l["b"] != "2" || l["c"] != "" {
		t.Errorf("labels without --label = %v", l)
	}
}

// TestAnnotations: --annotation goes on the manifest beside the base
// image's annotations, and wins over them.
func TestAnnotations(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo hi > /hi\n"})
	img, _ := e.mustBuild(dir, Options{Annotations: map[string]string{
		"org.opencontainers.image.source": "https://example.com/app",
		AnnotationBaseName:                "example.com/mirror/busybox:latest",
	}})
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if a := m.Annotations; a["org.opencontainers.image.source"] != "https://example.com/app" ||
		a[AnnotationBaseName] != "example.com/mirror/busybox:latest" || a[AnnotationBaseDigest] == "" || a[AnnotationBaseLayers] != "1" {
		t.Errorf("manifest annotations: %v", a)
	}
	if l := config(t, img).Labels; len(l) != 0 {
		t.Errorf("annotations became labels: %v", l)
	}
}

// TestAddHost: --add-host lines follow localhost in every RUN's /etc/hosts,
// which the image does not keep, and they are part of RUN's cache key. The
// hosts file is written in the store's scratch space, never in $TMPDIR
// (here a directory that does not exist), where a killed build would leave
// it.
func TestAddHost(t *testing.T) {
	e := newEnv(t)
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "no-such-dir"))
	dir := contextDir(t, map[string]string{"Dockerfile": `FROM busybox
RUN cat /etc/hosts > /hosts
`})
	db, _ := step.ParseHost("db:10.0.0.7")
	gw, _ := step.ParseHost("host.docker.internal:host-gateway")
	img, _ := e.mustBuild(dir, Options{Hosts: []step.Host{db, gw}})
	fs := filesystem(t, img)
	lines := strings.Split(strings.TrimSpace(fs["/hosts"].content), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "127.0.0.1\tlocalhost") ||
		lines[2] != "10.0.0.7\tdb" || lines[3] != "127.0.0.1\thost.docker.internal" {
		t.Errorf("RUN saw /etc/hosts:\n%s", fs["/hosts"].content)
	}
	if _, ok := fs["/etc/hosts"]; ok {
		t.Errorf("the image has an /etc/hosts")
	}
	_, evs := e.mustBuild(dir, Options{Hosts: []step.Host{db, gw}})
	if ran := evs.executed("RUN"); len(ran) != 0 {
		t.Errorf("the same hosts re-ran %v", ran)
	}
	img, evs = e.mustBuild(dir, Options{Hosts: []step.Host{db}})
	if ran := evs.executed("RUN"); len(ran) != 1 {
		t.Errorf("other hosts ran %v, want the RUN", ran)
	}
	if got := filesystem(t, img)["/hosts"].content; strings.Contains(got, "host.docker.internal") {
		t.Errorf("RUN saw a stale /etc/hosts:\n%s", got)
	}
	img, _ = e.mustBuild(dir, Options{})
	if got := filesystem(t, img)["/hosts"].content; strings.Contains(got, "10.0.0.7") {
		t.Errorf("without --add-host, RUN saw:\n%s", got)
	}
}

// TestNoCacheFilter: the named stage's steps run again, and so do those of
// a stage built on it (FROM base), as in BuildKit; a COPY --from reads the
// new files, other stages stay cached, and a later build without the
// filter finds the new results.
func TestNoCacheFilter(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": `FROM busybox AS base
RUN cat /proc/sys/kernel/random/uuid > /stamp
FROM base AS child
RUN cp /stamp /child-stamp
FROM busybox AS other
RUN cat /proc/sys/kernel/random/uuid > /other
FROM busybox
COPY --from=child /child-stamp /c
COPY --from=other /other /o
`})
	first, _ := e.mustBuild(dir, Options{})
	second, evs := e.mustBuild(dir, Options{NoCacheFilter: []string{"BASE"}})
	ran := evs.executed("")
	has := func(sub string) bool {
		for _, r := range ran {
			if strings.Contains(r, sub) {
				return true
			}
		}
		return false
	}
	for _, sub := range []string{"[base 2/2] RUN", "[child 2/2] RUN", "COPY --from=child"} {
		if !has(sub) {
			t.Errorf("%q did not run; ran %q", sub, ran)
		}
	}
	// (COPY --from=other runs again: the step before it changed.)
	if has("[other 2/2] RUN") {
		t.Errorf("the other stage's RUN ran; ran %q", ran)
	}
	f1, f2 := filesystem(t, first), filesystem(t, second)
	if f1["/c"].content == f2["/c"].content || f2["/c"].content == "" {
		t.Errorf("/c: %q then %q, want a new stamp", f1["/c"].content, f2["/c"].content)
	}
	if f1["/o"].content != f2["/o"].content {
		t.Errorf("/o changed: %q then %q", f1["/o"].content, f2["/o"].content)
	}
	// Without the filter, everything is cached, with the second build's
	// results.
	third, evs := e.mustBuild(dir, Options{})
	if ran := append(evs.executed("RUN"), evs.executed("COPY")...); len(ran) != 0 {
		t.Errorf("a rebuild without the filter ran %q", ran)
	}
	d2, _ := second.Digest()
	d3, _ := third.Digest()
	if d2 != d3 {
		t.Errorf("digest %s after the filtered build, %s after", d2, d3)
	}
}

// TestMetadataFile: --metadata-file holds the keys docker buildx writes.
func TestMetadataFile(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo hi > /hi\n"})
	p := filepath.Join(t.TempDir(), "metadata.json")
	img, _ := e.mustBuild(dir, Options{MetadataFile: p, Tags: []string{"app:1", "registry.example:5000/app:latest"}})
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Digest     string `json:"containerimage.digest"`
		Config     string `json:"containerimage.config.digest"`
		Name       string `json:"image.name"`
		Descriptor struct {
			MediaType types.MediaType `json:"mediaType"`
			Digest    string          `json:"digest"`
			Size      int64           `json:"size"`
		} `json:"containerimage.descriptor"`
	}
	if err := json.Unmarshal(b, &md); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	d, _ := img.Digest()
	cfg, _ := img.ConfigName()
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	if md.Digest != d.String() || md.Descriptor.Digest != d.String() || md.Config != cfg.String() ||
		md.Descriptor.Size != int64(len(raw)) || md.Descriptor.MediaType != mt ||
		md.Name != "app:1,registry.example:5000/app:latest" {
		t.Errorf("metadata:\n%s\nwant digest %s, config %s, size %d, media type %s", b, d, cfg, len(raw), mt)
	}
}

// TestRunSecurityInsecure: RUN --security=insecure fails the build before
// any step runs unless --allow security.insecure; allowed, the step can
// mount, which a sandboxed RUN cannot. The mode is part of the step's key.
func TestRunSecurityInsecure(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": `FROM busybox
RUN echo first > /first
RUN --security=insecure mkdir -p /m && mount -t tmpfs tmpfs /m && umount /m && echo ok > /insecure
RUN if mount -t tmpfs tmpfs /mnt 2>/dev/null; then echo mounted; else echo refused; fi > /sandboxed
`})
	_, evs, err := e.build(dir, Options{})
	want := "/Dockerfile:3: RUN --security=insecure mkdir -p /m && mount -t tmpfs tmpfs /m && umount /m && echo ok > /insecure: needs --allow security.insecure (the step runs with every capability and the host's devices)"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("without --allow: %v\nwant %s", err, want)
	}
	if ran := evs.executed("RUN"); len(ran) != 0 {
		t.Errorf("without --allow, ran %q", ran)
	}
	img, _ := e.mustBuild(dir, Options{AllowInsecure: true})
	fs := filesystem(t, img)
	if fs["/insecure"].content != "ok\n" || fs["/sandboxed"].content != "refused\n" {
		t.Errorf("/insecure = %q, /sandboxed = %q", fs["/insecure"].content, fs["/sandboxed"].content)
	}
	// Without --security=insecure, the same command is another step.
	dir2 := contextDir(t, map[string]string{"Dockerfile": `FROM busybox
RUN echo first > /first
RUN mkdir -p /m && mount -t tmpfs tmpfs /m && umount /m && echo ok > /insecure
`})
	if _, _, err := e.build(dir2, Options{}); err == nil {
		t.Errorf("the sandboxed mount found the insecure step's cache record")
	}
}

// TestShmSizeAndUlimit: --shm-size sizes every RUN's /dev/shm and --ulimit
// sets its limits; both are part of the RUN's key.
func TestShmSizeAndUlimit(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": `FROM busybox
RUN grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9]*k' > /shm; ulimit -n > /nofile; ulimit -Hn >> /nofile
`})
	nofile, _ := step.ParseUlimit("nofile=123:456")
	img, _ := e.mustBuild(dir, Options{ShmSize: 128 << 20, Ulimits: []step.Ulimit{nofile}})
	fs := filesystem(t, img)
	if fs["/shm"].content != "size=131072k\n" || fs["/nofile"].content != "123\n456\n" {
		t.Errorf("/shm = %q, /nofile = %q", fs["/shm"].content, fs["/nofile"].content)
	}
	img, evs := e.mustBuild(dir, Options{})
	if ran := evs.executed("RUN"); len(ran) != 1 {
		t.Errorf("without the settings, ran %q; want the RUN again", ran)
	}
	if got := filesystem(t, img)["/shm"].content; got != "size=65536k\n" {
		t.Errorf("default /dev/shm: %q", got)
	}
	_, evs = e.mustBuild(dir, Options{ShmSize: 128 << 20, Ulimits: []step.Ulimit{nofile}})
	if ran := evs.executed("RUN"); len(ran) != 0 {
		t.Errorf("the same settings again ran %q", ran)
	}
}

// TestProxyArgsOutsideTheKey: the proxy build args reach RUN (both
// spellings) but not its cache key, as in BuildKit: a build behind another
// proxy finds the cache; a declared ARG of the same name is an ordinary
// build arg again.
func TestProxyArgsOutsideTheKey(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": `FROM busybox
RUN env | grep -i _proxy= | sort > /proxies
`})
	img, _ := e.mustBuild(dir, Options{BuildArgs: map[string]string{"HTTP_PROXY": "http://proxy-a:3128", "no_proxy": "localhost"}})
	want := "HTTP_PROXY=http://proxy-a:3128\nNO_PROXY=localhost\nhttp_proxy=http://proxy-a:3128\nno_proxy=localhost\n"
	if got := filesystem(t, img)["/proxies"].content; got != want {
		t.Errorf("RUN saw:\n%s\nwant:\n%s", got, want)
	}
	_, evs := e.mustBuild(dir, Options{BuildArgs: map[string]string{"HTTP_PROXY": "http://proxy-b:8080"}})
	if ran := evs.executed("RUN"); len(ran) != 0 {
		t.Errorf("another proxy re-ran %q", ran)
	}
	declared := contextDir(t, map[string]string{"Dockerfile": `FROM busybox
ARG HTTP_PROXY
RUN echo "$HTTP_PROXY" > /p
`})
	e.mustBuild(declared, Options{BuildArgs: map[string]string{"HTTP_PROXY": "http://proxy-a:3128"}})
	img, evs = e.mustBuild(declared, Options{BuildArgs: map[string]string{"HTTP_PROXY": "http://proxy-b:8080"}})
	if ran := evs.executed("RUN"); len(ran) != 1 || filesystem(t, img)["/p"].content != "http://proxy-b:8080\n" {
		t.Errorf("a declared ARG HTTP_PROXY: ran %q, /p = %q", ran, filesystem(t, img)["/p"].content)
	}
}

// TestAddGit: ADD of a Git repository checks out the ref (a tag, the
// default branch, a subdirectory), keeps .git only with --keep-git-dir, is
// keyed by the commit the ref names (cached while it stays, run again when
// the branch moves), and --checksum pins the commit.
func TestAddGit(t *testing.T) {
	e := newEnv(t)
	root, work := t.TempDir(), t.TempDir()
	first := testutil.GitCommit(t, work, map[string]string{"a": "one\n", "docs/readme": "docs\n"}, "one")
	testutil.Git(t, work, "tag", "v1")
	testutil.Git(t, work, "clone", "-q", "--bare", work, filepath.Join(root, "app.git"))
	repo := testutil.GitServer(t, root) + "/app.git"

	dir := contextDir(t, map[string]string{"Dockerfile": `FROM busybox
ARG REPO
ADD ${REPO}#v1 /tag/
ADD ${REPO}#main:docs /docs
ADD --keep-git-dir=true ${REPO} /full/
RUN cat /tag/a /docs/readme /full/a > /seen && test -d /full/.git && test ! -e /tag/.git && echo ok >> /seen
`})
	o := Options{BuildArgs: map[string]string{"REPO": repo}}
	img, _ := e.mustBuild(dir, o)
	if got := filesystem(t, img)["/seen"].content; got != "one\ndocs\none\nok\n" {
		t.Errorf("/seen = %q", got)
	}
	_, evs := e.mustBuild(dir, o)
	if ran := append(evs.executed("ADD"), evs.executed("RUN")...); len(ran) != 0 {
		t.Errorf("an unchanged repository re-ran %q", ran)
	}
	testutil.GitCommit(t, work, map[string]string{"a": "two\n"}, "two")
	testutil.Git(t, work, "push", "-q", filepath.Join(root, "app.git"), "main")
	img, evs = e.mustBuild(dir, o)
	if ran := evs.executed("ADD"); len(ran) != 2 || strings.Contains(ran[0], "#v1") {
		t.Errorf("after main moved, ran %q; want the two ADDs of main", ran)
	}
	if got := filesystem(t, img)["/seen"].content; got != "one\ndocs\ntwo\nok\n" {
		t.Errorf("after main moved, /seen = %q", got)
	}

	pinned := contextDir(t, map[string]string{"Dockerfile": "FROM busybox\nARG REPO\nADD --checksum=" + first + " ${REPO}#v1 /src/\n"})
	e.mustBuild(pinned, o)
	wrong := contextDir(t, map[string]string{"Dockerfile": "FROM busybox\nARG REPO\nADD --checksum=" + first + " ${REPO}#main /src/\n"})
	if _, _, err := e.build(wrong, o); err == nil || !strings.Contains(err.Error(), "the ref is at commit") {
		t.Errorf("--checksum of another commit: %v", err)
	}
}
