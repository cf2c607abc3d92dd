package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// jail is a directory to apply hostile layers in, with a secret beside it
// that must stay untouched.
type jail struct {
	parent, root, outside, secret string
	hostMarker                    string // an absolute path on the host that must not appear
}

func newJail(t *testing.T) jail {
	t.Helper()
	parent := t.TempDir()
	j := jail{
		parent:     parent,
		root:       filepath.Join(parent, "root"),
		outside:    filepath.Join(parent, "outside"),
		hostMarker: fmt.Sprintf("/tmp/whittle-escape-%d-%s", os.Getpid(), filepath.Base(parent)),
	}
	j.secret = filepath.Join(j.outside, "secret")
	if err := os.MkdirAll(j.root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(j.outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(j.secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(j.hostMarker) })
	return j
}

// check fails t if anything outside root changed.
func (j jail) check(t *testing.T) {
	t.Helper()
	if diff := cmp.Diff([]string{"outside/", "root/", "outside/secret=secret"}, listDepth1(t, j.parent)); diff != "" {
		t.Errorf("outside the root changed (-want +got):\n%s", diff)
	}
	st, err := lstat(j.secret)
	if err != nil {
		t.Fatal(err)
	}
	if st.nlink != 1 || st.perm != 0o600 || st.kind != kindRegular {
		t.Errorf("secret: nlink %d mode %o kind %d, want 1, 600, regular", st.nlink, st.perm, st.kind)
	}
	if _, err := os.Lstat(j.hostMarker); err == nil {
		t.Errorf("%s was written on the host", j.hostMarker)
	}
}

// listDepth1 lists parent's children and the outside dir's content.
func listDepth1(t *testing.T, parent string) []string {
	t.Helper()
	var out []string
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name()+"/")
		} else {
			out = append(out, e.Name())
		}
	}
	for _, s := range listTree(t, filepath.Join(parent, "outside"), OverlayOpaqueXattr) {
		out = append(out, "outside/"+s)
	}
	return out
}

