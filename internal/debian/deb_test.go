package debian

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// readAllData reads the data tar into name → content (regular files).
func readAllData(t *testing.T, d *Deb) map[string]string {
	t.Helper()
	out := map[string]string{}
	for {
		h, err := d.Data.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(d.Data)
			if err != nil {
				t.Fatal(err)
			}
			out[strings.TrimPrefix(h.Name, ".")] = string(b)
		}
	}
}

func TestOpenDebEveryCompression(t *testing.T) {
	files := map[string]string{
		"/usr/bin/hello":                  "#!/bin/true\n",
		"/usr/share/doc/hello/copyright":  "public domain\n",
		"/etc/hello.conf":                 "greeting=hi\n",
		"/usr/lib/x86_64-linux-gnu/empty": "",
	}
	for _, cext := range []string{"", ".gz", ".xz", ".zst"} {
		for _, dext := range []string{"", ".gz", ".xz", ".zst", ".bz2"} {
			t.Run("control.tar"+cext+"+data.tar"+dext, func(t *testing.T) {
				deb := testDeb{Name: "hello", Version: "1:2.10-3", Arch: "amd64", Files: files, ControlExt: cext, DataExt: dext,
					Extra: "Depends: libc6 (>= 2.34)\nMulti-Arch: foreign\n", Conffiles: []string{"/etc/hello.conf"}}
				// A one-byte-at-a-time stream proves nothing needs ReaderAt.
				d, err := OpenDeb(iotest.OneByteReader(bytes.NewReader(deb.build(t))))
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				if string(d.Control) != deb.control() {
					t.Fatalf("Control = %q, want %q", d.Control, deb.control())
				}
				if d.Package.Name != "hello" || d.Package.Version.Epoch != 1 || d.Package.Depends != "libc6 (>= 2.34)" || d.Package.MultiArch != "foreign" {
					t.Fatalf("Package = %+v", d.Package)
				}
				if !strings.Contains(string(d.MD5Sums), "  usr/bin/hello\n") {
					t.Fatalf("MD5Sums = %q", d.MD5Sums)
				}
				if len(d.Conffiles) != 1 || d.Conffiles[0] != "/etc/hello.conf" {
					t.Fatalf("Conffiles = %q", d.Conffiles)
				}
				if !strings.Contains(string(d.ControlFiles["postinst"]), "never run") {
					t.Fatal("postinst not exposed as bytes")
				}
				if d.DataCompression != dext {
					t.Fatalf("DataCompression = %q", d.DataCompression)
				}
				got := readAllData(t, d)
				if len(got) != len(files) {
					t.Fatalf("data has %d files, want %d: %v", len(got), len(files), got)
				}
				for n, c := range files {
					if got[n] != c {
						t.Errorf("%s = %q, want %q", n, got[n], c)
					}
				}
			})
		}
	}
}

