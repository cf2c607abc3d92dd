package build

import (
	"strings"
	"testing"
)

func TestTmpfsMount(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN --mount=type=tmpfs,target=/scratch,size=1048576 \
    grep ' /scratch ' /proc/mounts | cut -d' ' -f1,3 > /fstype && \
    echo data > /scratch/f && cat /scratch/f > /read && \
    if dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>/dev/null; then echo fits; else echo full; fi > /limit
`,
	})
	img, _ := e.mustBuild(dir, Options{})
	fs := filesystem(t, img)
	for p, want := range map[string]string{"/fstype": "tmpfs tmpfs\n", "/read": "data\n", "/limit": "full\n"} {
		if got := fs[p].content; got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if _, ok := fs["/scratch"]; ok {
		t.Error("the tmpfs mount point is in the image")
	}
}

// TestRunNetwork: RUN --network overrides the build's default network.
// A network namespace of our own has only the loopback interface.
func TestRunNetwork(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort > /default
RUN --network=none tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort > /none
RUN --network=host tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort > /host
`,
	})
	for _, tt := range []struct {
		network     string
		defaultOnly bool // the default RUN sees only lo
	}{
		{"host", false},
		{"none", true},
	} {
		t.Run("build-"+tt.network, func(t *testing.T) {
			img, _ := e.mustBuild(dir, Options{Network: tt.network})
			fs := filesystem(t, img)
			if got := fs["/none"].content; got != "lo\n" {
				t.Errorf("--network=none sees %q, want only lo", got)
			}
			if got := fs["/host"].content; got == "lo\n" || !strings.Contains(got, "lo\n") {
				t.Errorf("--network=host sees %q, want the host's interfaces", got)
			}
			if got := fs["/default"].content; (got == "lo\n") != tt.defaultOnly {
				t.Errorf("with --network %s a plain RUN sees %q", tt.network, got)
			}
		})
	}
}
