package distroless

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/whittle-build/whittle/internal/debian"
)

func TestCABundle(t *testing.T) {
	a, b, c := testCAPEM(t, "a"), testCAPEM(t, "b"), testCAPEM(t, "c")
	noNL := []byte(strings.TrimSuffix(string(c), "\n"))
	pkg := map[string][]byte{
		"usr/share/ca-certificates/mozilla/B.crt": b,
		"usr/share/ca-certificates/mozilla/A.crt": a,
		"usr/share/ca-certificates/README":        []byte("not a certificate"),
	}
	local := map[string][]byte{"usr/local/share/ca-certificates/corp/C.crt": noNL}
	bundle, certs, err := caBundle(pkg, local)
	if err != nil {
		t.Fatal(err)
	}
	if want := string(a) + string(b) + string(c); string(bundle) != want {
		t.Errorf("bundle order or newline wrong:\n%s", bundle)
	}
	var names []string
	for _, c := range certs {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"mozilla/A.crt", "mozilla/B.crt", "corp/C.crt"}, names); diff != "" {
		t.Errorf("certs (-want +got):\n%s", diff)
	}
	_, _, err = caBundle(pkg, map[string][]byte{"usr/local/share/ca-certificates/bad.crt": []byte("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")})
	if err == nil || !strings.Contains(err.Error(), "/usr/local/share/ca-certificates/bad.crt") {
		t.Errorf("a bad local certificate: err = %v", err)
	}
}

func TestAlternatives(t *testing.T) {
	captured := map[string][]byte{
		"usr/lib/jvm/.java-17.jinfo": []byte("name=java-17\npriority=1711\nsection=main\n\nhl java /usr/lib/jvm/java-17/bin/java\nhl keytool /usr/lib/jvm/java-17/bin/keytool\njdk javac /usr/lib/jvm/java-17/bin/javac\n"),
		"usr/lib/jvm/.java-21.jinfo": []byte("name=java-21\npriority=2111\n\nhl java /usr/lib/jvm/java-21/bin/java\n"),
		"usr/lib/jvm/.java-11.jinfo": []byte("priority=1111\nhl java /usr/lib/jvm/java-11/bin/java\nhl jshell /usr/lib/jvm/java-11/bin/jshell\n"),
		"etc/os-release":             []byte("ID=debian\n"),
	}
	exists := func(p string) bool {
		return p != "usr/lib/jvm/java-17/bin/javac"
	}
	alts, err := alternativesFrom(captured, exists)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range alts {
		got = append(got, a.Link+" → "+a.Target)
	}
	want := []string{
		"/usr/bin/java → /usr/lib/jvm/java-21/bin/java", // highest priority wins
		"/usr/bin/jshell → /usr/lib/jvm/java-11/bin/jshell",
		"/usr/bin/keytool → /usr/lib/jvm/java-17/bin/keytool",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alternatives (-want +got):\n%s", diff)
	}
	_, err = alternativesFrom(map[string][]byte{"usr/lib/jvm/.x.jinfo": []byte("priority=1\nhl java relative/java\n")}, exists)
	if err == nil || !strings.Contains(err.Error(), ".x.jinfo:2") {
		t.Errorf("a bad jinfo line: err = %v", err)
	}
}

func TestInstallOrder(t *testing.T) {
	info := func(essential bool, deps, pre []string) *debInfo {
		return &debInfo{pkg: &debian.Package{Essential: essential}, deps: append(deps, pre...), pre: pre}
	}
	infos := map[string]*debInfo{
		"libc6":      info(false, []string{"libgcc-s1"}, nil),
		"libgcc-s1":  info(false, []string{"libc6"}, nil), // a cycle, as in Debian
		"bash":       info(true, nil, []string{"libc6"}),
		"base-files": info(true, nil, []string{"mawk"}),
		"mawk":       info(false, nil, []string{"libc6"}),
		"apt":        info(false, []string{"libapt-pkg", "adduser"}, nil),
		"libapt-pkg": info(false, nil, []string{"libc6"}),
		"adduser":    info(false, []string{"passwd"}, nil),
		"passwd":     info(false, nil, []string{"libc6"}),
		"dpkg-dev":   info(false, nil, []string{"apt"}),
	}
	ess, rest := splitEssential(infos)
	if diff := cmp.Diff([]string{"base-files", "bash", "libc6", "libgcc-s1", "mawk"}, slices.Sorted(slices.Values(ess))); diff != "" {
		t.Errorf("essential (-want +got):\n%s", diff)
	}
	pos := map[string]int{}
	for i, n := range append(append([]string(nil), ess...), rest...) {
		pos[n] = i
	}
	for n, in := range infos {
		for _, d := range in.deps {
			if pos[d] > pos[n] && !(n == "libc6" || n == "libgcc-s1") {
				t.Errorf("%s comes before its dependency %s", n, d)
			}
		}
	}
	batches := installBatches(infos, rest)
	for i, b := range batches {
		in := map[string]bool{}
		for _, n := range b {
			in[n] = true
		}
		for _, n := range b {
			for _, p := range infos[n].pre {
				if in[p] {
					t.Errorf("batch %d holds %s and its pre-dependency %s", i, n, p)
				}
			}
		}
	}
	if len(batches) != 2 || batches[len(batches)-1][0] != "dpkg-dev" {
		t.Errorf("batches %v: want dpkg-dev alone after apt's batch", batches)
	}
}
