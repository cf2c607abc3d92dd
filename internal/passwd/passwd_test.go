package passwd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/moby/sys/user"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/sh

# a comment-like line and blank lines are skipped
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
`

const testGroup = `root:x:0:
daemon:x:1:
wheel:x:10:root,alice
audio:x:29:alice
alice:x:1000:
nogroup:x:65534:
`

// writeRootfs makes a root filesystem holding the given files (path inside
// the rootfs → content).
func writeRootfs(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLookup(t *testing.T) {
	full := writeRootfs(t, map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup})
	empty := writeRootfs(t, nil)
	onlyPasswd := writeRootfs(t, map[string]string{"etc/passwd": testPasswd})

	tests := []struct {
		name    string
		rootfs  string
		spec    string
		want    IDs
		wantErr []string // substrings of the error
		is      error    // errors.Is target
	}{
		{name: "empty is root", rootfs: full, spec: "", want: IDs{UID: 0, GID: 0, Groups: []uint32{10}, Home: "/root"}},
		{name: "root by name", rootfs: full, spec: "root", want: IDs{Groups: []uint32{10}, Home: "/root"}},
		{name: "root by uid", rootfs: full, spec: "0", want: IDs{Groups: []uint32{10}, Home: "/root"}},
		{name: "name", rootfs: full, spec: "daemon", want: IDs{UID: 1, GID: 1, Home: "/usr/sbin"}},
		{name: "name with supplementary groups", rootfs: full, spec: "alice", want: IDs{UID: 1000, GID: 1000, Groups: []uint32{10, 29}, Home: "/home/alice"}},
		{name: "uid with entry", rootfs: full, spec: "1000", want: IDs{UID: 1000, GID: 1000, Groups: []uint32{10, 29}, Home: "/home/alice"}},
		{name: "name:group", rootfs: full, spec: "alice:audio", want: IDs{UID: 1000, GID: 29, Home: "/home/alice"}},
		{name: "name:gid without entry", rootfs: full, spec: "alice:2000", want: IDs{UID: 1000, GID: 2000, Home: "/home/alice"}},
		{name: "uid:gid fast path", rootfs: full, spec: "1000:1000", want: IDs{UID: 1000, GID: 1000, Home: "/home/alice"}},
		{name: "uid:group", rootfs: full, spec: "1000:wheel", want: IDs{UID: 1000, GID: 10, Home: "/home/alice"}},
		{name: "uid without entry", rootfs: full, spec: "5000", want: IDs{UID: 5000, GID: 0}},
		{name: "uid:gid without entries", rootfs: full, spec: "5000:6000", want: IDs{UID: 5000, GID: 6000}},
		{name: "unknown uid:group", rootfs: full, spec: "5000:audio", want: IDs{UID: 5000, GID: 29}},
		{name: "root:root fast path", rootfs: empty, spec: "root:root", want: IDs{}},
		{name: "unknown user", rootfs: full, spec: "bob", wantErr: []string{`"bob"`, "/etc/passwd"}, is: user.ErrNoPasswdEntries},
		{name: "unknown user with group", rootfs: full, spec: "bob:audio", wantErr: []string{`"bob"`, "/etc/passwd"}, is: user.ErrNoPasswdEntries},
		{name: "unknown group", rootfs: full, spec: "alice:staff", wantErr: []string{`"staff"`, "/etc/group"}, is: user.ErrNoGroupEntries},
		{name: "no files, uid", rootfs: empty, spec: "1000", want: IDs{UID: 1000}},
		{name: "no files, uid:gid", rootfs: empty, spec: "1000:50", want: IDs{UID: 1000, GID: 50}},
		{name: "no files, empty", rootfs: empty, spec: "", want: IDs{}},
		{name: "no files, name", rootfs: empty, spec: "alice", wantErr: []string{`"alice"`, "/etc/passwd", "does not exist"}, is: user.ErrNoPasswdEntries},
		{name: "no group file, name", rootfs: onlyPasswd, spec: "alice", want: IDs{UID: 1000, GID: 1000, Home: "/home/alice"}},
		{name: "no group file, group name", rootfs: onlyPasswd, spec: "alice:audio", wantErr: []string{`"audio"`, "/etc/group", "does not exist"}, is: user.ErrNoGroupEntries},
		{name: "empty group part", rootfs: full, spec: "alice:", wantErr: []string{`"alice:"`}},
		{name: "empty user part", rootfs: full, spec: ":audio", wantErr: []string{`":audio"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Lookup(tc.rootfs, tc.spec)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("Lookup(%q) = %+v, want an error", tc.spec, got)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error %q is not %v", err, tc.is)
				}
				if strings.Contains(err.Error(), tc.rootfs) {
					t.Errorf("error %q names the host path of the rootfs", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tc.spec, err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Lookup(%q) mismatch (-want +got):\n%s", tc.spec, diff)
			}
		})
	}
}

