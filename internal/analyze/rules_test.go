package analyze

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const testKey = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
-----END OPENSSH PRIVATE KEY-----
`

// ruleHits lists "rule path" for each finding, sorted.
func ruleHits(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule+" "+f.Path)
	}
	sort.Strings(out)
	return out
}

func TestAttackSurface(t *testing.T) {
	img := imageOf(t, v1.Config{
		User:         "app",
		Env:          []string{"PATH=/usr/local/go/bin:/usr/bin:/bin"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "53/udp": {}},
	}, []tf{
		dir("/usr"), dir("/usr/bin"), symlink("/bin", "usr/bin"),
		exe("/usr/bin/dash", 100),
		symlink("/usr/bin/sh", "dash"),
		exe("/usr/bin/busybox", 100),
		symlink("/usr/bin/ash", "/usr/bin/busybox"),
		symlink("/usr/bin/zsh", "nowhere"), // dangling: not a finding
		exe("/usr/bin/apt-get", 10),
		exe("/usr/bin/pip3.11", 10),
		exe("/usr/bin/python3.11", 10),
		symlink("/usr/bin/python3", "python3.11"),
		exe("/usr/bin/x86_64-linux-gnu-gcc-12", 10),
		symlink("/usr/bin/gcc-12", "x86_64-linux-gnu-gcc-12"),
		exe("/usr/bin/make", 10),
		sized("/usr/bin/perl", 10), // not executable: not a finding
		exe("/usr/bin/ls", 10),
		exe("/usr/bin/rpm2cpio", 10),
		exe("/usr/local/go/bin/go", 10),
		exe("/opt/tools/bash", 10), // not on the PATH
		withMode(exe("/usr/bin/passwd", 10), 0o4755),
		withMode(exe("/usr/bin/wall", 10), 0o2755),
		withMode(dir("/tmp"), 0o1777),
		withMode(dir("/var/open"), 0o777),
		file("/home/app/.ssh/id_ed25519", testKey),
		file("/etc/ssl/certs/ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
		file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
	})
	r, err := Analyze(context.Background(), img, "surface", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"compiler /usr/bin/gcc-12",
		"compiler /usr/bin/make",
		"compiler /usr/bin/x86_64-linux-gnu-gcc-12",
		"compiler /usr/local/go/bin/go",
		"exposed-port config:ExposedPorts",
		"exposed-port config:ExposedPorts",
		"interpreter /usr/bin/python3",
		"interpreter /usr/bin/python3.11",
		"package-manager /usr/bin/apt-get",
		"package-manager /usr/bin/pip3.11",
		"private-key /home/app/.ssh/id_ed25519",
		"setuid /usr/bin/passwd",
		"setuid /usr/bin/wall",
		"shell /usr/bin/ash",
		"shell /usr/bin/busybox",
		"shell /usr/bin/dash",
		"shell /usr/bin/sh",
		"user-unresolvable config:User",
		"world-writable /var/open",
	}
	if diff := cmp.Diff(want, ruleHits(r.Findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	for i := 1; i < len(r.Findings); i++ {
		if severityRank(r.Findings[i-1].Severity) > severityRank(r.Findings[i].Severity) {
			t.Errorf("findings not sorted by severity: %v before %v", r.Findings[i-1], r.Findings[i])
		}
	}
	for _, f := range r.Findings {
		if f.Advice == "" || f.Verdict == "" || f.Severity == "" {
			t.Errorf("finding without verdict, advice or severity: %+v", f)
		}
	}
}

func TestUserFindings(t *testing.T) {
	passwd := "root:x:0:0:root:/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"
	for _, tc := range []struct {
		user, passwd string
		want         []string // "rule severity"
	}{
		{"", passwd, []string{"root medium"}},
		{"root", passwd, []string{"root medium"}},
		{"0", passwd, []string{"root medium"}},
		{"0:0", passwd, []string{"root medium"}},
		{"toor", passwd, []string{"root medium"}},
		{"app", passwd, nil},
		{"app:app", passwd, nil},
		{"1000", passwd, nil},
		{"65532:65532", passwd, nil},
		{"ghost", passwd, []string{"user-unresolvable high"}},
		{"4242", passwd, []string{"user-unresolvable low"}},
		{"app", "", []string{"user-unresolvable high"}}, // no /etc/passwd at all
	} {
		t.Run(tc.user+"/"+map[bool]string{true: "passwd", false: "none"}[tc.passwd != ""], func(t *testing.T) {
			layer := []tf{dir("/etc")}
			if tc.passwd != "" {
				layer = append(layer, file("/etc/passwd", tc.passwd))
			}
			img := imageOf(t, v1.Config{User: tc.user}, layer)
			r, err := Analyze(context.Background(), img, "", Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range r.Findings {
				got = append(got, f.Rule+" "+f.Severity)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestToolRule(t *testing.T) {
	for name, want := range map[string]string{
		"sh": RuleShell, "bash": RuleShell, "busybox": RuleShell, "sh-1": "",
		"apt": RulePackageManager, "pip3": RulePackageManager, "pip3.12": RulePackageManager, "npm": RulePackageManager,
		"python3.11": RuleInterpreter, "perl5.36.0": RuleInterpreter, "node": RuleInterpreter,
		"gcc-12": RuleCompiler, "x86_64-linux-gnu-gcc-12": RuleCompiler, "g++": RuleCompiler, "cc": RuleCompiler, "go": RuleCompiler,
		"ls": "", "rpm2cpio": "", "python3-config": "", "gofmt": "", "shasum": "",
	} {
		if got := toolRule(name); got != want {
			t.Errorf("toolRule(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestHasPrivateKey(t *testing.T) {
	for body, want := range map[string]bool{
		testKey:                                       true,
		"-----BEGIN RSA PRIVATE KEY-----\nMII\n":      true,
		"-----BEGIN PRIVATE KEY-----\nMII\n":          true,
		"-----BEGIN EC PRIVATE KEY-----\n":            true,
		"-----BEGIN ENCRYPTED PRIVATE KEY-----\n":     true,
		"-----BEGIN CERTIFICATE-----\n":               false,
		"-----BEGIN PUBLIC KEY-----\n":                false,
		"docs say: PRIVATE KEY----- goes after BEGIN": false,
		"":                              false,
		"-----BEGIN \nPRIVATE KEY-----": false,
	} {
		if got := hasPrivateKey([]byte(body)); got != want {
			t.Errorf("hasPrivateKey(%q) = %v, want %v", body, got, want)
		}
	}
}

func TestGates(t *testing.T) {
	img := imageOf(t, v1.Config{}, []tf{
		exe("/bin/sh", 100), sized("/big", 1000),
	}, []tf{whiteout("/big")})
	r, err := Analyze(context.Background(), img, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts Options
		want []string
	}{
		{"no gates", Options{}, nil},
		{"all pass", Options{MaxSize: 1 << 30, MaxWasted: 1000, MinEfficiency: 0.05, Forbid: []string{RuleSetuid}}, nil},
		{"size", Options{MaxSize: 100}, []string{"max-size"}},
		{"compressed", Options{MaxCompressedSize: 10}, []string{"max-compressed-size"}},
		{"wasted", Options{MaxWasted: 999}, []string{"max-wasted"}},
		{"efficiency", Options{MinEfficiency: 0.5}, []string{"min-efficiency"}},
		{"forbid", Options{Forbid: []string{RuleShell, RuleRoot, RulePrivateKey}}, []string{"forbid:shell", "forbid:root"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, g := range r.Gates(tc.opts) {
				got = append(got, g.Gate)
				if !strings.Contains(g.Message, strings.TrimPrefix(g.Gate, "forbid:")) && !strings.HasPrefix(g.Gate, "m") {
					t.Errorf("message %q does not name the rule", g.Message)
				}
				limit := map[string]int64{"max-size": tc.opts.MaxSize, "max-compressed-size": tc.opts.MaxCompressedSize, "max-wasted": tc.opts.MaxWasted}
				if g.Gate == "min-efficiency" && !strings.Contains(g.Message, fmt.Sprintf("minimum %.1f%%", 100*tc.opts.MinEfficiency)) {
					t.Errorf("message %q does not give the minimum", g.Message)
				}
				if n, ok := limit[g.Gate]; ok {
					if !strings.Contains(g.Message, "--"+g.Gate+" ") || !strings.Contains(g.Message, fmt.Sprintf("(%d bytes)", n)) {
						t.Errorf("message %q does not give the flag and its limit in bytes", g.Message)
					}
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("gates (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := Analyze(context.Background(), img, "", Options{Forbid: []string{"shel"}}); err == nil || !strings.Contains(err.Error(), "shel") {
		t.Errorf("unknown rule: err = %v, want one naming it", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1048576": 1 << 20, "300MB": 300e6, "300 MB": 300e6, "1.5GiB": 3 << 29, "512k": 512 << 10, "2G": 2 << 30, "10kB": 10000, "7b": 7,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "-1", "12 parsecs", "1e3"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", -2048: "-2.0 KiB"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
