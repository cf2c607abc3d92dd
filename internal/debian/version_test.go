package debian

import (
	"testing"

	"pault.ag/go/debian/version"
)

// TestVersionOrder checks dpkg ordering through pault.ag/go/debian/version
// and Alternative.Allows, including epochs, tildes and revisions (cases
// from dpkg's own test suite and Debian policy 5.6.12).
func TestVersionOrder(t *testing.T) {
	tests := []struct {
		a, b string
		want int // sign of Compare(a, b)
	}{
		{"1.0", "1.0", 0},
		{"1.0-1", "1.0-1", 0},
		{"0:1.0", "1.0", 0},
		{"1.0", "1.0-0", 0},
		{"1.0", "1.1", -1},
		{"1.2", "1.10", -1},
		{"1.0-1", "1.0-2", -1},
		{"1.0-9", "1.0-10", -1},
		{"1:0.1", "2.0", 1},
		{"1:1.0", "2:0.1", -1},
		{"1.0~rc1", "1.0", -1},
		{"1.0~~", "1.0~", -1},
		{"1.0~~a", "1.0~~", 1},
		{"1.0~", "1.0", -1},
		{"1.0", "1.0a", -1},
		{"1.0a", "1.0+", -1},
		{"1.0+", "1.0.", -1},
		{"1.0+dfsg-1", "1.0-1", 1},
		{"2.36-9+deb12u4", "2.36-9+deb12u10", -1},
		{"2.36-9+deb12u10", "2.36-9", 1},
		{"3.0.15-1~deb12u1", "3.0.15-1", -1},
		{"1.0-1~bpo12+1", "1.0-1", -1},
		{"1.001", "1.1", 0},
		{"1.2.3-1.1", "1.2.3-1", 1},
		{"7.88.1-10+deb12u8", "7.88.1-10+deb12u12", -1},
		{"10:1", "9:99", 1},
	}
	for _, tt := range tests {
		va, erra := version.Parse(tt.a)
		vb, errb := version.Parse(tt.b)
		if erra != nil || errb != nil {
			t.Fatalf("parsing %q/%q: %v %v", tt.a, tt.b, erra, errb)
		}
		got := sign(version.Compare(va, vb))
		if got != tt.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if back := sign(version.Compare(vb, va)); back != -tt.want {
			t.Errorf("Compare(%s, %s) = %d, not antisymmetric", tt.b, tt.a, back)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestAlternativeAllows(t *testing.T) {
	tests := []struct {
		rel, ver string
		want     bool
	}{
		{"libc6 (>= 2.36)", "2.36-9", true},
		{"libc6 (>= 2.36)", "2.35-1", false},
		{"libc6 (>= 2.36)", "2.36~rc1", false},
		{"libc6 (<< 2.37)", "2.36-9+deb12u10", true},
		{"libc6 (<< 2.37)", "2.37", false},
		{"libc6 (<= 2.36-9)", "2.36-9", true},
		{"libc6 (= 2.36-9)", "2.36-9", true},
		{"libc6 (= 2.36-9)", "0:2.36-9", true},
		{"libc6 (= 2.36-9)", "1:2.36-9", false},
		{"libc6 (>> 2.36-9)", "2.36-9", false},
		{"libc6 (>> 2.36-9)", "2.36-9.1", true},
		{"libc6", "0.1", true},
	}
	for _, tt := range tests {
		a, err := ParseRequest(tt.rel)
		if err != nil {
			t.Fatal(err)
		}
		v, err := version.Parse(tt.ver)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Allows(v); got != tt.want {
			t.Errorf("%q allows %s = %v, want %v", tt.rel, tt.ver, got, tt.want)
		}
	}
}

func TestParseVersionIsStricterThanPault(t *testing.T) {
	for _, bad := range []string{"", "-", "-1", "1.0-", "a1", "1 2", "1:", "x:1", "1.0-a_b", "1.0\u00e9", "0:0:", "1:2:3"} {
		if v, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) = %v, want an error", bad, v)
		}
	}
	for _, good := range []string{"1", "1:2.3-4", "2.36-9+deb12u10", "1.0~rc1-1~bpo12+1", "0.1-1-2"} {
		if _, err := ParseVersion(good); err != nil {
			t.Errorf("ParseVersion(%q): %v", good, err)
		}
	}
}
