package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestTool(t *testing.T) {
	if got := Tool(t, "sh"); !filepath.IsAbs(got) {
		t.Errorf("Tool(sh) = %q, want an absolute path", got)
	}
	t.Setenv("CI", "")
	r := &recordTB{TB: t}
	Tool(r, "no-such-tool-whittle")
	if !r.skipped {
		t.Errorf("no skip for a missing tool")
	}
}

// TestBuildkitBuilds runs the reference BuildKit on the busybox fixture: the
// oracle that the engine's tests compare with works as documented.
func TestBuildkitBuilds(t *testing.T) {
	buildctl, addr := Buildkit(t)
	reg := LocalRegistry(t)
	ref := reg + "/whittle-testutil/busybox:buildkit"
	roundTrip(t, BusyboxImage(t), ref)

	ctx, out := t.TempDir(), t.TempDir()
	df := "FROM " + ref + "\nRUN echo built by buildkit > /hello && id -un > /user\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), buildctl, "--addr", addr, "build", "--progress=plain",
		"--frontend", "dockerfile.v0", "--local", "context="+ctx, "--local", "dockerfile="+ctx,
		"--output", "type=local,dest="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buildctl build: %v\n%s", err, b)
	}
	for file, want := range map[string]string{"hello": "built by buildkit", "user": "root"} {
		b, err := os.ReadFile(filepath.Join(out, file))
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(b)) != want {
			t.Errorf("/%s = %q, want %q", file, b, want)
		}
	}
}
