package step

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/whittle-build/whittle/internal/plan"
	"github.com/whittle-build/whittle/internal/testutil"
)

// netBindCap is security.capability granting cap_net_bind_service, as
// `setcap cap_net_bind_service=+ep` writes it (VFS_CAP_REVISION_2).
func netBindCap() []byte {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], 0x02000001) // revision 2, effective
	binary.LittleEndian.PutUint32(b[4:], 1<<unix.CAP_NET_BIND_SERVICE)
	return b
}

// TestCopyXattrs: COPY keeps a file's extended attributes, file
// capabilities too, also with --chown (chown clears security.capability,
// so it is set after) and from a stage; never security.selinux or
// overlayfs's own. BuildKit v0.34 loses security.capability on COPY
// (moby/buildkit#2250); buildah keeps it, as whittle does.
func TestCopyXattrs(t *testing.T) {
	testutil.RequireRoot(t)
	src := tree(t, map[string]string{"tool": "x", "d/f": "y"})
	set := func(p, name string, v []byte) {
		t.Helper()
		if err := unix.Lsetxattr(filepath.Join(src, p), name, v, 0); err != nil {
			testutil.Unavailable(t, "extended attribute %s on the temporary directory's file system: %v", name, err)
		}
	}
	set("tool", "security.capability", netBindCap())
	set("tool", "user.origin", []byte("ctx"))
	set("d/f", "user.origin", []byte("dir"))
	set("d", "trusted.overlay.opaque", []byte("y"))
	get := func(root, p, name string) string {
		t.Helper()
		b := make([]byte, 64)
		n, err := unix.Lgetxattr(filepath.Join(root, p), name, b)
		if err != nil {
			return ""
		}
		return string(b[:n])
	}
	for _, c := range []struct {
		name string
		cp   plan.Copy
		src  Source
	}{
		{"context", plan.Copy{Sources: []string{"tool", "d"}, Dest: "/out/"}, Source{Root: src}},
		{"--chown", plan.Copy{Sources: []string{"tool", "d"}, Dest: "/out/", Chown: "1000:1000"}, Source{Root: src}},
		{"a stage", plan.Copy{Sources: []string{"tool", "d"}, Dest: "/out/"}, Source{Root: src, KeepOwner: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rootfs := t.TempDir()
			if err := Copy(context.Background(), rootfs, &c.cp, c.src, CopyOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := get(rootfs, "out/tool", "security.capability"); got != string(netBindCap()) {
				t.Errorf("out/tool's security.capability: %q", got)
			}
			if got := get(rootfs, "out/tool", "user.origin"); got != "ctx" {
				t.Errorf("out/tool's user.origin: %q", got)
			}
			if got := get(rootfs, "out/f", "user.origin"); got != "dir" {
				t.Errorf("out/f's user.origin: %q", got)
			}
			if got := get(rootfs, "out", "trusted.overlay.opaque"); got != "" {
				t.Errorf("overlayfs's own attribute was copied: %q", got)
			}
		})
	}
}