func TestApplyHostile(t *testing.T) {
	type result struct {
		err   error // errors.Is target; nil: any error
		fails bool  // Apply must fail
		check func(t *testing.T, j jail)
	}
	exists := func(rel, content string) func(t *testing.T, j jail) {
		return func(t *testing.T, j jail) {
			t.Helper()
			data, err := os.ReadFile(filepath.Join(j.root, rel))
			if err != nil || string(data) != content {
				t.Errorf("%s inside the root: %q, %v; want %q", rel, data, err, content)
			}
		}
	}
	tests := []struct {
		name    string
		entries func(j jail) []tarEntry
		want    result
	}{
		{"dotdot", func(j jail) []tarEntry { return []tarEntry{reg("../escape", "x")} },
			result{err: ErrUnsafePath, fails: true}},
		{"dotdot in the middle", func(j jail) []tarEntry { return []tarEntry{reg("a/../../escape", "x")} },
			result{err: ErrUnsafePath, fails: true}},
		{"dotdot dir", func(j jail) []tarEntry { return []tarEntry{dirEntry("../../x/")} },
			result{err: ErrUnsafePath, fails: true}},
		{"absolute dotdot", func(j jail) []tarEntry { return []tarEntry{reg("/../escape", "x")} },
			result{err: ErrUnsafePath, fails: true}},
		{"absolute name", func(j jail) []tarEntry { return []tarEntry{reg("/abs/file", "x")} },
			result{check: exists("abs/file", "x")}},
		{"absolute name outside", func(j jail) []tarEntry { return []tarEntry{reg(j.secret, "pwned")} },
			result{check: func(t *testing.T, j jail) { exists(j.secret, "pwned")(t, j) }}},
		{"symlink to / then write", func(j jail) []tarEntry {
			return []tarEntry{symEntry("a", "/"), reg("a"+j.hostMarker, "x")}
		}, result{check: func(t *testing.T, j jail) { exists(j.hostMarker, "x")(t, j) }}},
		{"symlink up then write", func(j jail) []tarEntry {
			return []tarEntry{symEntry("up", "../../../.."), reg("up/escape", "x")}
		}, result{check: exists("escape", "x")}},
		{"symlink to outside then write", func(j jail) []tarEntry {
			return []tarEntry{symEntry("o", j.outside), reg("o/secret", "pwned")}
		}, result{check: func(t *testing.T, j jail) { exists(j.secret, "pwned")(t, j) }}},
		{"relative symlink to outside then write", func(j jail) []tarEntry {
			return []tarEntry{symEntry("o", "../outside"), reg("o/secret", "pwned")}
		}, result{check: exists("outside/secret", "pwned")}},
		{"symlink chain", func(j jail) []tarEntry {
			return []tarEntry{symEntry("c1", "c2"), symEntry("c2", "/.."), reg("c1/x", "x")}
		}, result{check: exists("x", "x")}},
		{"symlink dir then mkdir through it", func(j jail) []tarEntry {
			return []tarEntry{symEntry("o", j.outside), dirEntry("o/newdir/"), reg("o/newdir/f", "x")}
		}, result{check: func(t *testing.T, j jail) { exists(filepath.Join(j.outside, "newdir/f"), "x")(t, j) }}},
		{"symlink loop", func(j jail) []tarEntry {
			return []tarEntry{symEntry("l1", "l2"), symEntry("l2", "l1"), reg("l1/x", "x")}
		}, result{fails: true}},
		{"hardlink up", func(j jail) []tarEntry { return []tarEntry{linkEntry("h", "../outside/secret")} },
			result{err: ErrUnsafePath, fails: true}},
		{"hardlink absolute", func(j jail) []tarEntry { return []tarEntry{linkEntry("h", j.secret)} },
			result{fails: true}},
		{"hardlink through symlink dir", func(j jail) []tarEntry {
			return []tarEntry{symEntry("o", j.outside), linkEntry("h", "o/secret")}
		}, result{fails: true}},
		{"hardlink to symlink to outside", func(j jail) []tarEntry {
			return []tarEntry{symEntry("s", j.secret), linkEntry("h", "s"), reg("h", "pwned"), reg("s", "pwned")}
		}, result{check: func(t *testing.T, j jail) {
			exists("h", "pwned")(t, j)
			exists("s", "pwned")(t, j)
		}}},
		{"hardlink to symlink, kept as a link", func(j jail) []tarEntry {
			return []tarEntry{symEntry("s", j.secret), linkEntry("h", "s")}
		}, result{check: func(t *testing.T, j jail) {
			if target, err := os.Readlink(filepath.Join(j.root, "h")); err != nil || target != j.secret {
				t.Errorf("h: %q, %v; want a symlink to %s", target, err, j.secret)
			}
		}}},
		{"hardlink to dir", func(j jail) []tarEntry { return []tarEntry{dirEntry("d/"), linkEntry("h", "d")} },
			result{fails: true}},
		{"hardlink to root", func(j jail) []tarEntry { return []tarEntry{linkEntry("h", "./")} },
			result{fails: true}},
		{"file over symlink", func(j jail) []tarEntry {
			return []tarEntry{symEntry("s", j.secret), reg("s", "pwned")}
		}, result{check: exists("s", "pwned")}},
		{"dir over symlink", func(j jail) []tarEntry {
			return []tarEntry{symEntry("d", j.outside), dirEntry("d/"), reg("d/secret", "pwned")}
		}, result{check: exists("d/secret", "pwned")}},
		{"whiteout through symlink", func(j jail) []tarEntry {
			return []tarEntry{symEntry("o", j.outside), reg("o/.wh.secret", "")}
		}, result{}},
		{"opaque through symlink", func(j jail) []tarEntry {
			return []tarEntry{symEntry("o", j.outside), reg("o/.wh..wh..opq", "")}
		}, result{}},
		{"whiteout up", func(j jail) []tarEntry { return []tarEntry{reg("../.wh.outside", "")} },
			result{err: ErrUnsafePath, fails: true}},
		{"whiteout of dotdot", func(j jail) []tarEntry { return []tarEntry{reg("a/.wh..", "")} },
			result{fails: true}},
		{"whiteout of dot", func(j jail) []tarEntry { return []tarEntry{reg(".wh..", "")} },
			result{fails: true}},
		{"file as root", func(j jail) []tarEntry { return []tarEntry{reg("a/..", "x")} },
			result{fails: true}},
		{"overlong component", func(j jail) []tarEntry { return []tarEntry{reg(strings.Repeat("n", 300), "x")} },
			result{fails: true}},
		{"overlong path", func(j jail) []tarEntry { return []tarEntry{reg(strings.Repeat("d/", 3000)+"f", "x")} },
			result{fails: true}},
		{"device with NoDevices", func(j jail) []tarEntry {
			return []tarEntry{{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "sda", Mode: 0o666, Devmajor: 8, ModTime: testTime}}}
		}, result{check: func(t *testing.T, j jail) {
			if _, err := os.Lstat(filepath.Join(j.root, "sda")); err == nil {
				t.Error("block device made with NoDevices")
			}
		}}},
		{"overlay xattrs dropped", func(j jail) []tarEntry {
			d := dirEntry("d/")
			d.hdr.PAXRecords = map[string]string{
				paxXattrPrefix + "trusted.overlay.redirect": "/etc",
				paxXattrPrefix + "user.overlay.opaque":      "y",
			}
			return []tarEntry{d}
		}, result{check: func(t *testing.T, j jail) {
			var buf []byte
			if attrs, _ := listXattrs(filepath.Join(j.root, "d"), &buf); len(attrs) != 0 {
				t.Errorf("overlay xattrs taken from the tar: %v", attrs)
			}
		}}},
	}
	for _, mode := range []string{"flatten", "overlay"} {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				j := newJail(t)
				opts := ApplyOptions{NoChown: true, NoDevices: true}
				if mode == "overlay" {
					opts.Overlay, opts.OpaqueXattr = true, UserOverlayOpaqueXattr
				}
				_, _, err := Apply(context.Background(), j.root, bytes.NewReader(makeTar(t, tt.entries(j)...)), opts)
				switch {
				case tt.want.fails && err == nil:
					t.Errorf("Apply succeeded, want an error")
				case !tt.want.fails && err != nil:
					t.Errorf("Apply: %v", err)
				case tt.want.err != nil && !errors.Is(err, tt.want.err):
					t.Errorf("Apply: %v, want %v", err, tt.want.err)
				}
				if err != nil && !strings.Contains(err.Error(), "entry") {
					t.Errorf("error %q does not name the entry", err)
				}
				j.check(t)
				if tt.want.check != nil {
					tt.want.check(t, j)
				}
			})
		}
	}
}
