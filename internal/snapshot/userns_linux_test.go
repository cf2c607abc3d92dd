package snapshot

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"

	"github.com/whittle-build/whittle/internal/testutil"
)

// userNSEnv is set in the test binary that TestUserNamespace re-executes.
const userNSEnv = "WHITTLE_SNAPSHOT_TEST_USERNS"

// TestUserNamespace runs the conformance suite as rootless whittle would:
// in a user namespace that maps only its root, to an unprivileged host uid,
// where overlayfs needs userxattr and opaque directories are marked with
// user.overlay.opaque.
func TestUserNamespace(t *testing.T) {
	if os.Getenv(userNSEnv) != "" {
		t.Skip("already in the user namespace")
	}
	testutil.RequireRoot(t)
	const nobody = 65534
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	// The test binary sits in a directory only root may enter: copy it.
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "snapshot.test")
	if err := os.WriteFile(exe, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^(TestOverlay|TestOverlayClassicMount|TestCopy)$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), userNSEnv+"=1", "TMPDIR="+tmp)
	cmd.Dir = tmp
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: nobody, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: nobody, Size: 1}},
		Credential:  &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("suite in a user namespace: %v\n%s", err, out)
	}
	for _, name := range []string{"TestOverlay", "TestOverlayClassicMount", "TestCopy"} {
		if !bytes.Contains(out, []byte("--- PASS: "+name+" ")) {
			t.Errorf("%s did not pass in the user namespace", name)
		}
	}
	// The suite must really have run, not skipped for lack of overlay.
	if n := len(regexp.MustCompile(`(?m)^    --- PASS: `).FindAll(out, -1)); n < 50 {
		t.Errorf("only %d cases passed in the user namespace:\n%s", n, out)
	}
	if t.Failed() {
		t.Logf("%s", out)
	}
}
