package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/whittle-build/whittle/internal/testutil"
)

// busyboxApplets are linked into the test rootfs.
var busyboxApplets = []string{"sh", "echo", "cat", "ls", "id", "hostname", "ip", "mount", "sleep",
	"grep", "test", "pwd", "env", "true", "touch", "mkdir", "stat", "readlink", "head", "wc", "tty", "kill", "tr", "umount", "unshare"}

// newRootfs makes a tiny root filesystem: /bin/busybox from the host's
// busybox-static and links to a few applets. Its directories are
// world-searchable so a user namespace's root can use it.
func newRootfs(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("needs a static /bin/busybox (Debian's busybox-static): %v", err)
	}
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func writeFile(t testing.TB, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runIn runs o in root and returns stdout, stderr and Run's error.
func runIn(t *testing.T, root string, o Options) (string, string, error) {
	t.Helper()
	spec, err := NewSpec(root, o)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = Run(ctx, spec, Stdio{Stdout: &stdout, Stderr: &stderr})
	return stdout.String(), stderr.String(), err
}

// sh runs a shell script in root and fails the test unless it succeeds.
func sh(t *testing.T, root string, o Options, script string) string {
	t.Helper()
	o.Args = []string{"sh", "-c", script}
	out, errOut, err := runIn(t, root, o)
	if err != nil {
		t.Fatalf("running %q: %v\nstdout:\n%s\nstderr:\n%s", script, err, out, errOut)
	}
	return out
}

func TestRunExitCodes(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	if err := os.WriteFile(filepath.Join(root, "bin/notexec"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int // 0: success
		signal   syscall.Signal
		notFound bool
		msg      string
	}{
		{name: "success", args: []string{"true"}},
		{name: "exit status", args: []string{"sh", "-c", "exit 3"}, code: 3},
		{name: "shell: not found", args: []string{"sh", "-c", "nosuchcmd"}, code: 127},
		{name: "exec form: not found", args: []string{"nosuchcmd", "arg"}, code: 127, notFound: true, msg: `exec: "nosuchcmd": executable file not found in $PATH`},
		{name: "exec form: absolute path missing", args: []string{"/bin/nosuchcmd"}, code: 127, notFound: true},
		{name: "exec form: not executable", args: []string{"/bin/notexec"}, code: 126, msg: "permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := runIn(t, root, Options{Args: tc.args})
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("err = %v (stderr %q)", err, errOut)
				}
				return
			}
			var ee *ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v (%T), want *ExitError; stdout %q stderr %q", err, err, out, errOut)
			}
			if ee.Code != tc.code || ee.Signal != tc.signal {
				t.Errorf("exit code %d signal %v, want %d %v", ee.Code, ee.Signal, tc.code, tc.signal)
			}
			if tc.notFound != errors.Is(err, exec.ErrNotFound) && tc.msg == "" {
				t.Errorf("errors.Is(err, exec.ErrNotFound) = %v, want %v (err %v)", !tc.notFound, tc.notFound, err)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err %q does not contain %q", err, tc.msg)
			}
		})
	}
}

func TestRunStdio(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	spec, err := NewSpec(root, Options{Args: []string{"sh", "-c", "cat; echo to-stderr >&2; echo done"}})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), spec, Stdio{Stdin: strings.NewReader("from-stdin\n"), Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatal(err)
	}
	if got, want := stdout.String(), "from-stdin\ndone\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got, want := stderr.String(), "to-stderr\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}

	// Files are passed as they are; nil stdin reads as empty.
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spec, err = NewSpec(root, Options{Args: []string{"sh", "-c", "cat; echo file-out"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), spec, Stdio{Stdout: f}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f.Name()); string(b) != "file-out\n" {
		t.Errorf("file stdout = %q", b)
	}
}

