package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// archProgram is a static program that says which architecture it runs as:
// it prints GOARCH and writes it to /arch (when it can), whatever its
// arguments, so that it serves as a stand-in /bin/sh of a RUN as well as a
// command of `whittle run`.
const archProgram = `package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Println(runtime.GOARCH)
	_ = os.WriteFile("/arch", []byte(runtime.GOARCH+"\n"), 0o644)
}
`

// ArchProgram cross-compiles archProgram for linux/arch and returns the
// binary's path: a program of another architecture for the tests of
// multi-platform builds and emulation, made by the Go toolchain running the
// tests rather than committed.
func ArchProgram(t testing.TB, arch string) string {
	t.Helper()
	gobin := Tool(t, "go")
	src := t.TempDir()
	for n, c := range map[string]string{"go.mod": "module archprogram\n\ngo 1.22\n", "main.go": archProgram} {
		if err := os.WriteFile(filepath.Join(src, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "arch-"+arch)
	cmd := exec.Command(gobin, "build", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the %s program: %v\n%s", arch, err, b)
	}
	return out
}

// Emulates says whether binfmt_misc has an emulator registered for the
// qemu architecture name arch ("aarch64", "s390x"), so that the kernel runs
// that architecture's programs.
func Emulates(arch string) bool {
	_, err := os.Stat("/proc/sys/fs/binfmt_misc/qemu-" + arch)
	return err == nil
}
