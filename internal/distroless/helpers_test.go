package distroless

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// testFile is one entry of a test package's data.
type testFile struct {
	name string // "./usr/bin/x" style or "usr/bin/x"
	body string
	mode int64
	typ  byte   // tar type; 0 means regular
	link string // symlink or hard link target
}

// testDeb describes a .deb to build.
type testDeb struct {
	Name, Version, Arch           string
	Depends, PreDepends, Provides string
	Essential                     bool
	Priority                      string
	Files                         []testFile
	// MTime is the time of every data entry; default testMTime.
	MTime time.Time
}

// testMTime is the file time of test packages.
var testMTime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// control is the package's control file.
func (d testDeb) control() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test Maintainers <test@example.invalid>\n", d.Name, d.Version, d.Arch)
	if d.Essential {
		b.WriteString("Essential: yes\n")
	}
	if d.Priority != "" {
		fmt.Fprintf(&b, "Priority: %s\n", d.Priority)
	}
	for _, f := range []struct{ k, v string }{{"Pre-Depends", d.PreDepends}, {"Depends", d.Depends}, {"Provides", d.Provides}} {
		if f.v != "" {
			fmt.Fprintf(&b, "%s: %s\n", f.k, f.v)
		}
	}
	fmt.Fprintf(&b, "Homepage: https://example.invalid/%s\nDescription: test package %s\n a package made by a test\n", d.Name, d.Name)
	return b.String()
}

