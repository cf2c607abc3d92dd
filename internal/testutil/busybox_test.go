package testutil

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestNewBusyboxImageDigests(t *testing.T) {
	// A stand-in binary: the layout and metadata of the image must not move,
	// whatever busybox the host has. Golden values change only on purpose.
	const fake = "not really busybox\n"
	tests := []struct {
		name string
		get  func(v1.Image) (v1.Hash, error)
		want string
		arch string // "" for any GOARCH
	}{
		{"layer diffID", func(img v1.Image) (v1.Hash, error) {
			ls, err := img.Layers()
			if err != nil {
				return v1.Hash{}, err
			}
			return ls[0].DiffID()
		}, "sha256:ba8c9146735634cd6beb29de90945e6cefd94207dcaa7748de3f22289dc6084a", ""},
		{"config", func(img v1.Image) (v1.Hash, error) { return img.ConfigName() },
			"sha256:c40eea6ec5ef2ce983178cbbdbeb2876cc84d1d5d470c435440777b355a55cd1", "amd64"},
		{"manifest", func(img v1.Image) (v1.Hash, error) { return img.Digest() },
			"sha256:d130dd93d887b36a1739d2e6f557e796b344af2bb1fa9ad0ccc11ec943f0353b", "amd64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.arch != "" && tt.arch != runtime.GOARCH {
				t.Skipf("golden value recorded for %s", tt.arch)
			}
			img, err := NewBusyboxImage([]byte(fake))
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.get(img)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("%s = %s, want %s", tt.name, got, tt.want)
			}
		})
	}
}

func TestBusyboxImageReproducible(t *testing.T) {
	a, b := BusyboxImage(t), BusyboxImage(t)
	da, err := a.Digest()
	if err != nil {
		t.Fatal(err)
	}
	db, err := b.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if da != db {
		t.Errorf("two busybox images differ: %s and %s", da, db)
	}
	if err := validate.Image(a); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
}

// tarEntries reads the headers and regular-file contents of img's only layer.
func tarEntries(t *testing.T, img v1.Image) (map[string]*tar.Header, map[string]string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("got %d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	hdrs, bodies := map[string]*tar.Header{}, map[string]string{}
	EachTarEntry(t, rc, func(h *tar.Header, content io.Reader) {
		name := strings.TrimPrefix(strings.TrimSuffix(h.Name, "/"), "./")
		hdrs[name] = h
		if h.Typeflag == tar.TypeReg && h.Size < 1<<20 {
			b, err := io.ReadAll(content)
			if err != nil {
				t.Fatal(err)
			}
			bodies[name] = string(b)
		}
	})
	return hdrs, bodies
}

func TestBusyboxImageContents(t *testing.T) {
	img := BusyboxImage(t)
	hdrs, bodies := tarEntries(t, img)

	for _, a := range append([]string{"sh", "ls", "cat", "env", "id", "["}, BusyboxApplets...) {
		h, ok := hdrs["bin/"+a]
		if !ok || h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
			t.Errorf("bin/%s: want a symlink to busybox, got %+v", a, h)
		}
	}
	checks := []struct {
		path     string
		typ      byte
		mode     int64
		uid, gid int
	}{
		{"bin/busybox", tar.TypeReg, 0o755, 0, 0},
		{"tmp", tar.TypeDir, 0o1777, 0, 0},
		{"root", tar.TypeDir, 0o700, 0, 0},
		{"home/app", tar.TypeDir, 0o755, 1000, 1000},
		{"etc/passwd", tar.TypeReg, 0o644, 0, 0},
	}
	for _, c := range checks {
		h, ok := hdrs[c.path]
		if !ok {
			t.Errorf("%s missing", c.path)
			continue
		}
		if h.Typeflag != c.typ || h.Mode != c.mode || h.Uid != c.uid || h.Gid != c.gid {
			t.Errorf("%s: type %c mode %o owner %d:%d, want %c %o %d:%d", c.path, h.Typeflag, h.Mode, h.Uid, h.Gid, c.typ, c.mode, c.uid, c.gid)
		}
		if !h.ModTime.Equal(FixtureTime) {
			t.Errorf("%s: mtime %v, want %v", c.path, h.ModTime, FixtureTime)
		}
	}
	if !strings.Contains(bodies["etc/passwd"], "app:x:1000:1000:") {
		t.Errorf("/etc/passwd has no app user:\n%s", bodies["etc/passwd"])
	}
	if !strings.Contains(bodies["etc/group"], "app:x:1000:") {
		t.Errorf("/etc/group has no app group:\n%s", bodies["etc/group"])
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cf.Config.Cmd, " "); got != "sh" {
		t.Errorf("Cmd = %q, want sh", got)
	}
	if len(cf.Config.Env) != 1 || cf.Config.Env[0] != "PATH="+DefaultPath {
		t.Errorf("Env = %q", cf.Config.Env)
	}
}

// TestBusyboxImageRuns unpacks the layer and runs its shell in a chroot: the
// applet links and users work as the engine's tests expect.
func TestBusyboxImageRuns(t *testing.T) {
	RequireRoot(t)
	img := BusyboxImage(t)
	dir := t.TempDir()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	// GNU tar from the host: the fixture must be readable by a tool that is not ours.
	untar := exec.Command("tar", "-xp", "--numeric-owner", "-C", dir)
	untar.Stdin = rc
	if out, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	script := `set -e; echo hello | sha256sum | head -c 8; echo; id -u app; stat -c %U:%G /home/app; [ -d /tmp ] && echo tmp-ok`
	cmd := exec.Command("chroot", dir, "/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=" + DefaultPath}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chroot sh: %v\n%s", err, out)
	}
	if want := "5891b5b5\n1000\napp:app\ntmp-ok\n"; string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
	fi, err := os.Stat(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("/tmp mode %v, want sticky 0777", fi.Mode())
	}
}
