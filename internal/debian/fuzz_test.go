package debian

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"pault.ag/go/debian/version"
)

// FuzzParseControl feeds arbitrary bytes to every deb822 reader (Packages,
// Release, control, deb822 and one-line sources). None may panic; parsed
// Packages stanzas must parse again to the same package.
func FuzzParseControl(f *testing.F) {
	f.Add([]byte(stanzaOf("libc6 2.36-9+deb12u10 amd64", "Depends: libgcc-s1", "Multi-Arch: same")))
	f.Add([]byte(sampleRelease))
	f.Add([]byte("Types: deb\nURIs: http://x/\nSuites: a b\nComponents: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n x\n"))
	f.Add([]byte("deb [arch=amd64] http://x/ y main\n"))
	f.Add([]byte("Package: a\n\n\n#c\n\r\nPackage: b\r\n continuation\n"))
	f.Add([]byte("Description: x\n .\n y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if pkgs, err := ParsePackages("fuzz", data); err == nil {
			for _, p := range pkgs {
				if !bytes.Contains(data, p.Stanza) {
					t.Fatalf("stanza is not a slice of the input")
				}
				q, err := ParseControl(p.Stanza)
				if err != nil {
					t.Fatalf("stanza parsed in the index but not alone: %v", err)
				}
				if q.Name != p.Name || version.Compare(q.Version, p.Version) != 0 {
					t.Fatalf("re-parse gives %s, want %s", q, p)
				}
			}
			// Index and resolve whatever parsed: relation fields from
			// stanzas reach the relation parser here.
			if ix, err := NewIndex("amd64", pkgs); err == nil && len(pkgs) > 0 {
				var reqs []string
				for _, p := range pkgs {
					reqs = append(reqs, p.Name)
				}
				_, _ = ix.Resolve(reqs, ResolveOptions{Prune: reqs[:1]})
				_, _ = ix.Resolve(reqs, ResolveOptions{AllowConflicts: true})
			}
		}
		_, _ = ParseRelease(data)
		_, _ = ParseControl(data)
		_, _ = ParseSourcesDeb822("fuzz", bytes.NewReader(data))
		_, _ = ParseSourcesList("fuzz", bytes.NewReader(data))
		_, _ = ParseKeyring("fuzz", data)
	})
}

// FuzzParseRelations checks that relation parsing never panics and that a
// parsed relation, written back, parses to the same thing.
func FuzzParseRelations(f *testing.F) {
	for _, s := range []string{
		"libc6 (>= 2.34), libssl3 (>= 3.0.0)",
		"debconf (>= 0.5) | debconf-2.0",
		"python3:any (>= 3.11~), foo:native",
		"foo [amd64 !i386] <!nocheck> | bar (<< 1:2.0-1~bpo1)",
		"${misc:Depends}, a",
		"a (= ), b (>> ",
		"",
	} {
		f.Add(s, "amd64")
	}
	f.Fuzz(func(t *testing.T, s, arch string) {
		rels, err := ParseRelations(s, arch)
		if err != nil {
			return
		}
		var parts []string
		for _, r := range rels {
			parts = append(parts, r.String())
		}
		text := strings.Join(parts, ", ")
		again, err := ParseRelations(text, "")
		if err != nil {
			t.Fatalf("%q → %q does not parse again: %v", s, text, err)
		}
		var parts2 []string
		for _, r := range again {
			parts2 = append(parts2, r.String())
		}
		if text2 := strings.Join(parts2, ", "); text2 != text {
			t.Fatalf("%q → %q → %q", s, text, text2)
		}
		_, _ = ParseRequest(s)
	})
}

// FuzzVersionCompare checks dpkg ordering properties on arbitrary
// versions: reflexive, antisymmetric, and stable across String/Parse.
func FuzzVersionCompare(f *testing.F) {
	for _, p := range [][2]string{
		{"1.0", "1.0-1"}, {"1:1.0", "2.0"}, {"1.0~rc1", "1.0"}, {"2.36-9+deb12u10", "2.36-9+deb12u4"},
		{"0:0", "0"}, {"1.0~~a", "1.0~"}, {"9999999999999999999999", "1"}, {"1a.b+c~d-e.f+g~", "1a.b+c~d-e.f+g"},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, erra := ParseVersion(a)
		vb, errb := ParseVersion(b)
		if erra != nil || errb != nil {
			return
		}
		if version.Compare(va, va) != 0 {
			t.Fatalf("%q != itself", a)
		}
		if sign(version.Compare(va, vb)) != -sign(version.Compare(vb, va)) {
			t.Fatalf("Compare(%q, %q) not antisymmetric", a, b)
		}
		back, err := ParseVersion(va.String())
		if err != nil {
			t.Fatalf("%q → %q does not parse again: %v", a, va.String(), err)
		}
		if version.Compare(back, va) != 0 {
			t.Fatalf("%q → %q compares differently", a, va.String())
		}
		alt := Alternative{Name: "aa", Op: ">=", Version: vb}
		if alt.Allows(va) != (version.Compare(va, vb) >= 0) {
			t.Fatalf("Allows disagrees with Compare for %q >= %q", a, b)
		}
	})
}

// FuzzOpenDeb feeds arbitrary bytes to the .deb reader and drains the data
// tar: errors are fine, panics are not.
func FuzzOpenDeb(f *testing.F) {
	f.Add(testDeb{Name: "seed", Version: "1", Arch: "all", Files: map[string]string{"/a": "b"}, ControlExt: ".gz", DataExt: ".xz"}.build(f))
	f.Add(testDeb{Name: "seed", Version: "1", Arch: "all", Files: map[string]string{"/a": "b"}, ControlExt: "", DataExt: ".zst"}.build(f))
	f.Add([]byte(arMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := OpenDeb(bytes.NewReader(data))
		if err != nil {
			return
		}
		defer d.Close()
		for i := 0; i < 1000; i++ {
			if _, err := d.Data.Next(); err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, io.LimitReader(d.Data, 1<<20)); err != nil {
				return
			}
		}
	})
}

// TestParseParagraphBoundsQuadraticCost checks that a stanza with very many
// continuation lines is refused quickly instead of parsed in minutes (the
// underlying parser is quadratic in continuation lines).
func TestParseParagraphBoundsQuadraticCost(t *testing.T) {
	s := "Package: aa\nVersion: 1\nArchitecture: all\nDescription: x\n" + strings.Repeat(" line of text here\n", 40000)
	start := time.Now()
	_, err := ParseControl([]byte(s))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("refusing took %v", d)
	}
	// A real-sized Release-like field still parses.
	rel := "Suite: x\nSHA256:\n" + strings.Repeat(" "+strings.Repeat("ab", 32)+" 1234 main/binary-amd64/Packages.gz\n", 2000)
	if _, err := ParseRelease([]byte(rel)); err != nil {
		t.Fatal(err)
	}
}
