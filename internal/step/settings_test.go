package step

import (
	"strings"
	"testing"
)

func TestParseUlimit(t *testing.T) {
	for in, want := range map[string]Ulimit{
		"nofile=1024:4096": {"nofile", 1024, 4096},
		"nproc=512":        {"nproc", 512, 512},
		"core=-1":          {"core", ^uint64(0), ^uint64(0)},
		"memlock=0:-1":     {"memlock", 0, ^uint64(0)},
	} {
		got, err := ParseUlimit(in)
		if err != nil || got != want {
			t.Errorf("ParseUlimit(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"nofile":           "invalid ulimit argument: nofile (want NAME=SOFT[:HARD]",
		"files=1":          "invalid ulimit type: files",
		"nofile=x":         `parsing "x": invalid syntax`,
		"nofile=10:5":      "soft limit must be less than or equal to hard limit: 10 > 5",
		"nofile=1:2:3":     "too many limit value arguments - 1:2:3",
		"stack=-1:1048576": "soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 1048576",
	} {
		if _, err := ParseUlimit(in); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), in) {
			t.Errorf("ParseUlimit(%q) = %v, want an error naming it and saying %q", in, err, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1024": 1024, "100b": 100, "64m": 64 << 20, "64M": 64 << 20, "2g": 2 << 30,
		"1GiB": 1 << 30, "32kb": 32 << 10, "1.5k": 1536, "1t": 1 << 40,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "m", "0", "-1m", "1x", "1bb", "1e30g", "ten"} {
		if n, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, n)
		}
	}
}

func TestSettingsKey(t *testing.T) {
	if k := (Settings{}).Key(); k != "" {
		t.Errorf("default settings key %q, want empty (keys made without settings stay the same)", k)
	}
	h, _ := ParseHost("db:10.0.0.7")
	u, _ := ParseUlimit("nofile=1:2")
	keys := map[string]bool{}
	for _, s := range []Settings{{Hosts: []Host{h}}, {ShmSize: 1 << 30}, {Ulimits: []Ulimit{u}}, {Hosts: []Host{h}, ShmSize: 1 << 30, Ulimits: []Ulimit{u}}} {
		k := s.Key()
		if k == "" || keys[k] {
			t.Errorf("settings %+v: key %q is empty or not unique", s, k)
		}
		keys[k] = true
	}
}
