package sandbox

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/whittle-build/whittle/internal/testutil"
)

// rootlessEnv tells the test binary re-executed by TestRunRootless which
// rootfs to use.
const rootlessEnv = "WHITTLE_SANDBOX_ROOTLESS_ROOTFS"

// TestRunRootless runs the sandbox as an unprivileged user with a
// single-id user namespace (what a user may set up without newuidmap): it
// re-executes the test binary as nobody, which runs rootlessChild.
func TestRunRootless(t *testing.T) {
	if root := os.Getenv(rootlessEnv); root != "" {
		rootlessChild(t, root)
		return
	}
	testutil.RequireRoot(t)
	root := newRootfs(t)
	const nobody = 65534
	if err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	}); err != nil {
		t.Fatal(err)
	}
	// The test binary sits in a directory only root may enter: copy it.
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(filepath.Dir(root), "sandbox.test")
	if err := os.WriteFile(exe, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^TestRunRootless$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), rootlessEnv+"="+root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rootless run: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestRunRootless")) {
		t.Fatalf("the rootless test did not pass:\n%s", out)
	}
	t.Logf("%s", out)
}

func rootlessChild(t *testing.T, root string) {
	if os.Geteuid() == 0 {
		t.Fatal("the rootless child runs as root")
	}
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	o := Options{
		Args:        []string{"sh", "-c", "id; cat /proc/self/uid_map | tr -s ' '; touch /made; stat -c %u /made; hostname; cat /etc/hosts | head -1; test -c /dev/null && echo dev-ok; tty </dev/null || true"},
		UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: 1}},
		GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: gid, Size: 1}},
	}
	spec, err := NewSpec(root, o)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), spec, Stdio{Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	// setgroups is denied in a single-id namespace: no supplementary groups.
	want := "uid=0 gid=0\n 0 " + strconv.Itoa(int(uid)) + " 1\n0\n" + DefaultHostname + "\n127.0.0.1\tlocalhost " + DefaultHostname + "\ndev-ok\nnot a tty\n"
	if got := stdout.String(); got != want {
		t.Errorf("got %q, want %q (stderr %q)", got, want, stderr.String())
	}
	st, err := os.Stat(filepath.Join(root, "made"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Sys().(*syscall.Stat_t).Uid != uid {
		t.Errorf("a file made by the namespace's root is owned by %d on the host, want %d", st.Sys().(*syscall.Stat_t).Uid, uid)
	}
	if names, want := entryNames(root), []string{"bin", "dev", "made", "proc", "sys"}; !slices.Equal(names, want) {
		t.Errorf("rootfs entries %v, want %v (no mount point but the runtime's)", names, want)
	}
}
