package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

// TestMain makes the test binary double as the whittle command: testscript
// copies it into a directory on PATH as "whittle", and runs main when it is
// started under that name. (The sandbox's re-executed child, started
// through /proc/self/exe under its own name, never gets here: package
// sandbox's init takes it over.)
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"whittle": main})
}

// TestScript runs the CLI scripts of testdata/script against the real
// command. Each script has $ROOT, an empty store directory, and these
// commands besides testscript's own:
//
//	fixture busybox NAME      put the busybox fixture image into $ROOT as NAME
//	exitcode N PROG ARGS...   run PROG; its exit status must be N (stdout and stderr kept)
//	nomounts DIR              nothing is mounted at or under DIR
//	storeok                   the store at $ROOT is consistent (see checkStore)
//	cmptrim FILE1 FILE2       the files are equal but for leading and trailing white space
//	nostack                   stderr of the last command holds no Go panic or stack trace
//	serve DIR                 serve DIR over HTTP on 127.0.0.1 until the script ends; $SERVER is its URL
//	servegit DIR              serve the Git repositories under DIR (smart HTTP, git http-backend); $GITSERVER
//
// $ARCH_AMD64 and $ARCH_ARM64 are testutil.ArchProgram's programs (they
// print the architecture they run as), and the condition [emulates:ARCH]
// says whether binfmt_misc runs ARCH's ("aarch64") programs.
func TestScript(t *testing.T) {
	testutil.RequireRoot(t)
	busybox := testutil.BusyboxImage(t)
	archAMD64, archARM64 := testutil.ArchProgram(t, "amd64"), testutil.ArchProgram(t, "arm64")
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("ROOT", filepath.Join(env.WorkDir, "root"))
			env.Setenv("ARCH_AMD64", archAMD64)
			env.Setenv("ARCH_ARM64", archARM64)
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if arch, ok := strings.CutPrefix(cond, "emulates:"); ok {
				return testutil.Emulates(arch), nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"fixture": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 || args[0] != "busybox" {
					ts.Fatalf("usage: fixture busybox NAME")
				}
				ts.Check(putImage(ts.Getenv("ROOT"), busybox, args[1]))
			},
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exitcode N PROG ARGS...")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				switch {
				case errors.As(err, &ee):
					got = ee.ExitCode()
				case err != nil:
					ts.Fatalf("running %s: %v", args[1], err)
				}
				if got != want {
					ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
				}
			},
			"nomounts": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: nomounts DIR")
				}
				ms, err := mountsUnder(ts.MkAbs(args[0]))
				ts.Check(err)
				if len(ms) > 0 {
					ts.Fatalf("still mounted under %s: %v", args[0], ms)
				}
			},
			"storeok": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 0 {
					ts.Fatalf("usage: storeok")
				}
				ts.Check(checkStore(ts.Getenv("ROOT")))
			},
			"cmptrim": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: cmptrim FILE1 FILE2")
				}
				a := strings.TrimSpace(ts.ReadFile(args[0]))
				b := strings.TrimSpace(ts.ReadFile(args[1]))
				if (a == b) == neg {
					ts.Fatalf("%s = %q, %s = %q", args[0], a, args[1], b)
				}
			},
			"serve": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: serve DIR")
				}
				srv := httptest.NewServer(http.FileServer(http.Dir(ts.MkAbs(args[0]))))
				ts.Defer(srv.Close)
				ts.Setenv("SERVER", srv.URL)
			},
			"servegit": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: servegit DIR")
				}
				h, err := testutil.GitHandler(ts.MkAbs(args[0]))
				ts.Check(err)
				srv := httptest.NewServer(h)
				ts.Defer(srv.Close)
				ts.Setenv("GITSERVER", srv.URL)
			},
			"nostack": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 0 {
					ts.Fatalf("usage: nostack")
				}
				if err := noStack(ts.ReadFile("stderr")); err != nil {
					ts.Fatalf("%v", err)
				}
			},
		},
	})
}

// putImage writes img into the store at root, named name.
func putImage(root string, img v1.Image, name string) error {
	st, err := store.Open(root)
	if err != nil {
		return err
	}
	defer st.Close()
	desc, err := st.WriteImage(context.Background(), img)
	if err != nil {
		return err
	}
	return st.Tag(name, desc)
}

// stackRE matches what a Go panic or stack dump prints.
var stackRE = regexp.MustCompile(`(?m)^panic: |^goroutine \d+ \[|\.go:\d+ \+0x[0-9a-f]+$|^runtime\.`)

// noStack returns an error when out shows a Go panic or goroutine dump.
func noStack(out string) error {
	if m := stackRE.FindString(out); m != "" {
		return fmt.Errorf("output has %q, a Go stack trace or panic:\n%s", m, out)
	}
	return nil
}

// mountsUnder returns the mount points of this process's mount namespace
// that are dir or inside it.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of
// /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestErrorHint(t *testing.T) {
	full := fmt.Errorf("Dockerfile:2: RUN dd: writing blob: %w", &os.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC})
	if h := errorHint(full); !strings.Contains(h, "whittle prune") {
		t.Errorf("hint for a full disk: %q", h)
	}
	if h := errorHint(fmt.Errorf("opening store /x: %w: %w", store.ErrNoAccess, os.ErrPermission)); !strings.Contains(h, "--root DIR") {
		t.Errorf("hint for another user's store: %q", h)
	}
	if h := errorHint(errors.New("Dockerfile:1: unknown instruction: FOO")); h != "" {
		t.Errorf("hint for another error: %q", h)
	}
}
