package distroless

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/analyze"
	"github.com/whittle-build/whittle/internal/container"
	"github.com/whittle-build/whittle/internal/debian"
	"github.com/whittle-build/whittle/internal/snapshot"
	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if mirror != nil {
		mirror.st.Close()
		os.RemoveAll(mirror.st.Root())
	}
	os.Exit(code)
}

// mirrorEnv is a store shared by the tests against the host's Debian
// mirror, and a client whose .deb cache outlives the test run (it is
// content-addressed and verified, like the CLI's).
type mirrorEnv struct {
	st     *store.Store
	client *debian.Client
}

var (
	mirrorOnce sync.Once
	mirror     *mirrorEnv
	mirrorErr  error
)

// hostMirror returns the shared environment, skipping t without the
// network or when the host's apt sources do not configure bookworm.
func hostMirror(t *testing.T) *mirrorEnv {
	t.Helper()
	testutil.RequireNetwork(t, "the Debian mirror from the host's apt sources")
	if _, err := debian.Repositories(debian.RepositoryConfig{Dist: "bookworm"}); err != nil {
		t.Skipf("the host's apt sources do not configure bookworm: %v", err)
	}
	mirrorOnce.Do(func() {
		dir, err := os.MkdirTemp("", "whittle-distroless-test-")
		if err != nil {
			mirrorErr = err
			return
		}
		st, err := store.Open(dir)
		if err != nil {
			mirrorErr = err
			return
		}
		c, err := debian.New()
		if err != nil {
			mirrorErr = err
			return
		}
		mirror = &mirrorEnv{st: st, client: c}
	})
	if mirrorErr != nil {
		t.Fatal(mirrorErr)
	}
	return mirror
}

