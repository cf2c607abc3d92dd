package debian

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// stanzaOf makes a Packages stanza: head is "name version arch", fields
// are extra lines ("Depends: x").
func stanzaOf(head string, fields ...string) string {
	f := strings.Fields(head)
	name, ver, arch := f[0], f[1], f[2]
	s := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\n", name, ver, arch)
	for _, x := range fields {
		s += x + "\n"
	}
	sum := sha256Hex([]byte(head))
	s += fmt.Sprintf("Filename: pool/main/%s_%s_%s.deb\nSize: 100\nSHA256: %s\n", name, ver, arch, sum)
	return s
}

// suiteOf parses stanzas as one suite's index.
func suiteOf(t *testing.T, suite string, stanzas ...string) []*Package {
	t.Helper()
	pkgs, err := ParsePackages(suite, []byte(strings.Join(stanzas, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		p.Suite, p.Component = suite, "main"
	}
	return pkgs
}

// indexOf builds an amd64 index from one suite of stanzas.
func indexOf(t *testing.T, stanzas ...string) *Index {
	t.Helper()
	ix, err := NewIndex("amd64", suiteOf(t, "test", stanzas...))
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// chosen writes a resolution as "name=version" sorted.
func chosen(r *Resolution) string {
	var s []string
	for _, p := range r.Packages {
		id := p.Name
		if p.Architecture != "amd64" && p.Architecture != "all" {
			id += ":" + p.Architecture
		}
		s = append(s, id+"="+p.Version.String())
	}
	return strings.Join(s, " ")
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name     string
		stanzas  []string
		requests []string
		prune    []string
		want     string
		wantErr  string
	}{
		{
			name: "closure with a cycle",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: liba"),
				stanzaOf("liba 1 amd64", "Depends: libb"),
				stanzaOf("libb 1 amd64", "Depends: liba, libc6"),
				stanzaOf("libc6 2.36 amd64"),
				stanzaOf("unrelated 1 amd64"),
			},
			requests: []string{"app"},
			want:     "app=1 liba=1 libb=1 libc6=2.36",
		},
		{
			name: "pre-depends are followed",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Pre-Depends: dpkg"),
				stanzaOf("dpkg 1.21 amd64"),
			},
			requests: []string{"app"},
			want:     "app=1 dpkg=1.21",
		},
		{
			name: "first satisfiable alternative",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: missing | second | third"),
				stanzaOf("second 1 all"),
				stanzaOf("third 1 all"),
			},
			requests: []string{"app"},
			want:     "app=1 second=1",
		},
		{
			name: "already chosen alternative preferred",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: first | second"),
				stanzaOf("first 1 all"),
				stanzaOf("second 1 all"),
			},
			requests: []string{"second", "app"},
			want:     "app=1 second=1",
		},
		{
			name: "versioned alternative skipped when too old",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: first (>= 2) | second"),
				stanzaOf("first 1 all"),
				stanzaOf("second 1 all"),
			},
			requests: []string{"app"},
			want:     "app=1 second=1",
		},
		{
			name: "virtual package via Provides, priority decides",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: awk"),
				stanzaOf("gawk 5 amd64", "Provides: awk", "Priority: optional"),
				stanzaOf("mawk 1.3 amd64", "Provides: awk", "Priority: required"),
			},
			requests: []string{"app"},
			want:     "app=1 mawk=1.3",
		},
		{
			name: "chosen provider reused",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: awk"),
				stanzaOf("gawk 5 amd64", "Provides: awk", "Priority: optional"),
				stanzaOf("mawk 1.3 amd64", "Provides: awk", "Priority: required"),
			},
			requests: []string{"gawk", "app"},
			want:     "app=1 gawk=5",
		},
		{
			name: "versioned Provides satisfies versioned relation",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: libfoo-abi (>= 2)"),
				stanzaOf("libfoo-old 1 amd64", "Provides: libfoo-abi"),
				stanzaOf("libfoo-older 1 amd64", "Provides: libfoo-abi (= 1)"),
				stanzaOf("libfoo2 2.5 amd64", "Provides: libfoo-abi (= 2.5)"),
			},
			requests: []string{"app"},
			want:     "app=1 libfoo2=2.5",
		},
		{
			name: "unversioned Provides does not satisfy versioned relation",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: libfoo-abi (>= 2)"),
				stanzaOf("libfoo-old 1 amd64", "Provides: libfoo-abi"),
			},
			requests: []string{"app"},
			wantErr:  `cannot satisfy "libfoo-abi (>= 2)" (Depends of app 1; needed by app): libfoo-abi is virtual and no provider fits: libfoo-old (provides libfoo-abi)`,
		},
		{
			name: "real package preferred over provider",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: editor"),
				stanzaOf("editor 1 all"),
				stanzaOf("vim 9 amd64", "Provides: editor", "Priority: required"),
			},
			requests: []string{"app"},
			want:     "app=1 editor=1",
		},
		{
			name: "versioned constraint picks newest fitting version",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: libx (<< 2)"),
				stanzaOf("libx 2.0 amd64"),
				stanzaOf("libx 1.5 amd64"),
				stanzaOf("libx 1.2 amd64"),
			},
			requests: []string{"app"},
			want:     "app=1 libx=1.5",
		},
		{
			name: "incompatible constraints on one package",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: new, old"),
				stanzaOf("new 1 amd64", "Depends: libx (>= 2)"),
				stanzaOf("old 1 amd64", "Depends: libx (<< 2)"),
				stanzaOf("libx 2.0 amd64"),
				stanzaOf("libx 1.5 amd64"),
			},
			requests: []string{"app"},
			wantErr:  `cannot satisfy "libx (<< 2)" (Depends of old 1; needed by app → old): libx has 2.0 (test), 1.5 (test); 2.0 is already chosen (needed by app → new → libx)`,
		},
		{
			name: "arch :any needs Multi-Arch allowed of any arch",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: python3:any"),
				stanzaOf("python3 3.11 i386", "Multi-Arch: allowed"),
			},
			requests: []string{"app"},
			want:     "app=1 python3:i386=3.11",
		},
		{
			name: "arch :any without Multi-Arch allowed stays native",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: perl:any"),
				stanzaOf("perl 5.36 i386"),
			},
			requests: []string{"app"},
			wantErr:  "perl exists only for architectures that do not fit perl:any",
		},
		{
			name: "Multi-Arch foreign satisfies other architectures",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: tool"),
				stanzaOf("tool 1 i386", "Multi-Arch: foreign"),
			},
			requests: []string{"app"},
			want:     "app=1 tool:i386=1",
		},
		{
			name: "plain dependency needs the same architecture",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: libfoo"),
				stanzaOf("libfoo 1 i386", "Multi-Arch: same"),
				stanzaOf("libfoo 1 amd64", "Multi-Arch: same"),
			},
			requests: []string{"app"},
			want:     "app=1 libfoo=1",
		},
		{
			name: "explicit architecture qualifier and Multi-Arch same",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: libfoo, libfoo:i386"),
				stanzaOf("libfoo 1 i386", "Multi-Arch: same"),
				stanzaOf("libfoo 1 amd64", "Multi-Arch: same"),
			},
			requests: []string{"app"},
			want:     "app=1 libfoo=1 libfoo:i386=1",
		},
		{
			name: ":native qualifier",
			stanzas: []string{
				stanzaOf("app 1 all", "Depends: libfoo:native"),
				stanzaOf("libfoo 1 i386"),
				stanzaOf("libfoo 1 amd64"),
			},
			requests: []string{"app"},
			want:     "app=1 libfoo=1",
		},
		{
			name: "prune cuts the closure",
			stanzas: []string{
				stanzaOf("libc6 2.36 amd64", "Depends: libgcc-s1"),
				stanzaOf("libgcc-s1 12 amd64", "Depends: gcc-12-base"),
				stanzaOf("gcc-12-base 12 amd64"),
			},
			requests: []string{"libc6"},
			prune:    []string{"libgcc-s1"},
			want:     "libc6=2.36",
		},
		{
			name: "prune stands in for a virtual package",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: debconf | debconf-2.0"),
				stanzaOf("cdebconf 1 amd64", "Provides: debconf-2.0"),
			},
			requests: []string{"app"},
			prune:    []string{"cdebconf"},
			want:     "app=1",
		},
		{
			name: "pruned right alternative does not hide an installable left one",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: left | right"),
				stanzaOf("left 1 amd64"),
				stanzaOf("right 1 amd64"),
			},
			requests: []string{"app"},
			prune:    []string{"right"},
			want:     "app=1 left=1",
		},
		{
			name:     "requesting a pruned package",
			stanzas:  []string{stanzaOf("app 1 amd64")},
			requests: []string{"app"},
			prune:    []string{"app"},
			wantErr:  `cannot satisfy requested "app": it is in the prune list`,
		},
		{
			name:     "unknown request",
			stanzas:  []string{stanzaOf("app 1 amd64")},
			requests: []string{"nosuch"},
			wantErr:  `cannot satisfy requested "nosuch": nosuch is not in the index`,
		},
		{
			name: "missing dependency names relation, package and chain",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: liba"),
				stanzaOf("liba 1 amd64", "Depends: libz (>= 1.3) | libzz"),
				stanzaOf("libz 1.2 amd64"),
			},
			requests: []string{"app"},
			wantErr:  `cannot satisfy "libz (>= 1.3) | libzz" (Depends of liba 1; needed by app → liba): libz has 1.2 (test); libzz is not in the index`,
		},
		{
			name: "request with a version",
			stanzas: []string{
				stanzaOf("app 2 amd64"),
				stanzaOf("app 1 amd64"),
			},
			requests: []string{"app=1"},
			want:     "app=1",
		},
		{
			name: "architecture restriction in a binary relation",
			stanzas: []string{
				stanzaOf("app 1 amd64", "Depends: only-arm [arm64], only-amd [amd64]"),
				stanzaOf("only-amd 1 amd64"),
			},
			requests: []string{"app"},
			want:     "app=1 only-amd=1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := indexOf(t, tt.stanzas...)
			res, err := ix.Resolve(tt.requests, ResolveOptions{Prune: tt.prune})
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("got %s, want error %q", chosen(res), tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error:\n got %q\nwant %q", err, tt.wantErr)
				}
				var ue *UnsatisfiableError
				if !errors.As(err, &ue) {
					t.Fatalf("error is %T, want *UnsatisfiableError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := chosen(res); got != tt.want {
				t.Fatalf("chosen = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResolveOverlayNewestWins(t *testing.T) {
	base := suiteOf(t, "bookworm",
		stanzaOf("libssl3 3.0.11-1~deb12u2 amd64", "Depends: libc6 (>= 2.34)"),
		stanzaOf("libc6 2.36-9+deb12u4 amd64"),
		stanzaOf("tzdata 2024a-0+deb12u1 all"),
	)
	security := suiteOf(t, "bookworm-security",
		stanzaOf("libssl3 3.0.15-1~deb12u1 amd64", "Depends: libc6 (>= 2.34)"),
		stanzaOf("libc6 2.36-9+deb12u10 amd64"),
	)
	updates := suiteOf(t, "bookworm-updates",
		stanzaOf("tzdata 2025b-0+deb12u1 all"),
		// Older than the release: must not win.
		stanzaOf("libc6 2.36-9+deb12u1 amd64"),
	)
	var all []*Package
	all = append(all, base...)
	all = append(all, updates...)
	all = append(all, security...)
	ix, err := NewIndex("amd64", all)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ix.Resolve([]string{"libssl3", "tzdata"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := chosen(res), "libc6=2.36-9+deb12u10 libssl3=3.0.15-1~deb12u1 tzdata=2025b-0+deb12u1"; got != want {
		t.Fatalf("chosen = %q, want %q", got, want)
	}
	suites := map[string]string{}
	for _, p := range res.Packages {
		suites[p.Name] = p.Suite
	}
	if suites["libc6"] != "bookworm-security" || suites["tzdata"] != "bookworm-updates" {
		t.Fatalf("suites = %v", suites)
	}
	// A pinned older version is still available.
	res, err = ix.Resolve([]string{"libc6=2.36-9+deb12u4"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Packages[0].Suite != "bookworm" {
		t.Fatalf("pinned libc6 from %s", res.Packages[0].Suite)
	}
}

func TestResolveConflicts(t *testing.T) {
	tests := []struct {
		name     string
		stanzas  []string
		requests []string
		want     []string // substrings of the error, or nil for success
	}{
		{
			name: "conflicts",
			stanzas: []string{
				stanzaOf("mawk 1 amd64", "Conflicts: gawk"),
				stanzaOf("gawk 5 amd64"),
			},
			requests: []string{"mawk", "gawk"},
			want:     []string{`mawk 1 Conflicts "gawk", and gawk 5 is chosen`},
		},
		{
			name: "versioned breaks",
			stanzas: []string{
				stanzaOf("libnew 2 amd64", "Breaks: oldapp (<< 3)"),
				stanzaOf("oldapp 2 amd64"),
			},
			requests: []string{"libnew", "oldapp"},
			want:     []string{`libnew 2 Breaks "oldapp (<< 3)", and oldapp 2 is chosen`},
		},
		{
			name: "breaks on a version not chosen is fine",
			stanzas: []string{
				stanzaOf("libnew 2 amd64", "Breaks: oldapp (<< 2)"),
				stanzaOf("oldapp 2 amd64"),
			},
			requests: []string{"libnew", "oldapp"},
		},
		{
			name: "conflict with own virtual name is fine",
			stanzas: []string{
				stanzaOf("exim4 4 amd64", "Provides: mail-transport-agent", "Conflicts: mail-transport-agent"),
			},
			requests: []string{"exim4"},
		},
		{
			name: "conflict through a provider",
			stanzas: []string{
				stanzaOf("exim4 4 amd64", "Provides: mail-transport-agent", "Conflicts: mail-transport-agent"),
				stanzaOf("postfix 3 amd64", "Provides: mail-transport-agent", "Conflicts: mail-transport-agent"),
			},
			requests: []string{"exim4", "postfix"},
			want:     []string{`exim4 4 Conflicts "mail-transport-agent", and postfix 3 (provides mail-transport-agent) is chosen`, `postfix 3 Conflicts`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := indexOf(t, tt.stanzas...)
			_, err := ix.Resolve(tt.requests, ResolveOptions{})
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConflictError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			res, err := ix.Resolve(tt.requests, ResolveOptions{AllowConflicts: true})
			if err != nil || len(res.Conflicts) != len(ce.Conflicts) {
				t.Fatalf("AllowConflicts: %v, %d conflicts", err, len(res.Conflicts))
			}
		})
	}
}

func TestResolveExplain(t *testing.T) {
	ix := indexOf(t,
		stanzaOf("python3 3.11 amd64", "Depends: python3.11 (>= 3.11.2-1~), libpython3-stdlib"),
		stanzaOf("python3.11 3.11.2-6 amd64", "Depends: libpython3.11-stdlib (= 3.11.2-6)"),
		stanzaOf("libpython3.11-stdlib 3.11.2-6 amd64", "Depends: libc6 (>= 2.36)"),
		stanzaOf("libpython3-stdlib 3.11 amd64", "Depends: libpython3.11-stdlib"),
		stanzaOf("libc6 2.36 amd64", "Depends: libgcc-s1"),
		stanzaOf("libgcc-s1 12 amd64"),
	)
	res, err := ix.Resolve([]string{"python3"}, ResolveOptions{Prune: []string{"libgcc-s1"}})
	if err != nil {
		t.Fatal(err)
	}
	chain, ok := res.Why("libc6")
	if !ok {
		t.Fatal("libc6 not explained")
	}
	var steps []string
	for _, s := range chain {
		steps = append(steps, s.Package.Name+"/"+s.Field)
	}
	if got, want := strings.Join(steps, " "), "python3/request python3.11/Depends libpython3.11-stdlib/Depends libc6/Depends"; got != want {
		t.Fatalf("Why(libc6) = %q, want %q", got, want)
	}
	if _, ok := res.Why("libgcc-s1"); ok {
		t.Fatal("pruned package explained as chosen")
	}
	var b strings.Builder
	if err := res.Explain(&b); err != nil {
		t.Fatal(err)
	}
	want := `libc6 2.36: python3 → python3.11 → libpython3.11-stdlib → libc6 [Depends: libc6 (>= 2.36)]
libpython3-stdlib 3.11: python3 → libpython3-stdlib [Depends: libpython3-stdlib]
libpython3.11-stdlib 3.11.2-6: python3 → python3.11 → libpython3.11-stdlib [Depends: libpython3.11-stdlib (= 3.11.2-6)]
python3 3.11: requested
python3.11 3.11.2-6: python3 → python3.11 [Depends: python3.11 (>= 3.11.2-1~)]
pruned libgcc-s1: cut from libc6 [Depends: libgcc-s1]
`
	if b.String() != want {
		t.Fatalf("Explain:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestResolveIsDeterministic(t *testing.T) {
	var stanzas []string
	for i := 0; i < 50; i++ {
		stanzas = append(stanzas, stanzaOf(fmt.Sprintf("p%02d 1 amd64", i), fmt.Sprintf("Depends: p%02d | v%d", (i*7+3)%50, i%5)))
		stanzas = append(stanzas, stanzaOf(fmt.Sprintf("q%02d 1 amd64", i), fmt.Sprintf("Provides: v%d", i%5)))
	}
	ix := indexOf(t, stanzas...)
	first, err := ix.Resolve([]string{"p00", "p10"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		again, err := ix.Resolve([]string{"p00", "p10"}, ResolveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if chosen(again) != chosen(first) {
			t.Fatalf("run %d: %q != %q", i, chosen(again), chosen(first))
		}
	}
}
