package distroless

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/whittle-build/whittle/internal/debian"
	"github.com/whittle-build/whittle/internal/output"
	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

// testPackages is a miniature Debian: what the static and base recipes
// ask for, what they prune, and a JRE-like package with a .jinfo file.
func testPackages(t testing.TB, arch string, caPEM []byte) []testDeb {
	osRelease := "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n"
	return []testDeb{
		{Name: "base-files", Version: "12.4", Arch: arch, Essential: true, Priority: "required", PreDepends: "awk", Files: []testFile{
			{name: "usr/lib/os-release", body: osRelease},
			{name: "etc/os-release", typ: tar.TypeSymlink, link: "../usr/lib/os-release"},
			{name: "etc/debian_version", body: "12.4\n"},
			{name: "bin", typ: tar.TypeDir},
			{name: "tmp", typ: tar.TypeDir, mode: 0o1777},
			{name: "usr/share/doc/base-files/copyright", body: "base-files copyright\n"},
		}},
		{Name: "mawk", Version: "1.3.4", Arch: arch, Provides: "awk", Priority: "required", Files: []testFile{{name: "usr/bin/mawk", body: "mawk", mode: 0o755}}},
		{Name: "netbase", Version: "6.4", Arch: "all", Files: []testFile{{name: "etc/protocols", body: "ip 0 IP\n"}, {name: "etc/services", body: "http 80/tcp\n"}}},
		{Name: "tzdata", Version: "2024a-0+deb12u1", Arch: "all", Depends: "debconf (>= 0.5) | debconf-2.0", Files: []testFile{
			{name: "usr/share/zoneinfo/UTC", body: "TZif-utc"},
			{name: "usr/share/zoneinfo/Etc/UTC", typ: tar.TypeLink, link: "./usr/share/zoneinfo/UTC"},
			{name: "usr/share/zoneinfo/Europe/Paris", body: "TZif-paris"},
		}},
		{Name: "debconf", Version: "1.5.82", Arch: "all", Files: []testFile{{name: "usr/bin/debconf", body: "#!/usr/bin/perl", mode: 0o755}}},
		{Name: "media-types", Version: "10.0.0", Arch: "all", Files: []testFile{{name: "etc/mime.types", body: "text/plain txt\n"}}},
		{Name: "ca-certificates", Version: "20230311", Arch: "all", Depends: "openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0", Files: []testFile{
			{name: "usr/share/ca-certificates/mozilla/Test_Root.crt", body: string(caPEM)},
			{name: "usr/share/doc/ca-certificates/copyright", body: "ca-certificates copyright\n"},
			{name: "usr/sbin/update-ca-certificates", body: "#!/bin/sh", mode: 0o755},
		}},
		{Name: "openssl", Version: "3.0.11", Arch: arch, Files: []testFile{{name: "usr/bin/openssl", body: "openssl", mode: 0o755}}},
		{Name: "libc6", Version: "2.36-9", Arch: arch, Depends: "libgcc-s1", Files: []testFile{
			{name: "lib/x86_64-linux-gnu/libc.so.6", body: "libc", mode: 0o755},
			{name: "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", body: "ld.so", mode: 0o755},
			{name: "lib64/ld-linux-x86-64.so.2", typ: tar.TypeSymlink, link: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"},
			{name: "usr/share/doc/libc6/copyright", body: "libc6 copyright\n"},
		}},
		{Name: "libgcc-s1", Version: "12.2.0", Arch: arch, Files: []testFile{{name: "lib/x86_64-linux-gnu/libgcc_s.so.1", body: "libgcc"}}},
		{Name: "libssl3", Version: "3.0.11", Arch: arch, Depends: "libc6", Files: []testFile{{name: "usr/lib/x86_64-linux-gnu/libssl.so.3", body: "libssl"}}},
		{Name: "libssl3t64", Version: "3.5.1", Arch: arch, Depends: "libc6", Files: []testFile{{name: "usr/lib/x86_64-linux-gnu/libssl.so.3", body: "libssl"}}},
		{Name: "busybox-static", Version: "1:1.35.0", Arch: arch, Files: []testFile{
			{name: "bin/busybox", body: "busybox", mode: 0o755},
			{name: "usr/share/doc/busybox-static/copyright", body: "busybox copyright\n"},
		}},
		{Name: "fake-jre", Version: "17.0.1", Arch: arch, Depends: "libc6", Files: []testFile{
			{name: "usr/lib/jvm/java-17-fake/bin/java", body: "java", mode: 0o755},
			{name: "usr/lib/jvm/java-17-fake/bin/keytool", body: "keytool", mode: 0o755},
			{name: "usr/lib/jvm/.java-17-fake.jinfo", body: "name=java-17-fake\npriority=1711\nsection=main\n\nhl java /usr/lib/jvm/java-17-fake/bin/java\nhl keytool /usr/lib/jvm/java-17-fake/bin/keytool\njdk javac /usr/lib/jvm/java-17-fake/bin/javac\n"},
		}},
		{Name: "ca-certificates-java", Version: "20230710", Arch: "all", Depends: "ca-certificates", Files: []testFile{
			{name: "usr/share/doc/ca-certificates-java/copyright", body: "copyright\n"},
			{name: "usr/share/ca-certificates-java/ca-certificates-java.jar", body: "jar"},
		}},
	}
}

// testEnv is a store, a test archive and build options pointing at it.
type testEnv struct {
	t     *testing.T
	st    *store.Store
	arch  *testArchive
	caPEM []byte
	o     Options
}

func newTestEnv(t *testing.T, suite string) *testEnv {
	t.Helper()
	caPEM := testCAPEM(t, "whittle test root")
	a := newTestArchive(t, suite, "amd64", testPackages(t, "amd64", caPEM)...)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := debian.New(debian.WithCacheDir(t.TempDir()), debian.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, st: st, arch: a, caPEM: caPEM, o: Options{
		Suite: suite, Arch: "amd64", Mirror: a.URL(), Keyring: a.Keyring, Client: c,
	}}
}

// build builds recipe with e.o changed by mod.
func (e *testEnv) build(r *Recipe, mod func(*Options)) (*Result, v1.Image) {
	e.t.Helper()
	o := e.o
	if mod != nil {
		mod(&o)
	}
	res, err := Build(context.Background(), e.st, r, o)
	if err != nil {
		e.t.Fatal(err)
	}
	img, err := e.st.Image(res.Descriptor)
	if err != nil {
		e.t.Fatal(err)
	}
	return res, img
}

func (e *testEnv) builtin(name string) *Recipe {
	e.t.Helper()
	s, err := LookupSuite(e.o.Suite)
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := Builtin(name, s)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// fsEntry is a file of an image's flattened filesystem.
type fsEntry struct {
	hdr  *tar.Header
	body string
}

// filesystem flattens img.
func filesystem(t testing.TB, img v1.Image) map[string]fsEntry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]fsEntry{}
	testutil.EachTarEntry(t, rc, func(h *tar.Header, content io.Reader) {
		b, err := io.ReadAll(content)
		if err != nil {
			t.Fatalf("reading %s: %v", h.Name, err)
		}
		out["/"+strings.Trim(strings.TrimPrefix(h.Name, "./"), "/")] = fsEntry{h, string(b)}
	})
	return out
}