// build builds a recipe against the host's mirror.
func (m *mirrorEnv) build(t *testing.T, r *Recipe, o Options) (*Result, v1.Image) {
	t.Helper()
	o.Client = m.client
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	res, err := Build(ctx, m.st, r, o)
	if err != nil {
		var ve *debian.VerifyError
		if !errors.As(err, &ve) && strings.Contains(err.Error(), "dial tcp") {
			testutil.Unavailable(t, "the Debian mirror is unreachable: %v", err)
		}
		t.Fatal(err)
	}
	img, err := m.st.Image(res.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	return res, img
}

func builtin(t *testing.T, name, suite string) *Recipe {
	t.Helper()
	s, err := LookupSuite(suite)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Builtin(name, s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run runs args in img (root needed) and returns its output.
func (m *mirrorEnv) run(t *testing.T, img v1.Image, o container.Options) (string, error) {
	t.Helper()
	testutil.RequireRoot(t)
	dir, err := m.st.TempDir("test-run-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	snap, err := snapshot.NewOverlay(dir)
	if err != nil || snapshot.Supported(dir) != nil {
		if snap, err = snapshot.NewCopy(dir); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	o.Stdout, o.Stderr = &out, &out
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err = container.Run(ctx, m.st, snap, img, o)
	return out.String(), err
}

// distroless's sizes for bookworm amd64 (files, gzip'd layers), bytes.
var distrolessSizes = map[string][2]float64{
	"static": {2.0e6, 0.7e6},
	"base":   {20.7e6, 8.2e6},
	"cc":     {23.5e6, 9.2e6},
}

// forbidden are what no distroless image may hold: a shell or a package
// manager, in any of the places they live.
var forbidden = []string{
	"/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/bash", "/bin/dash", "/usr/bin/dash",
	"/bin/busybox", "/usr/bin/busybox", "/usr/bin/dpkg", "/usr/bin/apt", "/usr/bin/apt-get",
	"/sbin/apk", "/usr/bin/perl",
}

// TestIntegrationRecipes builds every distroless recipe for bookworm amd64
// from the host's mirror, checks that static, base and cc hold no shell
// and no package manager (by walking the filesystem and with
// internal/analyze), that scanners find every package, and reports the
// sizes, which must be within 5% of distroless's where it publishes them.
func TestIntegrationRecipes(t *testing.T) {
	m := hostMirror(t)
	if HostArch() != "amd64" {
		t.Skip("the size comparison is for amd64")
	}
	var table strings.Builder
	fmt.Fprintf(&table, "\n| image | packages | layers | files (MB) | tar (MB) | gzip (MB) | distroless files / gzip (MB) |\n|---|---|---|---|---|---|---|\n")
	for _, name := range []string{"static", "base-nossl", "base", "cc", "python3", "java"} {
		t.Run(name, func(t *testing.T) {
			res, img := m.build(t, builtin(t, name, "bookworm"), Options{})
			fs := filesystem(t, img)
			var files int64
			for _, e := range fs {
				if e.hdr.Typeflag == tar.TypeReg {
					files += e.hdr.Size
				}
			}
			ref := "-"
			if want, ok := distrolessSizes[name]; ok {
				ref = fmt.Sprintf("%.1f / %.1f", want[0]/1e6, want[1]/1e6)
				for i, got := range []float64{float64(files), float64(res.CompressedSize)} {
					if d := (got - want[i]) / want[i]; d > 0.05 || d < -0.05 {
						t.Errorf("%s: %s %.2f MB is %+.1f%% from distroless's %.2f MB", name, []string{"files", "gzip"}[i], got/1e6, d*100, want[i]/1e6)
					}
				}
			}
			fmt.Fprintf(&table, "| %s | %d | %d | %.2f | %.2f | %.2f | %s |\n", name, len(res.Lock.Packages), len(res.Layers),
				float64(files)/1e6, float64(res.Size)/1e6, float64(res.CompressedSize)/1e6, ref)

			// Scanners see every package through status.d.
			rep, err := analyze.Analyze(context.Background(), img, name, analyze.Options{ReadCompressed: true})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, p := range rep.Packages {
				if p.Type == "deb" {
					seen[p.Name] = true
				}
			}
			for _, p := range res.Lock.Packages {
				if !seen[p.Name] {
					t.Errorf("analyze does not see package %s", p.Name)
				}
			}
			if name == "python3" || name == "java" {
				return
			}
			for _, p := range forbidden {
				if _, ok := fs[p]; ok {
					t.Errorf("%s holds %s", name, p)
				}
			}
			for _, f := range rep.Findings {
				if f.Rule == analyze.RuleShell || f.Rule == analyze.RulePackageManager {
					t.Errorf("analyze: %s: %s (%s)", f.Rule, f.Path, f.Verdict)
				}
			}
		})
	}
	t.Log(table.String())
}

// checkTLSSource is a client that trusts only what crypto/x509 finds on
// the system (SSL_CERT_FILE, then /etc/ssl/certs/ca-certificates.crt), and
// prints its uid, gid and working directory with -id.
const checkTLSSource = `package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	if os.Args[1] == "-id" {
		wd, _ := os.Getwd()
		fmt.Println(os.Getuid(), os.Getgid(), wd)
		return
	}
	resp, err := http.Get(os.Args[1])
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s %s\n", resp.Status, b)
}
`

// buildCheckTLS compiles checkTLSSource with CGO_ENABLED=0.
func buildCheckTLS(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
		if _, err := os.Stat(goBin); err != nil {
			t.Skip("no Go toolchain to build the TLS client with")
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(checkTLSSource), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module checktls\n\ngo 1.21\n"), 0o644)
	cmd := exec.Command(goBin, "build", "-o", "check_tls", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the TLS client: %v\n%s", err, out)
	}
	return filepath.Join(dir, "check_tls")
}

// TestIntegrationStaticTLS runs a CGO_ENABLED=0 Go binary in static that
// makes a TLS connection to a server on 127.0.0.1 whose certificate is
// signed by a CA the recipe file adds to the image's bundle. The same
// image without that CA must fail to connect (the bundle is what decides),
// and --nonroot runs the binary as 65532 in /home/nonroot.
func TestIntegrationStaticTLS(t *testing.T) {
	m := hostMirror(t)
	testutil.RequireRoot(t)
	client := buildCheckTLS(t)
	caPEM, issue := newTestCA(t, "whittle integration CA")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello over TLS") })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{issue()}}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	url := "https://" + ln.Addr().String() + "/"

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "test-ca.crt"), caPEM, 0o644)
	recipe := func(withCA bool) *Recipe {
		y := "name: tlscheck\nbase: static\nfiles:\n  - {path: /check_tls, source: " + client + ", mode: \"0755\"}\n"
		if withCA {
			y += "  - {path: /usr/local/share/ca-certificates/test-ca.crt, source: test-ca.crt}\n"
		}
		r, err := ParseRecipe("tlscheck.yaml", []byte(y), dir)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	_, img := m.build(t, recipe(true), Options{})
	out, err := m.run(t, img, container.Options{Entrypoint: []string{"/check_tls"}, Args: []string{url}})
	if err != nil || !strings.Contains(out, "200 OK hello over TLS") {
		t.Fatalf("with the CA in the bundle: %v\n%s", err, out)
	}

	_, plain := m.build(t, recipe(false), Options{})
	out, err = m.run(t, plain, container.Options{Entrypoint: []string{"/check_tls"}, Args: []string{url}})
	if err == nil || !strings.Contains(out, "certificate signed by unknown authority") {
		t.Fatalf("without the CA the connection must fail on the certificate: %v\n%s", err, out)
	}

	_, nonroot := m.build(t, recipe(true), Options{NonRoot: true})
	out, err = m.run(t, nonroot, container.Options{Entrypoint: []string{"/check_tls"}, Args: []string{"-id"}})
	if err != nil || strings.TrimSpace(out) != "65532 65532 /home/nonroot" {
		t.Fatalf("--nonroot: %v: %q, want \"65532 65532 /home/nonroot\"", err, out)
	}
}

// TestIntegrationPython3 runs python3 in the python3 image.
func TestIntegrationPython3(t *testing.T) {
	m := hostMirror(t)
	testutil.RequireRoot(t)
	_, img := m.build(t, builtin(t, "python3", "bookworm"), Options{})
	out, err := m.run(t, img, container.Options{Args: []string{"-c", "import ssl, json, sqlite3; print('ok', ssl.OPENSSL_VERSION, sqlite3.sqlite_version, json.dumps([1]))"}})
	if err != nil || !strings.HasPrefix(out, "ok OpenSSL 3") {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err = m.run(t, img, container.Options{Entrypoint: []string{"/usr/bin/python3"}, Args: []string{"-c", "import sys; print(sys.version_info[:2])"}})
	if err != nil || !strings.Contains(out, "(3, 11)") {
		t.Fatalf("/usr/bin/python3: %v\n%s", err, out)
	}
}

// TestIntegrationJava runs java -version, and keytool on the trust store
// made from the CA bundle.
func TestIntegrationJava(t *testing.T) {
	m := hostMirror(t)
	testutil.RequireRoot(t)
	_, img := m.build(t, builtin(t, "java", "bookworm"), Options{NonRoot: true})
	out, err := m.run(t, img, container.Options{Entrypoint: []string{"/usr/bin/java"}, Args: []string{"-version"}})
	if err != nil || !strings.Contains(out, `openjdk version "17`) {
		t.Fatalf("java -version: %v\n%s", err, out)
	}
	out, err = m.run(t, img, container.Options{Entrypoint: []string{"/usr/bin/keytool"}, Args: []string{"-list", "-cacerts", "-storepass", "changeit"}})
	if err != nil || !strings.Contains(out, "Your keystore contains 1") || !strings.Contains(out, "debian:isrg_root_x1.pem") {
		t.Fatalf("keytool -list -cacerts: %v\n%.2000s", err, out)
	}
}

// TestIntegrationLockedDigest builds base twice from one lock, the second
// time without any cache: the digests are equal.
func TestIntegrationLockedDigest(t *testing.T) {
	m := hostMirror(t)
	lock := filepath.Join(t.TempDir(), "base.lock")
	first, _ := m.build(t, builtin(t, "base", "bookworm"), Options{LockFile: lock, NoCache: true})
	second, _ := m.build(t, builtin(t, "base", "bookworm"), Options{LockFile: lock, Locked: true, NoCache: true})
	if first.Descriptor.Digest != second.Descriptor.Digest {
		t.Fatalf("same lock, different digests: %s, %s", first.Descriptor.Digest, second.Descriptor.Digest)
	}
	third, _ := m.build(t, builtin(t, "base", "bookworm"), Options{LockFile: lock, Locked: true, Compression: "zstd"})
	if third.Descriptor.Digest == first.Descriptor.Digest || third.Layers[0].Blob.MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" {
		t.Errorf("zstd layers: %s %s", third.Descriptor.Digest, third.Layers[0].Blob.MediaType)
	}
}

// TestIntegrationArm64 resolves static and base for arm64 (they cannot run
// here) and checks the image metadata and the libc's architecture.
func TestIntegrationArm64(t *testing.T) {
	m := hostMirror(t)
	res, img := m.build(t, builtin(t, "base", "bookworm"), Options{Arch: "arm64"})
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Architecture != "arm64" || cfg.Variant != "v8" || cfg.OS != "linux" || res.Lock.Architecture != "arm64" {
		t.Errorf("config %s/%s/%s, lock %s", cfg.OS, cfg.Architecture, cfg.Variant, res.Lock.Architecture)
	}
	fs := filesystem(t, img)
	if _, ok := fs["/lib/aarch64-linux-gnu/libc.so.6"]; !ok {
		t.Error("no aarch64 libc")
	}
	for _, p := range res.Lock.Packages {
		if p.Architecture != "arm64" && p.Architecture != "all" {
			t.Errorf("%s is %s", p.Name, p.Architecture)
		}
	}
	if !slices.Equal(res.Names, []string{"distroless/base-debian12:latest-arm64", "distroless/base-debian12:latest"}) {
		t.Errorf("names %v", res.Names)
	}
	// The host's name holds the arm64 image too (beside the host's, when
	// another test made it): a multi-platform build finds both.
	d, err := m.st.Lookup("distroless/base-debian12:latest")
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := m.st.PlatformImage(d, &v1.Platform{OS: "linux", Architecture: "arm64"}); err != nil || got.Digest != res.Descriptor.Digest {
		t.Errorf("the arm64 image of distroless/base-debian12:latest: %v (%v), want %s", got.Digest, err, res.Descriptor.Digest)
	}
}

// TestIntegrationTrixie builds base for trixie from the host's archive
// given as a mirror: /usr is merged.
func TestIntegrationTrixie(t *testing.T) {
	m := hostMirror(t)
	host, err := debian.Repositories(debian.RepositoryConfig{Dist: "bookworm", Suites: []string{"bookworm"}})
	if err != nil {
		t.Skip(err)
	}
	res, img := m.build(t, builtin(t, "base", "trixie"), Options{Suite: "trixie", Mirror: host[0].URL})
	fs := filesystem(t, img)
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib64"} {
		if h := fs[d].hdr; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "usr"+d {
			t.Errorf("%s: %+v", d, h)
		}
	}
	if !strings.Contains(fs["/etc/os-release"].body, "VERSION_CODENAME=trixie") {
		t.Errorf("os-release: %s", fs["/etc/os-release"].body)
	}
	t.Logf("trixie base: %d packages, %.1f MB, %s", len(res.Lock.Packages), float64(res.CompressedSize)/1e6, res.Descriptor.Digest)
}

// TestIntegrationDebianGolang makes the golang:bookworm build image with
// the debian recipe (dpkg in the sandbox, maintainer scripts run) and
// checks that go build and apt-get work in it.
func TestIntegrationDebianGolang(t *testing.T) {
	m := hostMirror(t)
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("installs about 90 packages with dpkg (minutes); skipped with -short")
	}
	res, img := m.build(t, builtin(t, "debian", "bookworm"), Options{Include: []string{"golang-go", "ca-certificates"}, Tags: []string{"golang:bookworm"}})
	script := `set -e
mkdir -p /tmp/hello && cd /tmp/hello
printf 'package main\nimport "fmt"\nfunc main() { fmt.Println("built in whittle") }\n' > main.go
printf 'module hello\n' > go.mod
CGO_ENABLED=0 go build -o hello . && ./hello
dpkg --audit && apt-get check >/dev/null && echo apt-ok
test -L /bin && test "$(readlink /bin)" = usr/bin && echo merged`
	out, err := m.run(t, img, container.Options{Args: []string{"sh", "-c", script}, Network: "none"})
	if err != nil || !strings.Contains(out, "built in whittle") || !strings.Contains(out, "apt-ok") || !strings.Contains(out, "merged") {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err = m.run(t, img, container.Options{Args: []string{"sh", "-c", "apt-get update -q >/dev/null && apt-cache policy hello | head -3"}})
	if err != nil || !strings.Contains(out, "Candidate:") {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	t.Logf("golang:bookworm: %d packages, %.0f MB (%.0f MB gzip)", len(res.Lock.Packages), float64(res.Size)/1e6, float64(res.CompressedSize)/1e6)
}

// TestIntegrationLDCache runs python3 from an image where libz.so.1 lives
// only in /opt/zlib, named by /etc/ld.so.conf.d/zlib.conf: the loader finds
// it through the generated /etc/ld.so.cache, and without the configuration
// (so without a cache) python cannot start.
func TestIntegrationLDCache(t *testing.T) {
	m := hostMirror(t)
	testutil.RequireRoot(t)
	if HostArch() != "amd64" {
		t.Skip("copies the host's amd64 libz")
	}
	libz, err := filepath.EvalSymlinks("/lib/x86_64-linux-gnu/libz.so.1")
	if err != nil {
		t.Skipf("no host libz to copy: %v", err)
	}
	dir := t.TempDir()
	recipe := func(conf bool) *Recipe {
		y := `name: pyz
base: cc
packages: [python3.11-minimal, libpython3.11-stdlib]
prune: [zlib1g, dpkg, tar, readline-common, python3-minimal]
files:
  - {path: /opt/zlib/libz.so.1, source: ` + libz + `}
`
		if conf {
			y += "  - {path: /etc/ld.so.conf.d/zlib.conf, content: \"/opt/zlib\\n\"}\n"
		}
		r, err := ParseRecipe("pyz.yaml", []byte(y), dir)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cmd := container.Options{Entrypoint: []string{"/usr/bin/python3.11"}, Args: []string{"-c", "import zlib; print('zlib', zlib.ZLIB_RUNTIME_VERSION)"}}
	res, img := m.build(t, recipe(true), Options{})
	for _, p := range res.Lock.Packages {
		if p.Name == "zlib1g" {
			t.Fatal("zlib1g was not pruned")
		}
	}
	fs := filesystem(t, img)
	if _, ok := fs[LDCache]; !ok {
		t.Fatal("no /etc/ld.so.cache")
	}
	out, err := m.run(t, img, cmd)
	if err != nil || !strings.HasPrefix(out, "zlib 1.") {
		t.Fatalf("with the cache: %v\n%s", err, out)
	}
	_, img = m.build(t, recipe(false), Options{})
	out, err = m.run(t, img, cmd)
	if err == nil || !strings.Contains(out, "libz.so.1") {
		t.Fatalf("without the configuration python should not find libz: %v\n%s", err, out)
	}
}

// TestIntegrationDebug runs the --debug image's busybox shell and checks
// that every link in /busybox is an applet of Debian's busybox-static.
func TestIntegrationDebug(t *testing.T) {
	m := hostMirror(t)
	testutil.RequireRoot(t)
	res, img := m.build(t, builtin(t, "static", "bookworm"), Options{Debug: true, NonRoot: true})
	script := `id -u; for a in /busybox/*; do n=${a##*/}; [ "$n" = busybox ] && continue; busybox --list | grep -qxF "$n" || echo "not an applet: $n"; done; echo done`
	out, err := m.run(t, img, container.Options{Args: []string{"-c", script}})
	if err != nil || out != "65532\ndone\n" {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Names[0] != "distroless/static-debian12:debug-nonroot" {
		t.Errorf("name %s", res.Names[0])
	}
}
