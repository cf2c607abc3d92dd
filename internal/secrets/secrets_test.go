package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSource(t *testing.T) {
	tests := []struct {
		in      string
		want    Source
		wantErr bool
	}{
		{"id=tok,src=/run/tok", Source{ID: "tok", File: "/run/tok"}, false},
		{"id=tok,source=/run/tok", Source{ID: "tok", File: "/run/tok"}, false},
		{"id=tok,env=TOKEN", Source{ID: "tok", Env: "TOKEN"}, false},
		{"type=env,id=tok", Source{ID: "tok"}, false},
		{"type=env,id=tok,src=TOKEN", Source{ID: "tok", Env: "TOKEN"}, false},
		{"type=file,id=tok,src=f", Source{ID: "tok", File: "f"}, false},
		{"id=tok", Source{ID: "tok"}, false},
		{`"id=a,b",src=f`, Source{ID: "a,b", File: "f"}, false},
		{"src=f", Source{}, true},
		{"id=tok,src=f,env=V", Source{}, true},
		{"type=vault,id=tok", Source{}, true},
		{"id=tok,color=red", Source{}, true},
		{"tok", Source{}, true},
	}
	for _, tt := range tests {
		got, err := ParseSource(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSource(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tok")
	if err := os.WriteFile(file, []byte("from-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, MaxSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TOKEN": "from-env", "bare": "bare-env"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	t.Chdir(dir)
	s, err := newStore([]Source{
		{ID: "f", File: file},
		{ID: "e", Env: "TOKEN"},
		{ID: "bare"}, // an environment variable of that name exists
		{ID: "tok"},  // a file of that name (relative to the working directory)
		{ID: "gone", Env: "UNSET"},
	}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"f": "from-file", "e": "from-env", "bare": "bare-env", "tok": "from-file", "gone": ""} {
		got, err := s.Secret(id)
		if err != nil || string(got) != want {
			t.Errorf("Secret(%q) = %q, %v; want %q", id, got, err, want)
		}
	}
	if _, err := s.Secret("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing secret gave %v, want ErrNotFound", err)
	}
	var nilStore *Store
	if _, err := nilStore.Secret("x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a nil store gave %v, want ErrNotFound", err)
	}
	for _, bad := range [][]Source{
		{{ID: "missing", File: filepath.Join(dir, "nope")}},
		{{ID: "big", File: big}},
		{{File: file}},
	} {
		if _, err := newStore(bad, lookup); err == nil {
			t.Errorf("newStore(%+v) accepted", bad)
		}
	}
}

func TestTempDirAndWriteFile(t *testing.T) {
	dir, remove, err := TempDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := remove(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("remove left %s", dir)
		}
	}()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	if len(dir) > 80 {
		t.Errorf("directory %s is too long for socket paths", dir)
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &st); err == nil && st.Type == unix.TMPFS_MAGIC && os.Getenv("XDG_RUNTIME_DIR") == "" {
		if !strings.HasPrefix(dir, "/dev/shm/") {
			t.Errorf("%s is not on the memory filesystem /dev/shm", dir)
		}
	}
	if err := unix.Statfs(dir, &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		t.Errorf("%s is not on a tmpfs", dir)
	}
	if os.Geteuid() == 0 {
		// Root mounts a tmpfs of its own there.
		var parent unix.Stat_t
		var self unix.Stat_t
		unix.Stat(filepath.Dir(dir), &parent)
		unix.Stat(dir, &self)
		if parent.Dev == self.Dev {
			t.Errorf("%s is not a mount of its own", dir)
		}
	}
	p, err := WriteFile(dir, "s", []byte("hush"), 0, 0, 0o400)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "hush" {
		t.Fatalf("read %q, %v", b, err)
	}
	fi, err = os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o400 {
		t.Errorf("mode %v, want 0400", fi.Mode().Perm())
	}
	if _, err := WriteFile(dir, "s", []byte("again"), 0, 0, 0o400); err == nil {
		t.Error("WriteFile replaced an existing file")
	}
}
