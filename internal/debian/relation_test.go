package debian

import (
	"strings"
	"testing"
)

func TestParseRelations(t *testing.T) {
	tests := []struct {
		in   string
		arch string
		want string // relations joined by ", " in canonical form
		err  string
	}{
		{in: "", want: ""},
		{in: "libc6 (>= 2.34), libssl3 (>= 3.0.0)", want: "libc6 (>= 2.34), libssl3 (>= 3.0.0)"},
		{in: "debconf (>= 0.5) | debconf-2.0", want: "debconf (>= 0.5) | debconf-2.0"},
		{in: "python3:any (>= 3.11~)", want: "python3:any (>= 3.11~)"},
		{in: "foo:native, bar:amd64", want: "foo:native, bar:amd64"},
		{in: "  libc6  (  >=  2.34 ) ,\n libz1 ", want: "libc6 (>= 2.34), libz1"},
		{in: "foo [amd64], bar [!amd64]", arch: "amd64", want: "foo"},
		{in: "foo [amd64], bar [!amd64]", arch: "arm64", want: "bar"},
		{in: "foo [amd64] | baz", arch: "arm64", want: "baz"},
		{in: "foo <!nocheck>", want: "foo"},
		{in: "libc6 (>= 2.34", err: "EOF"},
		{in: "libc6 (~ 2.34)", err: "Operator"},
		{in: "libc6 (>= )", err: "version"},
		{in: "Libc6", err: "not a valid package name"},
		{in: "foo:", err: "architecture qualifier"},
		{in: "foo:----", err: "architecture qualifier"},
		{in: "foo:a-b-c-d-e", err: "architecture qualifier"},
		{in: "foo:hurd-i386", want: "foo:hurd-i386"},
		{in: "foo, ${shlibs:Depends}", err: "substitution"},
		{in: "libc6 (>= abc)", err: "version"},
	}
	for _, tt := range tests {
		rels, err := ParseRelations(tt.in, tt.arch)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseRelations(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRelations(%q): %v", tt.in, err)
			continue
		}
		var parts []string
		for _, r := range rels {
			parts = append(parts, r.String())
		}
		if got := strings.Join(parts, ", "); got != tt.want {
			t.Errorf("ParseRelations(%q, %q) = %q, want %q", tt.in, tt.arch, got, tt.want)
		}
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "python3", want: "python3"},
		{in: "tzdata=2024a-0+deb12u1", want: "tzdata (= 2024a-0+deb12u1)"},
		{in: "libc6:amd64", want: "libc6:amd64"},
		{in: "libc6 (>= 2.36)", want: "libc6 (>= 2.36)"},
		{in: "aa | bb", err: "exactly one"},
		{in: "aa, bb", err: "exactly one"},
		{in: "", err: "exactly one"},
	}
	for _, tt := range tests {
		a, err := ParseRequest(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseRequest(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || a.String() != tt.want {
			t.Errorf("ParseRequest(%q) = %q, %v; want %q", tt.in, a, err, tt.want)
		}
	}
}