func TestRunEnvAndHome(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	writeFile(t, root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n")
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"default PATH and HOME of root", Options{}, "PATH=" + DefaultPathEnv + "\nHOME=/root\n"},
		{"HOME of a user", Options{UID: 1000, GID: 1000}, "PATH=" + DefaultPathEnv + "\nHOME=/home/u\n"},
		{"HOME without an entry", Options{UID: 2000}, "PATH=" + DefaultPathEnv + "\nHOME=/\n"},
		{"given HOME and PATH kept", Options{Env: []string{"HOME=/x", "PATH=/bin", "A=1 2"}}, "PATH=/bin\nHOME=/x\nA=1 2\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sh(t, root, tc.opts, `echo "PATH=$PATH"; echo "HOME=$HOME"; env | grep ^A= || true`)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRunCwdAndUser(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	got := sh(t, root, Options{Cwd: "/bin"}, "pwd")
	if got != "/bin\n" {
		t.Errorf("pwd = %q", got)
	}
	// A missing working directory is created, owned by the user, and kept.
	got = sh(t, root, Options{Cwd: "/work/src", UID: 1000, GID: 1001, AdditionalGIDs: []uint32{10, 20}}, "pwd; id; touch mine")
	if want := "/work/src\nuid=1000 gid=1001 groups=10,20,1001\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, p := range []string{"work", "work/src", "work/src/mine"} {
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Fatalf("the working directory was not kept: %v", err)
		}
		if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 1000 || sys.Gid != 1001 {
			t.Errorf("%s owned by %d:%d, want 1000:1001", p, sys.Uid, sys.Gid)
		}
	}
}

func TestRunPID1AndProc(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	got := sh(t, root, Options{}, `echo $$; tr '\0' ' ' < /proc/1/cmdline; echo; cat /proc/self/cmdline | head -c 3; echo; grep NoNewPrivs /proc/self/status`)
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 4 {
		t.Fatalf("output %q", got)
	}
	if lines[0] != "1" {
		t.Errorf("the shell's pid is %s, want 1", lines[0])
	}
	// /proc is the namespace's: its pid 1 is the shell, not the host's init.
	if !strings.HasPrefix(lines[1], "sh -c echo $$;") {
		t.Errorf("/proc/1/cmdline = %q, want the shell (a fresh proc of a new pid namespace)", lines[1])
	}
	if lines[2] != "cat" {
		t.Errorf("/proc/self/cmdline = %q", lines[2])
	}
	if !regexp.MustCompile(`^NoNewPrivs:\s+1$`).MatchString(lines[3]) {
		t.Errorf("no_new_privs not set: %q", lines[3])
	}
	if got := sh(t, root, Options{NewPrivileges: true}, "grep NoNewPrivs /proc/self/status"); !regexp.MustCompile(`^NoNewPrivs:\s+0\n$`).MatchString(got) {
		t.Errorf("no_new_privs with NewPrivileges: %q", got)
	}
}

func TestRunDev(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	script := `
set -e
for d in null zero full random urandom tty; do test -c /dev/$d; done
echo discard > /dev/null
head -c 5 /dev/zero | wc -c
head -c 5 /dev/urandom | wc -c
if echo x > /dev/full 2>/dev/null; then echo full-accepted; fi
echo shm > /dev/shm/f && cat /dev/shm/f
test -d /dev/pts && test -d /dev/mqueue
for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done
test -r /etc/resolv.conf
test -d /sys/kernel && echo 1
grep ' /sys sysfs ro,' /proc/self/mounts | wc -l
if cat /proc/sys/kernel/hostname > /proc/sys/kernel/hostname 2>/dev/null; then echo proc-sys-writable; fi
cat /proc/timer_list | wc -c
`
	got := sh(t, root, Options{}, script)
	want := "5\n5\nshm\npts/ptmx\n/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\n1\n1\n0\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestRunHostnameAndHosts: the hostname, and the /etc/hosts Run writes
// beside the root filesystem, never in $TMPDIR (here a directory that does
// not exist), where a killed process would leave it.
func TestRunHostnameAndHosts(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "no-such-dir"))
	got := sh(t, root, Options{}, "hostname; cat /etc/hosts")
	if want := DefaultHostname + "\n" + string(hostsFile(DefaultHostname, nil)); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = sh(t, root, Options{Hostname: "builder", Network: NetworkNone}, "hostname; cat /etc/hosts; test -e /etc/resolv.conf || echo no-resolv")
	if want := "builder\n" + string(hostsFile("builder", nil)) + "no-resolv\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	host, _ := os.Hostname()
	if host == "builder" {
		t.Errorf("the host's hostname changed")
	}
}