func lockNames(l *debian.Lock) string {
	var n []string
	for _, p := range l.Packages {
		n = append(n, p.Name)
	}
	sort.Strings(n)
	return strings.Join(n, " ")
}

func TestBuildStatic(t *testing.T) {
	e := newTestEnv(t, "bookworm")
	sbomDir := t.TempDir()
	lockFile := filepath.Join(t.TempDir(), "static.lock")
	res, img := e.build(e.builtin("static"), func(o *Options) {
		o.SBOMDir, o.LockFile, o.Tags = sbomDir, lockFile, []string{"static:test"}
	})
	if got, want := lockNames(res.Lock), "base-files ca-certificates media-types netbase tzdata"; got != want {
		t.Errorf("packages = %s, want %s (mawk, debconf and openssl pruned)", got, want)
	}
	if len(res.Layers) != 6 {
		t.Errorf("%d layers, want one per package and one of generated files", len(res.Layers))
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(cfg.Config.Env, " ")
	for _, want := range []string{"SSL_CERT_FILE=" + CABundle, "PATH=" + defaultPath} {
		if !strings.Contains(env, want) {
			t.Errorf("env %q lacks %s", env, want)
		}
	}
	if cfg.Config.User != "0" || cfg.Config.WorkingDir != "/" || cfg.Architecture != "amd64" || cfg.OS != "linux" {
		t.Errorf("config user %q workdir %q platform %s/%s", cfg.Config.User, cfg.Config.WorkingDir, cfg.OS, cfg.Architecture)
	}
	if !cfg.Created.Time.Equal(testMTime) {
		t.Errorf("created %s, want the newest package file time %s", cfg.Created.Time, testMTime)
	}

	fs := filesystem(t, img)
	checks := map[string]string{
		"/etc/passwd":                   "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
		"/etc/group":                    "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n",
		CABundle:                        string(e.caPEM),
		"/etc/nsswitch.conf":            nsswitchConf,
		"/var/lib/dpkg/status.d/tzdata": testPackages(t, "amd64", e.caPEM)[3].control(),
		"/usr/share/doc/ca-certificates/copyright": "ca-certificates copyright\n",
	}
	for p, want := range checks {
		if got, ok := fs[p]; !ok || got.body != want {
			t.Errorf("%s = %q, want %q", p, got.body, want)
		}
	}
	if osr := fs["/etc/os-release"]; osr.hdr == nil || osr.hdr.Typeflag != tar.TypeReg ||
		!strings.Contains(osr.body, `PRETTY_NAME="Distroless"`) || !strings.Contains(osr.body, `VERSION="Debian GNU/Linux 12 (bookworm)"`) {
		t.Errorf("/etc/os-release = %+v", osr)
	}
	for p, mode := range map[string]int64{"/tmp": 0o1777, "/home/nonroot": 0o700, "/root": 0o700} {
		h := fs[p].hdr
		if h == nil || h.Typeflag != tar.TypeDir || h.Mode&0o7777 != mode {
			t.Errorf("%s: %+v, want a directory of mode %o", p, h, mode)
		}
	}
	if h := fs["/home/nonroot"].hdr; h == nil || h.Uid != NonRootUID || h.Gid != NonRootUID {
		t.Errorf("/home/nonroot is not nonroot's: %+v", h)
	}
	for _, p := range []string{
		"/var/lib/dpkg/status.d/base-files", "/var/lib/dpkg/status.d/base-files.md5sums",
		"/var/lib/dpkg/status.d/tzdata.md5sums", "/var/lib/dpkg/status.d/ca-certificates",
		"/usr/share/zoneinfo/Etc/UTC", "/etc/protocols", "/etc/mime.types",
	} {
		if _, ok := fs[p]; !ok {
			t.Errorf("%s is missing", p)
		}
	}
	for _, p := range []string{
		"/var/lib/dpkg/status.d/ca-certificates.md5sums", // its files do not ship as packaged
		"/usr/share/ca-certificates/mozilla/Test_Root.crt",
		"/usr/sbin/update-ca-certificates", "/usr/bin/mawk", "/usr/bin/debconf", "/usr/bin/openssl",
		"/bin/sh", "/var/lib/dpkg/status",
	} {
		if _, ok := fs[p]; ok {
			t.Errorf("%s should not be in the image", p)
		}
	}
	if !strings.Contains(fs["/var/lib/dpkg/status.d/tzdata.md5sums"].body, "usr/share/zoneinfo/UTC") {
		t.Errorf("tzdata.md5sums = %q", fs["/var/lib/dpkg/status.d/tzdata.md5sums"].body)
	}

	for _, f := range []string{SPDXFile, CycloneDXFile} {
		if _, err := os.Stat(filepath.Join(sbomDir, f)); err != nil {
			t.Errorf("SBOM: %v", err)
		}
	}
	if len(res.Referrers) != 2 {
		t.Errorf("%d referrers, want 2", len(res.Referrers))
	}
	if _, err := e.st.Lookup("static:" + ReferrersTag(res.Descriptor.Digest)); err != nil {
		t.Errorf("referrers tag: %v", err)
	}

	t.Run("reproducible", func(t *testing.T) {
		again, _ := e.build(e.builtin("static"), func(o *Options) { o.NoCache = true })
		if again.Descriptor.Digest != res.Descriptor.Digest {
			t.Errorf("rebuilt without cache: %s, first %s", again.Descriptor.Digest, res.Descriptor.Digest)
		}
		for _, l := range again.Layers {
			if l.Cached {
				t.Errorf("layer %s came from the cache with NoCache", l.Package)
			}
		}
		cached, _ := e.build(e.builtin("static"), nil)
		if cached.Descriptor.Digest != res.Descriptor.Digest {
			t.Errorf("cached build: %s, first %s", cached.Descriptor.Digest, res.Descriptor.Digest)
		}
		for _, l := range cached.Layers[:len(cached.Layers)-1] {
			if !l.Cached {
				t.Errorf("layer %s was made again", l.Package)
			}
		}
	})

	t.Run("locked offline", func(t *testing.T) {
		e.arch.srv.Close() // the archive is gone: the .debs are cached
		locked, _ := e.build(e.builtin("static"), func(o *Options) {
			o.LockFile, o.Locked, o.NoCache = lockFile, true, true
		})
		if locked.Descriptor.Digest != res.Descriptor.Digest {
			t.Errorf("locked build: %s, first %s", locked.Descriptor.Digest, res.Descriptor.Digest)
		}
	})
}

func TestBuildLockedMismatch(t *testing.T) {
	e := newTestEnv(t, "bookworm")
	lockFile := filepath.Join(t.TempDir(), "static.lock")
	e.build(e.builtin("static"), func(o *Options) { o.LockFile = lockFile })
	for name, tc := range map[string]struct {
		recipe string
		mod    func(*Options)
		want   string
	}{
		"arch":    {"static", func(o *Options) { o.Arch = "arm64" }, "is for amd64, not arm64"},
		"suite":   {"static", func(o *Options) { o.Suite = "trixie" }, "is for bookworm, not trixie"},
		"recipe":  {"base", nil, "does not hold libc6"},
		"no lock": {"static", func(o *Options) { o.LockFile = "" }, "--locked needs --lock"},
	} {
		t.Run(name, func(t *testing.T) {
			o := e.o
			o.LockFile, o.Locked = lockFile, true
			if tc.mod != nil {
				tc.mod(&o)
			}
			suite, _ := LookupSuite(o.Suite)
			r, _ := Builtin(tc.recipe, suite)
			_, err := Build(context.Background(), e.st, r, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestBuildBaseMergedUsr(t *testing.T) {
	e := newTestEnv(t, "trixie")
	var explain bytes.Buffer
	res, img := e.build(e.builtin("base"), func(o *Options) { o.Explain = &explain })
	if got, want := lockNames(res.Lock), "base-files ca-certificates libc6 libssl3t64 media-types netbase tzdata"; got != want {
		t.Errorf("packages = %s, want %s", got, want)
	}
	if !strings.Contains(explain.String(), "pruned libgcc-s1: cut from libc6") {
		t.Errorf("explanation lacks the libgcc-s1 cut:\n%s", explain.String())
	}
	fs := filesystem(t, img)
	for p, target := range map[string]string{"/bin": "usr/bin", "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64"} {
		if h := fs[p].hdr; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != target {
			t.Errorf("%s: %+v, want a link to %s", p, h, target)
		}
	}
	if fs["/usr/lib/x86_64-linux-gnu/libc.so.6"].body != "libc" {
		t.Error("libc.so.6 did not move to /usr/lib")
	}
	if h := fs["/usr/lib64/ld-linux-x86-64.so.2"].hdr; h == nil || h.Linkname != "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" {
		t.Errorf("the dynamic loader link: %+v", h)
	}
	if _, ok := fs["/usr/lib/x86_64-linux-gnu/libgcc_s.so.1"]; ok {
		t.Error("libgcc-s1 is in base")
	}
	if !strings.Contains(fs["/var/lib/dpkg/status.d/libc6.md5sums"].body, "lib/x86_64-linux-gnu/libc.so.6") {
		t.Error("libc6.md5sums lacks libc.so.6 (under its packaged path)")
	}
	// Every layer holds only relative names below the root, none of the
	// merged directories.
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		testutil.EachTarEntry(t, rc, func(h *tar.Header, _ io.Reader) {
			if strings.HasPrefix(h.Name, "/") || strings.HasPrefix(h.Name, "./") || h.Uname != "" || h.Gname != "" {
				t.Errorf("layer %d: entry %q (uname %q)", i, h.Name, h.Uname)
			}
			if top, rest, _ := strings.Cut(h.Name, "/"); (top == "bin" || top == "sbin" || top == "lib" || top == "lib64") && rest != "" {
				t.Errorf("layer %d: %s was not merged into /usr", i, h.Name)
			}
		})
		rc.Close()
	}
}

func TestBuildDebugNonRoot(t *testing.T) {
	e := newTestEnv(t, "bookworm")
	res, img := e.build(e.builtin("static"), func(o *Options) { o.Debug, o.NonRoot = true, true })
	if res.Names[0] != "distroless/static-debian12:debug-nonroot" {
		t.Errorf("name %s", res.Names[0])
	}
	cfg, _ := img.ConfigFile()
	if cfg.Config.User != "65532" || cfg.Config.WorkingDir != "/home/nonroot" {
		t.Errorf("user %q workdir %q", cfg.Config.User, cfg.Config.WorkingDir)
	}
	if strings.Join(cfg.Config.Entrypoint, " ") != "/busybox/sh" || !strings.Contains(strings.Join(cfg.Config.Env, " "), ":/busybox") {
		t.Errorf("entrypoint %v env %v", cfg.Config.Entrypoint, cfg.Config.Env)
	}
	fs := filesystem(t, img)
	if fs["/busybox/busybox"].body != "busybox" || fs["/busybox/sh"].hdr == nil || fs["/busybox/sh"].hdr.Linkname != "busybox" {
		t.Errorf("busybox: %+v %+v", fs["/busybox/busybox"].hdr, fs["/busybox/sh"].hdr)
	}
	if _, ok := fs["/bin/busybox"]; ok {
		t.Error("/bin/busybox stayed")
	}
	if _, ok := fs["/var/lib/dpkg/status.d/busybox-static.md5sums"]; ok {
		t.Error("busybox-static's md5sums name a path the image does not have")
	}
}

func TestBuildRecipeFile(t *testing.T) {
	e := newTestEnv(t, "bookworm")
	dir := t.TempDir()
	corp := testCAPEM(t, "corp root")
	os.WriteFile(filepath.Join(dir, "corp.crt"), corp, 0o644)
	yml := `name: app
base: static
packages: [fake-jre, ca-certificates-java]
prune: [libgcc-s1]
users:
  - {name: app, uid: 1000, gid: 1000}
groups:
  - {name: app, gid: 1000}
files:
  - {path: /usr/local/share/ca-certificates/corp.crt, source: corp.crt}
  - {path: /etc/app.conf, content: "x=1\n", mode: "0640", gid: 1000}
links:
  - {path: /usr/bin/app, target: /opt/app/bin/app}
env: {APP_MODE: prod}
user: app
timezone: Europe/Paris
`
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(yml), 0o644)
	r, err := ReadRecipeFile(filepath.Join(dir, "recipe.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res, img := e.build(r, nil)
	if res.Names[0] != "app-debian12:latest" {
		t.Errorf("name %s", res.Names[0])
	}
	fs := filesystem(t, img)
	if got := fs[CABundle].body; got != string(e.caPEM)+string(corp) {
		t.Errorf("bundle = %q, want the package's then the local certificate", got)
	}
	if !strings.Contains(fs["/etc/passwd"].body, "app:x:1000:1000::/home/app:/sbin/nologin\n") {
		t.Errorf("passwd = %q", fs["/etc/passwd"].body)
	}
	if h := fs["/etc/app.conf"].hdr; h == nil || h.Mode != 0o640 || h.Gid != 1000 || fs["/etc/app.conf"].body != "x=1\n" {
		t.Errorf("/etc/app.conf: %+v", h)
	}
	if h := fs["/etc/localtime"].hdr; h == nil || h.Linkname != "/usr/share/zoneinfo/Europe/Paris" || fs["/etc/timezone"].body != "Europe/Paris\n" {
		t.Errorf("/etc/localtime: %+v", h)
	}
	for link, target := range map[string]string{
		"/usr/bin/java": "/etc/alternatives/java", "/etc/alternatives/java": "/usr/lib/jvm/java-17-fake/bin/java",
		"/usr/bin/keytool": "/etc/alternatives/keytool", "/usr/bin/app": "/opt/app/bin/app",
	} {
		if h := fs[link].hdr; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != target {
			t.Errorf("%s: %+v, want a link to %s", link, h, target)
		}
	}
	if _, ok := fs["/usr/bin/javac"]; ok {
		t.Error("an alternative whose target is missing was installed")
	}
	store, err := readJKS(t, []byte(fs[JavaTrustStore].body))
	if err != nil {
		t.Fatal(err)
	}
	if len(store) != 2 || store["debian:test_root.pem"] == nil || store["debian:corp.pem"] == nil {
		t.Errorf("trust store aliases: %v", keys(store))
	}
	if _, ok := fs["/usr/share/ca-certificates-java/ca-certificates-java.jar"]; ok {
		t.Error("ca-certificates-java's files shipped")
	}
	cfg, _ := img.ConfigFile()
	if cfg.Config.User != "app" || !strings.Contains(strings.Join(cfg.Config.Env, " "), "APP_MODE=prod") {
		t.Errorf("config %+v", cfg.Config)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestBuildOutputsAndLayout(t *testing.T) {
	e := newTestEnv(t, "bookworm")
	dir := filepath.Join(t.TempDir(), "layout")
	res, _ := e.build(e.builtin("static"), func(o *Options) {
		o.Outputs = mustParseOutputs(t, "type=oci,dest="+dir, "type=image")
		o.Tags = []string{"example.invalid/team/static:1"}
	})
	if _, err := e.st.Lookup("example.invalid/team/static:1"); err != nil {
		t.Fatal(err)
	}
	idx, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{res.Descriptor.Digest.String(), AnnotationSBOMSubject, SPDXMediaType, CycloneDXMediaType} {
		if !bytes.Contains(idx, []byte(want)) {
			t.Errorf("layout index.json lacks %s:\n%s", want, idx)
		}
	}
}

func mustParseOutputs(t testing.TB, specs ...string) []output.Spec {
	t.Helper()
	var out []output.Spec
	for _, s := range specs {
		spec, err := output.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, spec)
	}
	return out
}