func TestOpenDebSkipsUnderscoreMembers(t *testing.T) {
	deb := testDeb{Name: "signed", Version: "1", Arch: "all", Files: map[string]string{"/a": "b"}, ControlExt: ".xz", DataExt: ".xz",
		Members: map[string]string{"_gpgbuilder": "odd-length signature"}}
	d, err := OpenDeb(bytes.NewReader(deb.build(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := readAllData(t, d); got["/a"] != "b" {
		t.Fatalf("data = %v", got)
	}
}

func TestOpenDebRefusesMalformed(t *testing.T) {
	good := testDeb{Name: "ok", Version: "1", Arch: "all", Files: map[string]string{"/a": "b"}, ControlExt: ".gz", DataExt: ".gz"}.build(t)
	// rebuild assembles an ar from (name, content) pairs.
	rebuild := func(members ...string) []byte {
		var b bytes.Buffer
		b.WriteString(arMagic)
		for i := 0; i+1 < len(members); i += 2 {
			arMember(&b, members[i], []byte(members[i+1]))
		}
		return b.Bytes()
	}
	ctl := string(compress(t, ".gz", tarOf(t, map[string]string{"control": "Package: ok\nVersion: 1\nArchitecture: all\n"})))
	data := string(compress(t, ".gz", tarOf(t, map[string]string{"/a": "b"})))
	tests := map[string]struct {
		in   []byte
		want string
	}{
		"not ar":            {[]byte("PK\x03\x04 zip file"), "not an ar archive"},
		"empty":             {nil, "ar magic"},
		"truncated":         {good[:len(good)/2], "unexpected EOF"},
		"no debian-binary":  {rebuild("control.tar.gz", ctl, "data.tar.gz", data), "want debian-binary"},
		"format 3":          {rebuild("debian-binary", "3.0\n", "control.tar.gz", ctl, "data.tar.gz", data), "not supported"},
		"no data":           {rebuild("debian-binary", "2.0\n", "control.tar.gz", ctl), "no data.tar"},
		"no control":        {rebuild("debian-binary", "2.0\n"), "no control.tar"},
		"data first":        {rebuild("debian-binary", "2.0\n", "data.tar.gz", data, "control.tar.gz", ctl), "before control.tar"},
		"lzma data":         {rebuild("debian-binary", "2.0\n", "control.tar.gz", ctl, "data.tar.lzma", data), "not supported"},
		"bz2 control":       {rebuild("debian-binary", "2.0\n", "control.tar.bz2", ctl, "data.tar.gz", data), "not a valid"},
		"stray member":      {rebuild("debian-binary", "2.0\n", "control.tar.gz", ctl, "evil", "x", "data.tar.gz", data), "unexpected member"},
		"control not gzip":  {rebuild("debian-binary", "2.0\n", "control.tar.gz", "plain", "data.tar.gz", data), "gzip"},
		"no control file":   {rebuild("debian-binary", "2.0\n", "control.tar.gz", string(compress(t, ".gz", tarOf(t, map[string]string{"md5sums": ""}))), "data.tar.gz", data), "no control file"},
		"bad control field": {rebuild("debian-binary", "2.0\n", "control.tar.gz", string(compress(t, ".gz", tarOf(t, map[string]string{"control": "Package: ok\n"}))), "data.tar.gz", data), "version"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d, err := OpenDeb(bytes.NewReader(tt.in))
			if err == nil {
				d.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want %q", err, tt.want)
			}
		})
	}
	// A malformed ar header terminator.
	bad := append([]byte{}, good...)
	bad[len(arMagic)+58] = 'x'
	if _, err := OpenDeb(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "terminator") {
		t.Fatalf("bad terminator: err = %v", err)
	}
}

// TestOpenDebReadsDpkgDebOutput cross-checks the reader against packages
// built by dpkg-deb itself, when it is installed.
func TestOpenDebReadsDpkgDebOutput(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not installed")
	}
	for _, z := range []string{"gzip", "xz", "zstd", "none"} {
		t.Run(z, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "root")
			writeFile(t, root, "DEBIAN/control", []byte("Package: crosscheck\nVersion: 0.1-1\nArchitecture: all\nMaintainer: T <t@example.invalid>\nDescription: cross check\n"))
			writeFile(t, root, "usr/share/crosscheck/data.txt", bytes.Repeat([]byte("whittle "), 1000))
			out := filepath.Join(dir, "x.deb")
			cmd := exec.Command("dpkg-deb", "--root-owner-group", "-Z"+z, "--build", root, out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("dpkg-deb: %v\n%s", err, b)
			}
			d, err := OpenDebFile(out)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Package.Name != "crosscheck" || d.Package.Version.String() != "0.1-1" {
				t.Fatalf("Package = %+v", d.Package)
			}
			got := readAllData(t, d)
			if len(got["/usr/share/crosscheck/data.txt"]) != 8000 {
				t.Fatalf("data = %v", got)
			}
		})
	}
}

func TestOpenDebFileMissing(t *testing.T) {
	if _, err := OpenDebFile(filepath.Join(t.TempDir(), "nope.deb")); err == nil || !os.IsNotExist(errorsUnwrapAll(err)) {
		t.Fatalf("err = %v", err)
	}
}

// errorsUnwrapAll returns the innermost wrapped error.
func errorsUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}