func TestRunNetwork(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	got := sh(t, root, Options{Network: NetworkNone}, "ip -o link; ip -o -4 addr")
	links := regexp.MustCompile(`(?m)^\d+: ([^:@]+)[:@]`).FindAllStringSubmatch(got, -1)
	if len(links) != 1 || links[0][1] != "lo" || !strings.Contains(got, "UP") || !strings.Contains(got, "127.0.0.1") {
		t.Errorf("network none: want only lo, up, with 127.0.0.1; got:\n%s", got)
	}
	got = sh(t, root, Options{}, "ip -o link")
	if n := len(regexp.MustCompile(`(?m)^\d+: `).FindAllString(got, -1)); n < 2 {
		t.Skipf("the host has no interface but lo, cannot tell host networking apart:\n%s", got)
	}
}

func TestRunCapabilities(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	const docker = "00000000a80425fb" // Docker's default set
	caps := func(o Options) map[string]string {
		out := sh(t, root, o, "grep ^Cap /proc/self/status")
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			k, v, _ := strings.Cut(l, ":")
			m[k] = strings.TrimSpace(v)
		}
		return m
	}
	zero := "0000000000000000"
	if diff := cmp.Diff(map[string]string{"CapInh": zero, "CapPrm": docker, "CapEff": docker, "CapBnd": docker, "CapAmb": zero}, caps(Options{})); diff != "" {
		t.Errorf("root capabilities (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"CapInh": zero, "CapPrm": zero, "CapEff": zero, "CapBnd": docker, "CapAmb": zero}, caps(Options{UID: 1000, GID: 1000})); diff != "" {
		t.Errorf("non-root capabilities (-want +got):\n%s", diff)
	}
	// Without CAP_SYS_ADMIN the process cannot mount.
	if out, _, err := runIn(t, root, Options{Args: []string{"sh", "-c", "mkdir -p /m && mount -t tmpfs tmpfs /m && echo mounted"}}); err == nil || strings.Contains(out, "mounted") {
		t.Errorf("mount succeeded inside the sandbox: %v %q", err, out)
	}
}

// TestRunPrivileged: the insecure mode has every capability whittle holds
// (in every set, for a non-root user too), can mount, has BuildKit's extra
// devices, a writable /sys and nothing masked; no_new_privs is off.
func TestRunPrivileged(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	var self string
	for _, l := range strings.Split(string(must(os.ReadFile("/proc/self/status"))), "\n") {
		if v, ok := strings.CutPrefix(l, "CapPrm:"); ok {
			self = strings.TrimSpace(v)
		}
	}
	for _, uid := range []uint32{0, 1000} {
		got := sh(t, root, Options{Privileged: true, UID: uid, GID: uid}, "grep -E '^(Cap|NoNewPrivs)' /proc/self/status | tr -d ' \t'")
		want := fmt.Sprintf("CapInh:%[1]s\nCapPrm:%[1]s\nCapEff:%[1]s\nCapBnd:%[1]s\nCapAmb:%[1]s\nNoNewPrivs:0\n", self)
		if got != want {
			t.Errorf("uid %d: got\n%s\nwant\n%s", uid, got, want)
		}
	}
	script := `
set -e
mkdir -p /m && mount -t tmpfs tmpfs /m && touch /m/x && umount /m && echo mounted
for d in fuse kmsg kvm net/tun loop-control loop0 loop7; do test -e /dev/$d || echo "no /dev/$d"; done
grep ' /sys sysfs rw,' /proc/self/mounts | wc -l
head -c 1 /proc/timer_list | wc -c
grep -c ' /proc/sys proc ro,' /proc/self/mounts || true
`
	got := sh(t, root, Options{Privileged: true}, script)
	if want := "mounted\n1\n1\n0\n"; got != want {
		t.Errorf("privileged: got\n%s\nwant\n%s", got, want)
	}
	// The same checks in the default sandbox fail or differ.
	got = sh(t, root, Options{}, "test -e /dev/fuse || echo no-fuse; head -c 1 /proc/timer_list | wc -c; grep -c ' /proc/sys proc ro,' /proc/self/mounts")
	if want := "no-fuse\n0\n1\n"; got != want {
		t.Errorf("default: got\n%s\nwant\n%s", got, want)
	}
}

