package analyze

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// findPackage returns the package called name of type typ from r.
func findPackage(r *Report, typ, name string) (Package, bool) {
	for _, p := range r.Packages {
		if p.Type == typ && p.Name == name {
			return p, true
		}
	}
	return Package{}, false
}

func TestDpkgStatus(t *testing.T) {
	status := `Package: bash
Status: install ok installed
Priority: required
Architecture: amd64
Version: 5.2.15-2+b7
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.

Package: removed-one
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u4
Description: GNU C Library
`
	img := imageOf(t, v1.Config{User: "65532"},
		[]tf{
			dir("/usr"), dir("/usr/bin"), dir("/usr/lib"), symlink("/bin", "usr/bin"),
			file("/var/lib/dpkg/status", status),
			// dpkg lists the unmerged path /bin/bash: found through /bin → usr/bin.
			file("/var/lib/dpkg/info/bash.list", "/.\n/bin\n/bin/bash\n/usr/share/doc/bash/copyright\n/etc/bash.bashrc\n"),
			file("/var/lib/dpkg/info/libc6:amd64.list", "/usr/lib/libc.so.6\n/usr/lib/ld.so\n/usr/lib/gone.so\n"),
			file("/var/lib/dpkg/info/removed-one.list", "/etc/removed.conf\n"),
			exe("/usr/bin/bash", 1000),
			sized("/usr/share/doc/bash/copyright", 20),
			sized("/etc/bash.bashrc", 5),
			sized("/usr/lib/libc.so.6", 2000),
			hardlink("/usr/lib/ld.so", "/usr/lib/libc.so.6"), // same inode: counted once
			sized("/etc/removed.conf", 7),
		},
		[]tf{withMode(sized("/usr/share/doc/bash/copyright", 30), 0o644)},
	)
	r, err := Analyze(context.Background(), img, "dpkg", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{
		{Name: "libc6", Version: "2.36-9+deb12u4", Bytes: 2000, Files: 1, Type: "deb", Source: "/var/lib/dpkg/status"},
		{Name: "bash", Version: "5.2.15-2+b7", Bytes: 1035, Files: 3, Type: "deb", Source: "/var/lib/dpkg/status"},
	}
	if diff := cmp.Diff(want, r.Packages); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
}

func TestDpkgStatusD(t *testing.T) {
	img := imageOf(t, v1.Config{User: "65532"}, []tf{
		file("/var/lib/dpkg/status.d/tzdata", "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n"),
		file("/var/lib/dpkg/status.d/tzdata.md5sums",
			"0123456789abcdef0123456789abcdef  usr/share/zoneinfo/UTC\n0123456789abcdef0123456789abcdef  usr/share/zoneinfo/Europe/Paris\n"),
		file("/var/lib/dpkg/status.d/base-files", "Package: base-files\nVersion: 12.4+deb12u5\n"),
		file("/var/lib/dpkg/status.d/base-files.md5sums", "0123456789abcdef0123456789abcdef  etc/os-release\n"),
		sized("/usr/share/zoneinfo/UTC", 114),
		sized("/usr/share/zoneinfo/Europe/Paris", 2962),
		sized("/etc/os-release", 267),
	})
	r, err := Analyze(context.Background(), img, "statusd", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{
		{Name: "tzdata", Version: "2024a-0+deb12u1", Bytes: 3076, Files: 2, Type: "deb", Source: "/var/lib/dpkg/status.d/tzdata"},
		{Name: "base-files", Version: "12.4+deb12u5", Bytes: 267, Files: 1, Type: "deb", Source: "/var/lib/dpkg/status.d/base-files"},
	}
	if diff := cmp.Diff(want, r.Packages); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
}

func TestApkInstalled(t *testing.T) {
	db := `C:Q1abc=
P:musl
V:1.2.5-r0
A:x86_64
S:383152
I:622592
T:the musl c library (libc) implementation
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1def=
R:libc.musl-x86_64.so.1
a:0:0:777

C:Q1ghi=
P:busybox
V:1.36.1-r29
F:bin
R:busybox
F:etc
R:securetty
R:missing-file

`
	img := imageOf(t, v1.Config{User: "65532"}, []tf{
		file("/lib/apk/db/installed", db),
		exe("/lib/ld-musl-x86_64.so.1", 600),
		symlink("/lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
		exe("/bin/busybox", 800),
		sized("/etc/securetty", 40),
	})
	r, err := Analyze(context.Background(), img, "apk", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{
		{Name: "busybox", Version: "1.36.1-r29", Bytes: 840, Files: 2, Type: "apk", Source: "/lib/apk/db/installed"},
		{Name: "musl", Version: "1.2.5-r0", Bytes: 600, Files: 1, Type: "apk", Source: "/lib/apk/db/installed"},
	}
	if diff := cmp.Diff(want, r.Packages); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
}

// buildGoBinary builds a tiny Go program whose main module requires a
// local module, so its build information lists a dependency.
func buildGoBinary(t testing.TB) []byte {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go tool on PATH to build a test binary")
	}
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/hello\n\ngo 1.22\n\nrequire example.com/greet v1.2.3\n\nreplace example.com/greet => ./greet\n")
	write("main.go", "package main\n\nimport \"example.com/greet\"\n\nfunc main() { println(greet.Hello()) }\n")
	write("greet/go.mod", "module example.com/greet\n\ngo 1.22\n")
	write("greet/greet.go", "package greet\n\nfunc Hello() string { return \"hello\" }\n")
	out := filepath.Join(dir, "hello")
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false", "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOPROXY=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoBuildInfo(t *testing.T) {
	bin := buildGoBinary(t)
	img := imageOf(t, v1.Config{User: "65532"}, []tf{
		fileBytes("/app/hello", bin),
		withMode(fileBytes("/app/not-executable", bin), 0o644), // not a candidate: no x bit
	})
	r, err := Analyze(context.Background(), img, "go", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{
		{Name: "example.com/hello", Version: "(devel)", Bytes: int64(len(bin)), Files: 1, Type: "go-module", Source: "/app/hello"},
		{Name: "example.com/greet", Version: "v1.2.3 => ./greet", Type: "go-module", Source: "/app/hello"},
	}
	if diff := cmp.Diff(want, r.Packages); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}

	// Above MaxBinarySize the binary is not read: no packages.
	r, err = Analyze(context.Background(), img, "go", Options{MaxBinarySize: int64(len(bin)) - 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Packages) != 0 {
		t.Errorf("packages with a binary over MaxBinarySize: %v", r.Packages)
	}
}

// TestGoBuildInfoSpooled reads a binary through the temporary-file path
// used for binaries larger than inMemoryBinary.
func TestGoBuildInfoSpooled(t *testing.T) {
	bin := buildGoBinary(t)
	padded := append(append([]byte{}, bin...), make([]byte, inMemoryBinary)...) // trailing bytes do not disturb ELF parsing
	img := imageOf(t, v1.Config{User: "65532"}, []tf{fileBytes("/usr/local/bin/big", padded)})
	tmp := t.TempDir()
	r, err := Analyze(context.Background(), img, "go", Options{TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := findPackage(r, "go-module", "example.com/hello"); !ok || p.Bytes != int64(len(padded)) {
		t.Errorf("spooled binary: package %+v, found %v", p, ok)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}
