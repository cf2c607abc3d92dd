package userns

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseMapAndRootless(t *testing.T) {
	tests := []struct {
		in       string
		initial  bool
		outside0 uint32
	}{
		{"         0          0 4294967295\n", true, 0},
		{"         0       1001          1\n", false, 1001},
		{"0 1001 1\n1 100000 65536\n", false, 1001},
	}
	for _, tt := range tests {
		m, err := ParseMap(strings.NewReader(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		s := State{UIDs: m}
		if s.Initial() != tt.initial || s.outsideOf(0) != tt.outside0 {
			t.Errorf("%q: initial %v, outside(0) %d", tt.in, s.Initial(), s.outsideOf(0))
		}
		if !tt.initial && !s.Rootless() {
			t.Errorf("%q: not rootless", tt.in)
		}
	}
}

func TestSubIDs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "subuid")
	os.WriteFile(p, []byte("# comment\nalice:100000:65536\n1002:300000:1000\nbob:200000:65536\nalice:500000:10\nbad:line\n"), 0o644)
	got, err := SubIDs(p, "alice", 1001)
	if err != nil {
		t.Fatal(err)
	}
	want := []SubIDRange{{100000, 65536}, {500000, 10}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alice: %v, want %v", got, want)
	}
	if got, _ := SubIDs(p, "carol", 1002); !reflect.DeepEqual(got, []SubIDRange{{300000, 1000}}) {
		t.Errorf("by uid: %v", got)
	}
}