// TestRunSeccomp: the sandbox runs under seccompProfile's filter (for root,
// another user, and without no_new_privs), which refuses a user namespace
// as Docker's profile does; the insecure mode has no filter.
func TestRunSeccomp(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	const script = "grep '^Seccomp:' /proc/self/status | tr -d ' \t'; unshare -U true 2>&1; echo rc=$?"
	refused := "Seccomp:2\nunshare: unshare(0x10000000): Operation not permitted\nrc=1\n"
	for _, o := range []Options{{}, {UID: 1000, GID: 1000}, {NewPrivileges: true}} {
		if got := sh(t, root, o, script); got != refused {
			t.Errorf("%+v: got\n%s\nwant\n%s", o, got, refused)
		}
	}
	if got := sh(t, root, Options{Privileged: true}, script); got != "Seccomp:0\nrc=0\n" {
		t.Errorf("privileged: got\n%s", got)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRunReadOnlyRoot(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	got := sh(t, root, Options{ReadOnlyRoot: true}, "touch /x 2>/dev/null && echo wrote-root; touch /dev/shm/x && echo wrote-shm")
	if got != "wrote-shm\n" {
		t.Errorf("got %q", got)
	}
}

func TestRunBindMount(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	src := t.TempDir()
	writeFile(t, src, "hello", "from host\n")
	o := Options{Mounts: []specs.Mount{{Destination: "/src/in", Type: "bind", Source: src, Options: []string{"rbind", "ro"}}}}
	got := sh(t, root, o, "cat /src/in/hello; touch /src/in/x 2>/dev/null && echo writable; true")
	if got != "from host\n" {
		t.Errorf("got %q", got)
	}
	if _, err := os.Stat(filepath.Join(root, "src")); err == nil {
		t.Errorf("the /src mount point stub was left behind")
	}
}

func TestRunCancel(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	spec, err := NewSpec(root, Options{Args: []string{"sh", "-c", "sleep 987654 & echo started; sleep 987655"}})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, spec, Stdio{Stdout: pw})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || line != "started\n" {
		t.Fatalf("reading the process's output: %q, %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %v", d)
	}
	if left := processesMatching(t, "98765"); len(left) > 0 {
		t.Errorf("processes left after cancel: %v", left)
	}
	if names := entryNames(root); !slices.Equal(names, runtimeStubs) {
		t.Errorf("rootfs entries after cancel %v, want %v (no mount point but the runtime's)", names, runtimeStubs)
	}
}

func TestRunKilled(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	spec, err := NewSpec(root, Options{Args: []string{"sleep", "987656"}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), spec, Stdio{}) }()
	// Signals other than SIGKILL sent from outside to a pid namespace's
	// init without a handler are ignored: kill it as the OOM killer would.
	deadline := time.Now().Add(10 * time.Second)
	for {
		procs := processesMatching(t, "sleep 987656")
		if len(procs) == 1 {
			var pid int
			if _, err := fmt.Sscanf(procs[0], "%d:", &pid); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the process did not show up: %v", procs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	err = <-done
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 137 || ee.Signal != syscall.SIGKILL {
		t.Fatalf("err = %v, want *ExitError with code 137 and SIGKILL", err)
	}
}

// processesMatching lists the command lines of live processes that contain s.
func processesMatching(t *testing.T, s string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if _, err := fmt.Sscanf(e.Name(), "%d", new(int)); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if cmd := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cmd, s) {
			out = append(out, e.Name()+": "+cmd)
		}
	}
	return out
}

