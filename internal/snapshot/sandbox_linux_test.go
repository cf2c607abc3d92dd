package snapshot

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/whittle-build/whittle/internal/sandbox"
	"github.com/whittle-build/whittle/internal/testutil"
)

// TestSandboxRun runs commands in the sandbox on a snapshot's root, as a
// RUN step does, and checks the diffs: a command that changes nothing
// leaves an empty diff although the sandbox made and removed mount points
// (/etc/hosts, /etc/resolv.conf) in the root and mounted over /proc, /dev
// and /sys (which the base has: where it lacks them, they stay, as in
// BuildKit).
func TestSandboxRun(t *testing.T) {
	testutil.RequireRoot(t)
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("needs a static /bin/busybox: %v", err)
	}
	makers := map[string]func(string) (Snapshotter, error){"overlay": NewOverlay, "copy": NewCopy}
	for name, newSn := range makers {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			must(t, os.Chmod(base, 0o755))
			lower := filepath.Join(base, "lower")
			writeLayer(t, lower, D("bin"), F("bin/busybox", string(busybox)).withMode(0o755), L("bin/sh", "busybox"), D("etc"), F("etc/os-release", "ID=test\n"), D("dev"), D("proc"), D("sys"))
			workDir := filepath.Join(base, "work")
			if name == "overlay" {
				if err := Supported(workDir); err != nil {
					t.Skipf("overlay not supported: %v", err)
				}
			}
			sn, err := newSn(workDir)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				script string
				want   map[string]string
			}{
				{"true", map[string]string{}},
				{"cat /etc/hosts /etc/resolv.conf /proc/self/status >/dev/null", map[string]string{}},
				{"echo x > /etc/f; rm /etc/os-release", map[string]string{"etc": "dir", "etc/f": "file", "etc/os-release": "whiteout"}},
			} {
				active, err := sn.Prepare(context.Background(), []string{lower})
				if err != nil {
					t.Fatal(err)
				}
				spec, err := sandbox.NewSpec(active.Root(), sandbox.Options{Args: []string{"/bin/sh", "-c", tc.script}})
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				if err := sandbox.Run(context.Background(), spec, sandbox.Stdio{Stdout: &out, Stderr: &out}); err != nil {
					active.Release()
					t.Fatalf("%s: %v\n%s", tc.script, err, out.String())
				}
				diff, err := active.Commit(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(tc.want, summary(readTree(t, diff)), cmpopts.EquateEmpty()); d != "" {
					t.Errorf("%s: diff entries (-want +got):\n%s", tc.script, d)
				}
				os.RemoveAll(diff)
			}
		})
	}
}
