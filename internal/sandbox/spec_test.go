package sandbox

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func mountDests(s *specs.Spec) []string {
	var d []string
	for _, m := range s.Mounts {
		d = append(d, m.Destination)
	}
	return d
}

func nsTypes(s *specs.Spec) []specs.LinuxNamespaceType {
	var t []specs.LinuxNamespaceType
	for _, ns := range s.Linux.Namespaces {
		t = append(t, ns.Type)
	}
	return t
}

func findMount(s *specs.Spec, dest string) (specs.Mount, bool) {
	for _, m := range s.Mounts {
		if m.Destination == dest {
			return m, true
		}
	}
	return specs.Mount{}, false
}

func TestNewSpec(t *testing.T) {
	idmap := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	wide := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	tests := []struct {
		name  string
		opts  Options
		check func(t *testing.T, s *specs.Spec)
	}{
		{
			name: "defaults",
			opts: Options{Args: []string{"sh", "-c", "true"}},
			check: func(t *testing.T, s *specs.Spec) {
				if s.Version != specs.Version || s.Root.Path != "/rootfs" || s.Root.Readonly {
					t.Errorf("version/root = %q %+v", s.Version, s.Root)
				}
				if s.Hostname != DefaultHostname {
					t.Errorf("hostname = %q", s.Hostname)
				}
				p := s.Process
				if p.Cwd != "/" || !p.NoNewPrivileges || p.Terminal || p.Rlimits != nil {
					t.Errorf("process = %+v", p)
				}
				if diff := cmp.Diff([]string{"PATH=" + DefaultPathEnv}, p.Env); diff != "" {
					t.Errorf("env (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0}}, p.User); diff != "" {
					t.Errorf("user (-want +got):\n%s", diff)
				}
				want := []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/etc/resolv.conf"}
				if diff := cmp.Diff(want, mountDests(s)); diff != "" {
					t.Errorf("mounts (-want +got):\n%s", diff)
				}
				wantNS := []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace}
				if diff := cmp.Diff(wantNS, nsTypes(s)); diff != "" {
					t.Errorf("namespaces (-want +got):\n%s", diff)
				}
				c := p.Capabilities
				for name, set := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted} {
					if diff := cmp.Diff(DefaultCapabilities(), set); diff != "" {
						t.Errorf("%s capabilities (-want +got):\n%s", name, diff)
					}
				}
				if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
					t.Errorf("inheritable %v, ambient %v, want none", c.Inheritable, c.Ambient)
				}
				var devs []string
				for _, d := range s.Linux.Devices {
					devs = append(devs, d.Path)
				}
				if diff := cmp.Diff([]string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}, devs); diff != "" {
					t.Errorf("devices (-want +got):\n%s", diff)
				}
				if !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") || !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
					t.Errorf("masked %v, read-only %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
				}
				pts, _ := findMount(s, "/dev/pts")
				for _, o := range []string{"newinstance", "ptmxmode=0666", "gid=5"} {
					if !slices.Contains(pts.Options, o) {
						t.Errorf("/dev/pts options %v lack %s", pts.Options, o)
					}
				}
				sys, _ := findMount(s, "/sys")
				if sys.Type != "sysfs" || !slices.Contains(sys.Options, "ro") {
					t.Errorf("/sys = %+v, want a read-only sysfs", sys)
				}
				rc, _ := findMount(s, "/etc/resolv.conf")
				if rc.Source != "/etc/resolv.conf" || !isBind(rc) || !slices.Contains(rc.Options, "ro") {
					t.Errorf("/etc/resolv.conf = %+v, want a read-only bind of the host's", rc)
				}
				if s.Linux.UIDMappings != nil || s.Linux.GIDMappings != nil {
					t.Errorf("mappings without a user namespace")
				}
			},
		},
		{
			name: "non-root user keeps only the bounding set",
			opts: Options{Args: []string{"id"}, UID: 1000, GID: 1000, AdditionalGIDs: []uint32{10, 1000, 29, 10}},
			check: func(t *testing.T, s *specs.Spec) {
				c := s.Process.Capabilities
				if len(c.Effective) != 0 || len(c.Permitted) != 0 || len(c.Bounding) != len(DefaultCapabilities()) {
					t.Errorf("capabilities = %+v", c)
				}
				if diff := cmp.Diff([]uint32{1000, 10, 29}, s.Process.User.AdditionalGids); diff != "" {
					t.Errorf("additional gids (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "network none",
			opts: Options{Args: []string{"ip", "link"}, Network: NetworkNone},
			check: func(t *testing.T, s *specs.Spec) {
				if !slices.Contains(nsTypes(s), specs.NetworkNamespace) {
					t.Errorf("no network namespace: %v", nsTypes(s))
				}
				if _, ok := findMount(s, "/etc/resolv.conf"); ok {
					t.Errorf("resolv.conf mounted without a network")
				}
			},
		},
		{
			name: "env, cwd, hostname, terminal, read-only root, new privileges",
			opts: Options{Args: []string{"env"}, Env: []string{"PATH=/bin", "A=b=c"}, Cwd: "/work/./src/", Hostname: "builder", Terminal: true, ReadOnlyRoot: true, NewPrivileges: true},
			check: func(t *testing.T, s *specs.Spec) {
				if s.Process.NoNewPrivileges {
					t.Errorf("no_new_privs set though NewPrivileges was asked for")
				}
				if diff := cmp.Diff([]string{"PATH=/bin", "A=b=c"}, s.Process.Env); diff != "" {
					t.Errorf("env (-want +got):\n%s", diff)
				}
				if s.Process.Cwd != "/work/src" || s.Hostname != "builder" || !s.Process.Terminal || !s.Root.Readonly {
					t.Errorf("cwd %q hostname %q terminal %v readonly %v", s.Process.Cwd, s.Hostname, s.Process.Terminal, s.Root.Readonly)
				}
			},
		},
		{
			name: "extra mounts: appended, same destination replaces",
			opts: Options{Args: []string{"true"}, Mounts: []specs.Mount{
				{Destination: "/src", Type: "bind", Source: "/host/src", Options: []string{"rbind", "ro"}},
				{Destination: "/dev/shm/", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
			}},
			check: func(t *testing.T, s *specs.Spec) {
				want := []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/etc/resolv.conf", "/src"}
				if diff := cmp.Diff(want, mountDests(s)); diff != "" {
					t.Errorf("mounts (-want +got):\n%s", diff)
				}
				shm, _ := findMount(s, "/dev/shm")
				if diff := cmp.Diff([]string{"size=1m"}, shm.Options); diff != "" {
					t.Errorf("/dev/shm not replaced (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "single-id user namespace",
			opts: Options{Args: []string{"id"}, UIDMappings: idmap, GIDMappings: idmap},
			check: func(t *testing.T, s *specs.Spec) {
				if !slices.Contains(nsTypes(s), specs.UserNamespace) {
					t.Errorf("no user namespace: %v", nsTypes(s))
				}
				if diff := cmp.Diff(idmap, s.Linux.UIDMappings); diff != "" {
					t.Errorf("uid mappings (-want +got):\n%s", diff)
				}
				pts, _ := findMount(s, "/dev/pts")
				if slices.Contains(pts.Options, "gid=5") {
					t.Errorf("/dev/pts has gid=5, which is not mapped: %v", pts.Options)
				}
				sys, _ := findMount(s, "/sys")
				if !isBind(sys) || sys.Source != "/sys" || !slices.Contains(sys.Options, "ro") {
					t.Errorf("/sys = %+v, want a read-only bind of the host's (no network namespace of our own)", sys)
				}
			},
		},
		{
			name: "wide user namespace with its own network",
			opts: Options{Args: []string{"id"}, UIDMappings: wide, GIDMappings: wide, Network: NetworkNone},
			check: func(t *testing.T, s *specs.Spec) {
				pts, _ := findMount(s, "/dev/pts")
				if !slices.Contains(pts.Options, "gid=5") {
					t.Errorf("/dev/pts lacks gid=5 though it is mapped: %v", pts.Options)
				}
				sys, _ := findMount(s, "/sys")
				if sys.Type != "sysfs" {
					t.Errorf("/sys = %+v, want sysfs (the network namespace is ours)", sys)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSpec("/rootfs", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestNewSpecDoesNotAlias(t *testing.T) {
	o := Options{Args: []string{"a"}, Env: []string{"X=1"}}
	s, err := NewSpec("/r", o)
	if err != nil {
		t.Fatal(err)
	}
	s.Process.Args[0] = "changed"
	s.Process.Env[0] = "changed"
	s.Process.Capabilities.Bounding[0] = "changed"
	if o.Args[0] != "a" || o.Env[0] != "X=1" || DefaultCapabilities()[0] != "CAP_CHOWN" {
		t.Errorf("NewSpec shares slices with its input or defaults")
	}
}

func TestNewSpecErrors(t *testing.T) {
	tests := []struct {
		name   string
		rootfs string
		opts   Options
		want   string
	}{
		{"no args", "/r", Options{}, "no command"},
		{"empty command", "/r", Options{Args: []string{""}}, "no command"},
		{"relative rootfs", "rootfs", Options{Args: []string{"a"}}, "not an absolute path"},
		{"relative cwd", "/r", Options{Args: []string{"a"}, Cwd: "work"}, `working directory "work"`},
		{"bad network", "/r", Options{Args: []string{"a"}, Network: "bridge"}, `unknown network mode "bridge"`},
		{"uid mappings only", "/r", Options{Args: []string{"a"}, UIDMappings: []specs.LinuxIDMapping{{Size: 1}}}, "both uid and gid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSpec(tc.rootfs, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewSpec: err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDedupMounts(t *testing.T) {
	in := []specs.Mount{{Destination: "/a", Source: "1"}, {Destination: "/b"}, {Destination: "/a/", Source: "2"}}
	want := []specs.Mount{{Destination: "/a", Source: "2"}, {Destination: "/b"}}
	if diff := cmp.Diff(want, dedupMounts(in), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("dedupMounts (-want +got):\n%s", diff)
	}
}

func TestHostsFile(t *testing.T) {
	got := string(hostsFile("builder", nil))
	want := "127.0.0.1\tlocalhost builder\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if got != want {
		t.Errorf("hostsFile = %q, want %q", got, want)
	}
	got = string(hostsFile("builder", []string{"10.0.0.7\tdb", "::1\tsix\n"}))
	if want += "10.0.0.7\tdb\n::1\tsix\n"; got != want {
		t.Errorf("hostsFile with extra lines = %q, want %q", got, want)
	}
}

func TestNewSpecPrivileged(t *testing.T) {
	hasDev := func(s *specs.Spec, p string) bool {
		return slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool { return d.Path == p })
	}
	s, err := NewSpec("/r", Options{Args: []string{"sh"}, Privileged: true})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Process.Capabilities
	if len(s.Linux.MaskedPaths)+len(s.Linux.ReadonlyPaths) != 0 || s.Process.NoNewPrivileges ||
		!hasDev(s, "/dev/fuse") || !hasDev(s, "/dev/loop0") ||
		!slices.Equal(c.Ambient, c.Bounding) || !slices.Equal(c.Effective, c.Bounding) || !slices.Equal(c.Inheritable, c.Bounding) {
		t.Errorf("privileged spec: %+v", s.Linux)
	}
	for _, m := range s.Mounts {
		if m.Destination == "/sys" && slices.Contains(m.Options, "ro") {
			t.Errorf("/sys is read-only: %v", m.Options)
		}
	}
	// In a user namespace, no host devices.
	s, err = NewSpec("/r", Options{Args: []string{"sh"}, Privileged: true, ParentGIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if hasDev(s, "/dev/fuse") {
		t.Errorf("a privileged sandbox in a user namespace gets /dev/fuse")
	}
	// The default keeps everything masked.
	s, _ = NewSpec("/r", Options{Args: []string{"sh"}})
	if len(s.Linux.MaskedPaths) == 0 || !s.Process.NoNewPrivileges || hasDev(s, "/dev/fuse") {
		t.Errorf("default spec: %+v", s.Linux)
	}
}