// mountsUnder returns the mount points at or below dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Mountpoint)
	}
	return out
}

// hostMounts returns the host's mount points outside the temporary
// directory (where other tests may be mounting things concurrently).
func hostMounts(t *testing.T) []string {
	t.Helper()
	ms, err := mountinfo.GetMounts(nil)
	if err != nil {
		t.Fatal(err)
	}
	tmp := os.TempDir()
	var out []string
	for _, m := range ms {
		if !strings.HasPrefix(m.Mountpoint, tmp+"/") {
			out = append(out, m.Mountpoint+" "+m.FSType+" "+m.Source)
		}
	}
	sort.Strings(out)
	return out
}

// runtimeStubs are the entries of a rootfs of newRootfs after a run: the
// mount points of the runtime's /proc, /dev and /sys stay, as in BuildKit.
var runtimeStubs = []string{"bin", "dev", "proc", "sys"}

// entryNames returns the names in dir, sorted.
func entryNames(dir string) []string {
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestRunLeavesNothingBehind: a run leaves no mount point of its own, no
// /etc/hosts or /etc/resolv.conf and no mount, only the directories of the
// runtime's /proc, /dev and /sys, as BuildKit's images have them.
func TestRunLeavesNothingBehind(t *testing.T) {
	testutil.RequireRoot(t)
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		setup  func(t *testing.T, root string)
		script string
		opts   Options
		want   []string // top-level entries after the run
		// rootTimeKept: the rootfs's mtime is set back (nothing stays in it).
		rootTimeKept bool
	}{
		{name: "bare rootfs", script: "ls / >/dev/null", want: runtimeStubs},
		{name: "network none", script: "true", opts: Options{Network: NetworkNone}, want: runtimeStubs},
		{name: "failing command", script: "exit 1", want: runtimeStubs},
		{
			name:   "existing etc keeps its mtime",
			setup:  func(t *testing.T, root string) { writeFile(t, root, "etc/os-release", "x\n") },
			script: "cat /etc/hosts >/dev/null",
			want:   []string{"bin", "dev", "etc", "proc", "sys"},
		},
		{
			name:   "files written by the process stay",
			script: "mkdir -p /proc/../tmp && echo x > /tmp/f",
			want:   []string{"bin", "dev", "proc", "sys", "tmp"},
		},
		{
			name: "the runtime's mount points that exist keep their times",
			setup: func(t *testing.T, root string) {
				for _, d := range []string{"proc", "dev", "sys"} {
					if err := os.Mkdir(filepath.Join(root, d), 0o555); err != nil {
						t.Fatal(err)
					}
				}
			},
			script:       "true",
			want:         runtimeStubs,
			rootTimeKept: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := newRootfs(t)
			if tc.setup != nil {
				tc.setup(t, root)
			}
			for _, d := range []string{root, filepath.Join(root, "etc")} {
				_ = os.Chtimes(d, old, old)
			}
			before := hostMounts(t)
			tc.opts.Args = []string{"sh", "-c", tc.script}
			_, _, err := runIn(t, root, tc.opts)
			var ee *ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			names := entryNames(root)
			if diff := cmp.Diff(tc.want, names); diff != "" {
				t.Errorf("rootfs entries after the run (-want +got):\n%s", diff)
			}
			if slices.Contains(tc.want, "etc") {
				if st, _ := os.Stat(filepath.Join(root, "etc")); !st.ModTime().Equal(old) {
					t.Errorf("/etc mtime %v, want %v restored", st.ModTime(), old)
				}
				if _, err := os.Stat(filepath.Join(root, "etc/hosts")); err == nil {
					t.Errorf("/etc/hosts stub left behind")
				}
			}
			if tc.rootTimeKept {
				if st, _ := os.Stat(root); !st.ModTime().Equal(old) {
					t.Errorf("rootfs mtime %v, want %v restored", st.ModTime(), old)
				}
			}
			if m := mountsUnder(t, root); len(m) != 0 {
				t.Errorf("mounts left under the rootfs: %v", m)
			}
			if diff := cmp.Diff(before, hostMounts(t)); diff != "" {
				t.Errorf("host mounts changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestRunSetupError(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	o := Options{Args: []string{"true"}, Mounts: []specs.Mount{{Destination: "/data", Type: "bind", Source: "/nonexistent/whittle-test"}}}
	_, _, err := runIn(t, root, o)
	var se *SetupError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want *SetupError", err, err)
	}
	if se.Op != "mounting bind on /data" || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("SetupError op %q err %v", se.Op, se.Err)
	}
	if names := entryNames(root); !slices.Equal(names, runtimeStubs) {
		t.Errorf("rootfs entries after a setup error %v, want %v (no mount point but the runtime's)", names, runtimeStubs)
	}
}

func TestRunTerminal(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	spec, err := NewSpec(root, Options{Args: []string{"sh", "-c", "tty; test -t 0 && test -t 1 && echo is-a-tty; readlink /proc/self/fd/2"}, Terminal: true})
	if err != nil {
		t.Fatal(err)
	}
	spec.Process.ConsoleSize = &specs.Box{Height: 30, Width: 100}
	var out bytes.Buffer
	if err := Run(context.Background(), spec, Stdio{Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(out.String(), "\r\n", "\n")
	if want := "/dev/pts/0\nis-a-tty\n/dev/pts/0\n"; got != want {
		t.Errorf("terminal output %q, want %q", got, want)
	}
}

func TestRunUserNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	root := newRootfs(t)
	if err := os.Mkdir(filepath.Join(root, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	const hostBase = 200000
	if err := os.Chown(filepath.Join(root, "tmp"), hostBase, hostBase); err != nil {
		t.Fatal(err)
	}
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostBase, Size: 65536}}
	got := sh(t, root, Options{UIDMappings: m, GIDMappings: m}, `id; cat /proc/self/uid_map | tr -s ' '; touch /tmp/f; chown 5:5 /tmp/f; stat -c '%u:%g' /proc/1/root/bin/busybox; hostname; test -c /dev/null && echo dev-ok`)
	want := "uid=0 gid=0 groups=0\n 0 200000 65536\n65534:65534\n" + DefaultHostname + "\ndev-ok\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	st, err := os.Stat(filepath.Join(root, "tmp/f"))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != hostBase+5 || sys.Gid != hostBase+5 {
		t.Errorf("file chowned to 5:5 in the namespace is %d:%d on the host, want %d:%d", sys.Uid, sys.Gid, hostBase+5, hostBase+5)
	}
	if names, want := entryNames(root), []string{"bin", "dev", "proc", "sys", "tmp"}; !slices.Equal(names, want) {
		t.Errorf("rootfs entries %v, want %v (no mount point but the runtime's)", names, want)
	}
}

// TestRunConcurrent runs sandboxes at once, each on its own root
// filesystem (as each RUN has its own snapshot).
func TestRunConcurrent(t *testing.T) {
	testutil.RequireRoot(t)
	const n = 6
	var roots []string
	for range n {
		roots = append(roots, newRootfs(t))
	}
	errs := make(chan error, n)
	for i, root := range roots {
		go func() {
			name := fmt.Sprintf("host-%d", i)
			spec, err := NewSpec(root, Options{Args: []string{"hostname"}, Hostname: name, Network: []string{NetworkHost, NetworkNone}[i%2]})
			if err != nil {
				errs <- err
				return
			}
			var out bytes.Buffer
			if err := Run(context.Background(), spec, Stdio{Stdout: &out}); err != nil {
				errs <- err
				return
			}
			if out.String() != name+"\n" {
				errs <- fmt.Errorf("sandbox %d: hostname %q", i, out.String())
				return
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, root := range roots {
		if names := entryNames(root); !slices.Equal(names, runtimeStubs) {
			t.Errorf("rootfs entries after concurrent runs %v, want %v", names, runtimeStubs)
		}
	}
}
