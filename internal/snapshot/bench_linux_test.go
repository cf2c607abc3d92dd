package snapshot

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/whittle-build/whittle/internal/testutil"
)

// BenchmarkPrepareCommit measures one step's snapshot overhead: Prepare
// over the lowers, write a file, Commit, drop the diff. Lowers are a Debian
// minbase root filesystem (the CI fixture) or 120 small layers.
func BenchmarkPrepareCommit(b *testing.B) {
	testutil.RequireRoot(b)
	base := b.TempDir()
	minbase := filepath.Join(base, "minbase")
	if err := os.Mkdir(minbase, 0o755); err != nil {
		b.Fatal(err)
	}
	tarPath := testutil.DebianRootfsTar(b, "minbase")
	if out, err := exec.Command("tar", "-xpf", tarPath, "--xattrs", "--numeric-owner", "-C", minbase).CombinedOutput(); err != nil {
		b.Fatalf("unpacking %s: %v\n%s", tarPath, err, out)
	}
	var many []string
	for i := range 120 {
		dir := filepath.Join(base, "layers", fmt.Sprintf("%064d", i))
		writeLayer(b, dir, D("d"), F(fmt.Sprintf("d/f%03d", i), "x"))
		many = append([]string{dir}, many...)
	}
	makers := []struct {
		name string
		new  func(string) (Snapshotter, error)
	}{{"overlay", NewOverlay}, {"copy", NewCopy}}
	for _, lw := range []struct {
		name   string
		lowers []string
	}{{"debian-minbase", []string{minbase}}, {"120-layers", many}} {
		for _, m := range makers {
			b.Run(m.name+"/"+lw.name, func(b *testing.B) {
				sn, err := m.new(filepath.Join(base, "work-"+m.name))
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				for b.Loop() {
					a, err := sn.Prepare(ctx, lw.lowers)
					if err != nil {
						b.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(a.Root(), "new"), []byte("x"), 0o644); err != nil {
						b.Fatal(err)
					}
					d, err := a.Commit(ctx)
					if err != nil {
						b.Fatal(err)
					}
					os.RemoveAll(d)
				}
			})
		}
	}
}