// TestLookupSymlinks checks that symlinks resolve inside the rootfs: an
// absolute link and one climbing with ".." both stay in it.
func TestLookupSymlinks(t *testing.T) {
	root := writeRootfs(t, map[string]string{
		"usr/share/base/passwd": "carol:x:2000:2000::/home/carol:/bin/sh\n",
		"etc/group":             "carol:x:2000:\n",
	})
	if err := os.Symlink("/usr/share/base/passwd", filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	got, err := Lookup(root, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != 2000 || got.GID != 2000 || got.Home != "/home/carol" {
		t.Errorf("Lookup through an absolute symlink = %+v", got)
	}

	// A link that would leave the rootfs on the host (the host has a root
	// user) must resolve inside it, where there is no passwd file.
	escape := writeRootfs(t, map[string]string{"etc/group": ""})
	up := strings.Repeat("../", strings.Count(escape, "/")+2)
	if err := os.Symlink(up+"etc/passwd", filepath.Join(escape, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Skip("the host has no /etc/passwd to escape to")
	}
	if got, err := Lookup(escape, "root"); err == nil {
		t.Fatalf("Lookup through an escaping symlink = %+v, want an error (the host's /etc/passwd was read)", got)
	}
}

// TestLookupNotRegular checks that a FIFO in place of /etc/passwd is refused
// instead of blocking the lookup forever.
func TestLookupNotRegular(t *testing.T) {
	root := writeRootfs(t, map[string]string{"etc/group": testGroup})
	if err := syscall.Mkfifo(filepath.Join(root, "etc/passwd"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Lookup(root, "alice")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("Lookup with a FIFO passwd: err = %v, want \"not a regular file\"", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Lookup blocked on a FIFO")
	}
	// A numeric user does not need the file.
	got, err := Lookup(root, "1000")
	if err != nil || got.UID != 1000 {
		t.Fatalf("Lookup(1000) with a FIFO passwd = %+v, %v", got, err)
	}
}

func TestLookupTooLarge(t *testing.T) {
	big := strings.Repeat("x:x:1:1::/:/bin/sh\n", maxFileBytes/19+10)
	root := writeRootfs(t, map[string]string{"etc/passwd": big + "dave:x:3000:3000::/:/bin/sh\n"})
	if _, err := Lookup(root, "dave"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Lookup in a huge passwd: err = %v, want a size error", err)
	}
}

func TestLookupOwner(t *testing.T) {
	full := writeRootfs(t, map[string]string{"etc/passwd": testPasswd + "staff:x:1500:29:Staff:/home/staff:/bin/sh\n", "etc/group": testGroup})
	empty := writeRootfs(t, nil)
	tests := []struct {
		rootfs, spec string
		uid, gid     uint32
		wantErr      string
		is           error
	}{
		{rootfs: full, spec: "alice", uid: 1000, gid: 1000},
		{rootfs: full, spec: "staff", uid: 1500, gid: 29},
		// A number is the group too, even when the passwd entry says
		// otherwise (BuildKit's file operations).
		{rootfs: full, spec: "1500", uid: 1500, gid: 1500},
		{rootfs: full, spec: "5000", uid: 5000, gid: 5000},
		{rootfs: empty, spec: "5000", uid: 5000, gid: 5000},
		{rootfs: full, spec: "root", uid: 0, gid: 0},
		{rootfs: full, spec: "alice:audio", uid: 1000, gid: 29},
		{rootfs: full, spec: "5000:audio", uid: 5000, gid: 29},
		{rootfs: full, spec: "alice:6000", uid: 1000, gid: 6000},
		{rootfs: empty, spec: "5000:6000", uid: 5000, gid: 6000},
		// Empty parts: no user is root, no group changes nothing.
		{rootfs: full, spec: ":audio", uid: 0, gid: 29},
		{rootfs: full, spec: ":6000", uid: 0, gid: 6000},
		{rootfs: full, spec: "5000:", uid: 5000, gid: 5000},
		{rootfs: full, spec: "staff:", uid: 1500, gid: 29},
		{rootfs: full, spec: ":", uid: 0, gid: 0},
		{rootfs: full, spec: "bob", wantErr: `looking up user "bob" in /etc/passwd`, is: user.ErrNoPasswdEntries},
		{rootfs: full, spec: "alice:nogrp", wantErr: `looking up group "nogrp" in /etc/group`, is: user.ErrNoGroupEntries},
		{rootfs: empty, spec: "alice", wantErr: "/etc/passwd does not exist in the root filesystem", is: user.ErrNoPasswdEntries},
		{rootfs: empty, spec: "1:audio", wantErr: "/etc/group does not exist in the root filesystem", is: user.ErrNoGroupEntries},
	}
	for _, tc := range tests {
		got, err := LookupOwner(tc.rootfs, tc.spec)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, tc.is) {
				t.Errorf("LookupOwner(%q) = %+v, %v; want an error with %q", tc.spec, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.UID != tc.uid || got.GID != tc.gid {
			t.Errorf("LookupOwner(%q) = %d:%d, %v; want %d:%d", tc.spec, got.UID, got.GID, err, tc.uid, tc.gid)
		}
	}
}

func TestLookupOwnerOrRoot(t *testing.T) {
	full := writeRootfs(t, map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup})
	empty := writeRootfs(t, nil)
	tests := []struct {
		rootfs, spec string
		uid, gid     uint32
	}{
		{full, "alice", 1000, 1000},
		{full, "bob", 0, 0},
		{full, "bob:audio", 0, 29},
		{full, "alice:staff", 1000, 1000},
		{full, "5000:staff", 5000, 5000},
		{empty, "nonroot", 0, 0},
		{empty, "65532", 65532, 65532},
	}
	for _, tc := range tests {
		got, err := LookupOwnerOrRoot(tc.rootfs, tc.spec)
		if err != nil || got.UID != tc.uid || got.GID != tc.gid {
			t.Errorf("LookupOwnerOrRoot(%q) = %d:%d, %v; want %d:%d", tc.spec, got.UID, got.GID, err, tc.uid, tc.gid)
		}
	}
}
