package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"testing"
)

// TestBaseBadFlags: whittle base refuses a bad --progress or -t as whittle
// build does, with the same message, before it opens the store or asks the
// Debian mirror for anything.
func TestBaseBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"progress", []string{"--progress", "bogus"}, `^--progress=bogus: want auto, plain, tty, json or quiet$`},
		{"tag", []string{"-t", "ok:1", "-t", "Bad:Name"}, `^-t Bad:Name: parsing image name "Bad:Name": .* \(a name is \[registry/\]repository\[:tag\], lower case\)$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int64
			mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				http.NotFound(w, r)
			}))
			defer mirror.Close()
			root := filepath.Join(t.TempDir(), "root")
			want := regexp.MustCompile(tc.want)
			var msgs []string
			for _, args := range [][]string{
				append([]string{"--root", root, "base", "static", "--mirror", mirror.URL}, tc.args...),
				append([]string{"--root", root, "build", t.TempDir()}, tc.args...),
			} {
				err := whittleCmd(t, args...)
				if err == nil || !want.MatchString(err.Error()) {
					t.Errorf("whittle %q: %v, want an error matching %s", args, err, want)
				}
				msgs = append(msgs, fmt.Sprint(err))
			}
			if msgs[0] != msgs[1] {
				t.Errorf("base says %q, build %q", msgs[0], msgs[1])
			}
			if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the store at %s was opened (stat: %v)", root, err)
			}
			if n := requests.Load(); n > 0 {
				t.Errorf("the mirror was asked %d times", n)
			}
		})
	}
}

// TestRegistryFlags: every command that talks to registries has
// --insecure-registry and --registry-ca, with the same type, default and help.
func TestRegistryFlags(t *testing.T) {
	type flag struct{ typ, def, usage string }
	want := map[string]flag{
		"insecure-registry": {"stringArray", "[]", "a registry that may be reached over plain HTTP; repeatable"},
		"registry-ca":       {"string", "", "a PEM file of extra CA certificates for registries"},
	}
	root := newRoot()
	for _, name := range []string{"build", "base", "push", "login", "analyze", "diff"} {
		cmd, _, err := root.Find([]string{name})
		if err != nil || cmd.Name() != name {
			t.Fatalf("finding whittle %s: %v", name, err)
		}
		for fname, w := range want {
			f := cmd.Flags().Lookup(fname)
			if f == nil {
				t.Errorf("whittle %s has no --%s", name, fname)
				continue
			}
			if got := (flag{f.Value.Type(), f.DefValue, f.Usage}); got != w {
				t.Errorf("whittle %s --%s is %+v, want %+v", name, fname, got, w)
			}
		}
	}
}
