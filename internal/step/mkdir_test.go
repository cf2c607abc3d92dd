package step

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/whittle-build/whittle/internal/plan"
	"github.com/whittle-build/whittle/internal/testutil"
)

// TestMkdirOwner checks the owner of the directories WORKDIR makes, by
// BuildKit's rules: a uid alone is the group too, and a USER whose name the
// stage lacks (a scratch stage has no /etc/passwd) owns nothing, root does.
func TestMkdirOwner(t *testing.T) {
	testutil.RequireRoot(t)
	withPasswd := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\napp:x:1000:\n",
	}
	tests := []struct {
		name     string
		files    map[string]string
		user     string
		uid, gid uint32
	}{
		{"name", withPasswd, "app", 1000, 1000},
		{"uid alone", withPasswd, "4242", 4242, 4242},
		{"uid:gid", withPasswd, "4242:4343", 4242, 4343},
		{"unknown name", withPasswd, "nosuchuser", 0, 0},
		{"unknown group", withPasswd, "app:nosuchgroup", 1000, 1000},
		{"scratch, name", nil, "appuser", 0, 0},
		{"scratch, uid alone", nil, "65532", 65532, 65532},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := tree(t, tc.files)
			if err := Mkdir(root, &plan.Mkdir{Path: "/w/sub", User: tc.user}, nil); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"w", "w/sub"} {
				fi, err := os.Lstat(filepath.Join(root, p))
				if err != nil {
					t.Fatal(err)
				}
				st := fi.Sys().(*syscall.Stat_t)
				if !fi.IsDir() || st.Uid != tc.uid || st.Gid != tc.gid || fi.Mode().Perm() != 0o755 {
					t.Errorf("/%s: %v %d:%d, want a 0755 directory of %d:%d", p, fi.Mode(), st.Uid, st.Gid, tc.uid, tc.gid)
				}
			}
		})
	}
	// A passwd file that cannot be read is still an error.
	root := tree(t, map[string]string{"etc/": ""})
	if err := syscall.Mkfifo(filepath.Join(root, "etc/passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Mkdir(root, &plan.Mkdir{Path: "/w", User: "app"}, nil)
	if err == nil || !strings.Contains(err.Error(), "the owner of /w (USER app)") || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Mkdir with a FIFO for /etc/passwd: %v", err)
	}
}
