package distroless

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLibcmp(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		sign int
	}{
		{"libc.so.6", "libc.so.6", 0},
		{"libz.so.10", "libz.so.9", 1}, // numbers compare as numbers
		{"libz.so.1", "libz.so", 1},
		{"liba.so", "libb.so", -1},
		{"lib1", "liba", 1}, // digits sort after other bytes
		{"libx", "lib2", -1},
		{"", "a", -1},
	} {
		got := libcmp(tc.a, tc.b)
		if (got > 0) != (tc.sign > 0) || (got < 0) != (tc.sign < 0) {
			t.Errorf("libcmp(%q, %q) = %d, want sign %d", tc.a, tc.b, got, tc.sign)
		}
	}
}

func TestLDSearchDirs(t *testing.T) {
	conf := map[string][]byte{
		"etc/ld.so.conf.d/x86_64-linux-gnu.conf": []byte("# multiarch\n/usr/local/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n"),
		"etc/ld.so.conf.d/zz-app.conf":           []byte("/opt/app/lib:/opt/app/lib/\ninclude /etc/app.d/*.conf\n"),
		"etc/app.d/more.conf":                    []byte("/opt/more\n"),
	}
	dirs, extra := ldSearchDirs(conf, "x86_64-linux-gnu")
	want := []string{"usr/local/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "opt/app/lib", "opt/more", "lib", "usr/lib"}
	if diff := cmp.Diff(want, dirs); diff != "" {
		t.Errorf("dirs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"usr/local/lib/x86_64-linux-gnu", "opt/app/lib", "opt/more"}, extra); diff != "" {
		t.Errorf("extra (-want +got):\n%s", diff)
	}
}

func TestLDCache(t *testing.T) {
	conf := map[string][]byte{"etc/ld.so.conf.d/zlib.conf": []byte("/opt/zlib\n")}
	files := map[string][]string{
		"opt/zlib":             {"libz.so.1", "libz.so.1.2.13", "README"},
		"lib/x86_64-linux-gnu": {"libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "libz.so.1"},
	}
	libsIn := func(d string) []string { return files[d] }
	if c, err := ldCacheFor(map[string][]byte{}, "amd64", libsIn); err != nil || c != nil {
		t.Errorf("a cache without libraries outside the loader's directories: %d bytes, %v", len(c), err)
	}
	cache, err := ldCacheFor(conf, "amd64", libsIn)
	if err != nil || cache == nil {
		t.Fatalf("%d bytes, %v", len(cache), err)
	}
	if !strings.HasPrefix(string(cache), "glibc-ld.so.cache1.1") {
		t.Fatalf("header %q", cache[:20])
	}
	ldconfig, err := exec.LookPath("ldconfig")
	if err != nil {
		for _, p := range []string{"/sbin/ldconfig", "/usr/sbin/ldconfig"} {
			if _, err := os.Stat(p); err == nil {
				ldconfig = p
			}
		}
	}
	if ldconfig == "" {
		t.Skip("no ldconfig to read the cache with")
	}
	file := filepath.Join(t.TempDir(), "ld.so.cache")
	os.WriteFile(file, cache, 0o644)
	out, err := exec.Command(ldconfig, "-p", "-C", file).CombinedOutput()
	if err != nil {
		t.Fatalf("ldconfig -p: %v\n%s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		lines = append(lines, strings.TrimSpace(l))
	}
	// The first directory wins libz.so.1; entries come in the loader's
	// order (descending libcmp).
	want := []string{
		"libz.so.1.2.13 (libc6,x86-64) => /opt/zlib/libz.so.1.2.13",
		"libz.so.1 (libc6,x86-64) => /opt/zlib/libz.so.1",
		"libm.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libm.so.6",
		"libc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6",
		"ld-linux-x86-64.so.2 (libc6,x86-64) => /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("ldconfig -p (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(out), "5 libs found") {
		t.Errorf("ldconfig -p: %s", out)
	}
	sorted := append([]string(nil), lines...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return libcmp(strings.Fields(sorted[i])[0], strings.Fields(sorted[j])[0]) > 0
	})
	if diff := cmp.Diff(sorted, lines); diff != "" {
		t.Errorf("not in descending libcmp order")
	}
}