// build returns the .deb's bytes: debian-binary, control.tar.gz (control,
// md5sums), data.tar.gz.
func (d testDeb) build(t testing.TB) []byte {
	t.Helper()
	mt := d.MTime
	if mt.IsZero() {
		mt = testMTime
	}
	var data, md5s bytes.Buffer
	dirs := map[string]bool{}
	tw := tar.NewWriter(&data)
	tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt})
	for _, f := range d.Files {
		name := "./" + strings.TrimPrefix(strings.TrimPrefix(f.name, "./"), "/")
		// Parent directories first, as dpkg-deb writes them.
		parts := strings.Split(strings.Trim(strings.TrimPrefix(name, "./"), "/"), "/")
		for i := 1; i < len(parts); i++ {
			dir := "./" + strings.Join(parts[:i], "/") + "/"
			if !dirs[dir] {
				dirs[dir] = true
				tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt, Uname: "root", Gname: "root"})
			}
		}
		typ := f.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		h := &tar.Header{Name: name, Typeflag: typ, Mode: mode, ModTime: mt, Uname: "root", Gname: "root", Linkname: f.link}
		if typ == tar.TypeDir {
			if dirs[name+"/"] || dirs[name] {
				continue
			}
			h.Name = strings.TrimSuffix(name, "/") + "/"
			dirs[h.Name] = true
		}
		if typ == tar.TypeReg {
			h.Size = int64(len(f.body))
			sum := md5.Sum([]byte(f.body))
			fmt.Fprintf(&md5s, "%s  %s\n", hex.EncodeToString(sum[:]), strings.TrimPrefix(name, "./"))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, f.body)
	}
	tw.Close()

	var ctrl bytes.Buffer
	cw := tar.NewWriter(&ctrl)
	for _, f := range []struct{ name, body string }{{"./control", d.control()}, {"./md5sums", md5s.String()}} {
		cw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: mt, Typeflag: tar.TypeReg})
		io.WriteString(cw, f.body)
	}
	cw.Close()

	var out bytes.Buffer
	out.WriteString("!<arch>\n")
	member := func(name string, body []byte) {
		fmt.Fprintf(&out, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, mt.Unix(), 0, 0, "100644", len(body))
		out.Write(body)
		if len(body)%2 == 1 {
			out.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar.gz", gz(ctrl.Bytes()))
	member("data.tar.gz", gz(data.Bytes()))
	return out.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// testArchive is a signed Debian archive with one suite served on
// 127.0.0.1, and the armored public key that signs it in a file.
type testArchive struct {
	t       testing.TB
	key     *openpgp.Entity
	suite   string
	arch    string
	srv     *httptest.Server
	Keyring string

	mu    sync.Mutex // the server reads files while a test may publish again
	files map[string][]byte
}

// newTestArchive publishes debs as suite (component main).
func newTestArchive(t testing.TB, suite, arch string, debs ...testDeb) *testArchive {
	t.Helper()
	now := time.Now()
	key, err := openpgp.NewEntity("archive", "test", "archive@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return now.Add(-24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	a := &testArchive{t: t, key: key, suite: suite, arch: arch, files: map[string][]byte{}}
	a.publish(debs...)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		b, ok := a.files[r.URL.Path]
		a.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(a.srv.Close)

	var pub bytes.Buffer
	aw, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Serialize(aw); err != nil {
		t.Fatal(err)
	}
	aw.Close()
	a.Keyring = filepath.Join(t.TempDir(), "archive.asc")
	if err := os.WriteFile(a.Keyring, pub.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return a
}

// URL is the archive root, for Options.Mirror.
func (a *testArchive) URL() string { return a.srv.URL + "/debian" }

// publish (re)writes the pool, the Packages index and the signed
// InRelease for debs.
func (a *testArchive) publish(debs ...testDeb) {
	t := a.t
	files := map[string][]byte{}
	var stanzas []string
	for _, d := range debs {
		b := d.build(t)
		v := d.Version
		if i := strings.Index(v, ":"); i >= 0 {
			v = v[i+1:]
		}
		pool := fmt.Sprintf("pool/main/%c/%s/%s_%s_%s.deb", d.Name[0], d.Name, d.Name, v, d.Arch)
		files["/debian/"+pool] = b
		stanzas = append(stanzas, strings.TrimSuffix(d.control(), "\n")+fmt.Sprintf("\nFilename: %s\nSize: %d\nSHA256: %s\n", pool, len(b), sha256Hex(b)))
	}
	sort.Strings(stanzas)
	pk := []byte(strings.Join(stanzas, "\n"))
	dir := "main/binary-" + a.arch + "/"
	idx := map[string][]byte{dir + "Packages": pk, dir + "Packages.gz": gz(pk)}
	base := "/debian/dists/" + a.suite + "/"
	files[base+dir+"Packages.gz"] = idx[dir+"Packages.gz"]

	var rel strings.Builder
	fmt.Fprintf(&rel, "Origin: Test\nLabel: Test\nSuite: %s\nCodename: %s\n", a.suite, a.suite)
	fmt.Fprintf(&rel, "Date: %s\n", time.Now().Add(-time.Hour).UTC().Format("Mon, 02 Jan 2006 15:04:05 MST"))
	fmt.Fprintf(&rel, "Architectures: %s\nComponents: main\nSHA256:\n", a.arch)
	names := []string{dir + "Packages", dir + "Packages.gz"}
	for _, n := range names {
		fmt.Fprintf(&rel, " %s %8d %s\n", sha256Hex(idx[n]), len(idx[n]), n)
	}
	var signed bytes.Buffer
	w, err := clearsign.Encode(&signed, a.key.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, rel.String())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files[base+"InRelease"] = signed.Bytes()
	a.mu.Lock()
	a.files = files
	a.mu.Unlock()
}

// testCA makes a self-signed CA certificate in PEM, named cn.
func testCAPEM(t testing.TB, cn string) []byte {
	t.Helper()
	ca, _ := newTestCA(t, cn)
	return ca
}

// newTestCA makes a self-signed CA: its certificate in PEM and a function
// that issues a server certificate for 127.0.0.1 signed by it.
func newTestCA(t testing.TB, cn string) ([]byte, func() tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(der)
	issue := func() tls.Certificate {
		skey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		st := &x509.Certificate{
			SerialNumber: big.NewInt(2),
			Subject:      pkix.Name{CommonName: "127.0.0.1"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		sder, err := x509.CreateCertificate(rand.Reader, st, caCert, &skey.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{sder}, PrivateKey: skey}
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), issue
}
