package distroless

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUsrMergePath(t *testing.T) {
	m := newUsrMerge("amd64")
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"bin/ls", "usr/bin/ls", true},
		{"sbin/ldconfig", "usr/sbin/ldconfig", true},
		{"lib/x86_64-linux-gnu/libc.so.6", "usr/lib/x86_64-linux-gnu/libc.so.6", true},
		{"lib64/ld-linux-x86-64.so.2", "usr/lib64/ld-linux-x86-64.so.2", true},
		{"libx32/x", "usr/libx32/x", true},
		{"bin", "", false},
		{"lib64", "", false},
		{"usr/bin/env", "usr/bin/env", true},
		{"etc/bin/x", "etc/bin/x", true},
		{"binary/x", "binary/x", true},
		{"library", "library", true},
	} {
		got, ok := m.path(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("path(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// arm64 has no lib64 to merge.
	if got, ok := newUsrMerge("arm64").path("lib64/x"); got != "lib64/x" || !ok {
		t.Errorf("arm64 lib64/x = %q, %v", got, ok)
	}
}

func TestUsrMergeSymlink(t *testing.T) {
	m := newUsrMerge("amd64")
	for _, tc := range []struct{ oldPath, target, want string }{
		// Absolute targets resolve through the top-level links.
		{"lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"},
		// A neighbour stays a neighbour.
		{"bin/sh", "dash", "dash"},
		// Climbing out of a moved directory into /usr: one level less.
		{"bin/pidof", "../sbin/killall5", "../sbin/killall5"},
		{"bin/python3", "../usr/bin/python3.11", "python3.11"},
		{"lib/x86_64-linux-gnu/libz.so.1", "../../usr/lib/x86_64-linux-gnu/libz.so.1.2", "libz.so.1.2"},
		// Into a directory that is not merged.
		{"sbin/resolvconf", "../etc/resolvconf/run", "../../etc/resolvconf/run"},
	} {
		np, _ := m.path(tc.oldPath)
		if got := m.symlink(tc.oldPath, np, tc.target); got != tc.want {
			t.Errorf("symlink(%s → %s) = %q, want %q", tc.oldPath, tc.target, got, tc.want)
		}
	}
	// A link that did not move keeps its target.
	if got := m.symlink("usr/bin/x", "usr/bin/x", "../../bin/y"); got != "../../bin/y" {
		t.Errorf("unmoved link changed: %q", got)
	}
}

func TestRelPath(t *testing.T) {
	for _, tc := range []struct{ from, to, want string }{
		{"usr/bin", "usr/bin/x", "x"},
		{"usr/bin", "usr/sbin/x", "../sbin/x"},
		{"usr/lib/a/b", "etc/x", "../../../../etc/x"},
		{"", "etc/x", "etc/x"},
		{"usr", "usr", "."},
	} {
		if got := relPath(tc.from, tc.to); got != tc.want {
			t.Errorf("relPath(%q, %q) = %q, want %q", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestUsrMergeLinks(t *testing.T) {
	got := newUsrMerge("amd64").links(func(p string) bool { return p == "usr/lib64" })
	want := map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
}
