package debian

import (
	"archive/tar"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// testDeb describes a .deb to build in a test.
type testDeb struct {
	Name, Version, Arch string
	// Extra control fields, written after the standard ones.
	Extra string
	// Files maps absolute paths to contents (directories are implied).
	Files map[string]string
	// ControlExt and DataExt pick the compressions ("", ".gz", ".xz",
	// ".zst", ".bz2").
	ControlExt, DataExt string
	// Conffiles lists conffiles.
	Conffiles []string
	// Members are extra ar members (name → content) put between control
	// and data.
	Members map[string]string
}

// control returns the control stanza.
func (d testDeb) control() string {
	s := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test <test@example.invalid>\nInstalled-Size: 1\n", d.Name, d.Version, d.Arch)
	s += d.Extra
	s += "Description: test package\n a test package built by the test\n .\n second paragraph\n"
	return s
}

// compress compresses data with the named extension's codec.
func compress(t testing.TB, ext string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch ext {
	case "":
		return data
	case ".gz":
		w := gzip.NewWriter(&buf)
		w.Write(data)
		w.Close()
	case ".xz":
		w, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case ".zst":
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case ".bz2":
		if _, err := exec.LookPath("bzip2"); err != nil {
			t.Skip("bzip2 is not installed; cannot build a bzip2 fixture")
		}
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bzip2: %v", err)
		}
		return out
	default:
		t.Fatalf("unknown compression %q", ext)
	}
	return buf.Bytes()
}

// tarOf builds a tar with the given files (sorted), directories implied.
func tarOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	dirs := map[string]bool{}
	mtime := time.Unix(1700000000, 0)
	for _, n := range names {
		parts := strings.Split(strings.Trim(n, "/"), "/")
		for i := 1; i < len(parts); i++ {
			d := "./" + strings.Join(parts[:i], "/") + "/"
			if !dirs[d] {
				dirs[d] = true
				tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime})
			}
		}
		body := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: "./" + strings.Trim(n, "/"), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)), ModTime: mtime}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// arMember writes one ar member.
func arMember(w *bytes.Buffer, name string, data []byte) {
	fmt.Fprintf(w, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, 1700000000, 0, 0, "100644", len(data))
	w.Write(data)
	if len(data)%2 == 1 {
		w.WriteByte('\n')
	}
}

// build returns the .deb bytes.
func (d testDeb) build(t testing.TB) []byte {
	t.Helper()
	var md5s strings.Builder
	names := make([]string, 0, len(d.Files))
	for n := range d.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sum := md5.Sum([]byte(d.Files[n]))
		fmt.Fprintf(&md5s, "%s  %s\n", hex.EncodeToString(sum[:]), strings.TrimPrefix(n, "/"))
	}
	ctl := map[string]string{"control": d.control(), "md5sums": md5s.String(), "postinst": "#!/bin/sh\necho never run\nexit 1\n"}
	if len(d.Conffiles) > 0 {
		ctl["conffiles"] = strings.Join(d.Conffiles, "\n") + "\n"
	}
	var buf bytes.Buffer
	buf.WriteString(arMagic)
	arMember(&buf, "debian-binary", []byte("2.0\n"))
	arMember(&buf, "control.tar"+d.ControlExt, compress(t, d.ControlExt, tarOf(t, ctl)))
	mnames := make([]string, 0, len(d.Members))
	for n := range d.Members {
		mnames = append(mnames, n)
	}
	sort.Strings(mnames)
	for _, n := range mnames {
		arMember(&buf, n, []byte(d.Members[n]))
	}
	arMember(&buf, "data.tar"+d.DataExt, compress(t, d.DataExt, tarOf(t, d.Files)))
	return buf.Bytes()
}

// sha256Hex returns the hex SHA256 of b.
func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// testKey generates a fresh ed25519 signing key.
func testKey(t testing.TB, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "test", name+"@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return testNow.Add(-24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// testNow is the fixed clock of signature tests.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// clearsignText signs text with key.
func clearsignText(t testing.TB, key *openpgp.Entity, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, key.PrivateKey, &packet.Config{Time: func() time.Time { return testNow.Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, text)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// publicKeyring returns key's public part as a Keyring, as a client would
// have it (armored, then parsed).
func publicKeyring(t testing.TB, key *openpgp.Entity) Keyring {
	t.Helper()
	var buf bytes.Buffer
	if err := key.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	kr, err := ParseKeyring("test key", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// fakeArchive is an archive served by httptest on 127.0.0.1: one suite,
// component main, one architecture, with the given debs.
type fakeArchive struct {
	t      testing.TB
	key    *openpgp.Entity
	suite  string
	arch   string
	debs   map[string][]byte // pool path → bytes
	stanza map[string]string // pool path → Packages stanza
	// validUntil, when not zero, is written as Valid-Until.
	validUntil time.Time
	byHash     bool

	mu       sync.Mutex
	files    map[string][]byte // URL path → content served
	override map[string][]byte // URL path → content served instead
	fail     map[string]int    // URL path → how many requests fail with 503 first
	hits     map[string]int
	srv      *httptest.Server
}

// newFakeArchive serves debs (built with testDeb.build) as suite.
func newFakeArchive(t testing.TB, suite, arch string, debs ...testDeb) *fakeArchive {
	t.Helper()
	fa := &fakeArchive{
		t: t, key: testKey(t, "archive"), suite: suite, arch: arch,
		debs: map[string][]byte{}, stanza: map[string]string{},
		override: map[string][]byte{}, fail: map[string]int{}, hits: map[string]int{},
		byHash: true,
	}
	for _, d := range debs {
		b := d.build(t)
		v := d.Version
		if i := strings.Index(v, ":"); i >= 0 {
			v = v[i+1:] // pool file names drop the epoch
		}
		pool := fmt.Sprintf("pool/main/%c/%s/%s_%s_%s.deb", d.Name[0], d.Name, d.Name, v, d.Arch)
		fa.debs[pool] = b
		fa.stanza[pool] = strings.TrimSuffix(d.control(), "\n") + fmt.Sprintf("\nFilename: %s\nSize: %d\nSHA256: %s\n", pool, len(b), sha256Hex(b))
	}
	fa.srv = httptest.NewServer(http.HandlerFunc(fa.serve))
	t.Cleanup(fa.srv.Close)
	fa.publish()
	return fa
}

// URL is the archive root.
func (fa *fakeArchive) URL() string { return fa.srv.URL + "/debian" }

// repo is a Repository for the archive with its own key.
func (fa *fakeArchive) repo() Repository {
	return Repository{URL: fa.URL(), Suite: fa.suite, Components: []string{"main"}, Keyring: publicKeyring(fa.t, fa.key)}
}

// packagesText is the Packages index.
func (fa *fakeArchive) packagesText() string {
	pools := make([]string, 0, len(fa.stanza))
	for p := range fa.stanza {
		pools = append(pools, p)
	}
	sort.Strings(pools)
	var parts []string
	for _, p := range pools {
		parts = append(parts, fa.stanza[p])
	}
	return strings.Join(parts, "\n")
}

// releaseText builds the Release text for the given index files.
func (fa *fakeArchive) releaseText(files map[string][]byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Origin: Test\nLabel: Test\nSuite: %s\nCodename: %s\n", fa.suite, fa.suite)
	fmt.Fprintf(&b, "Date: %s\n", testNow.Add(-2*time.Hour).Format("Mon, 02 Jan 2006 15:04:05 MST"))
	if !fa.validUntil.IsZero() {
		fmt.Fprintf(&b, "Valid-Until: %s\n", fa.validUntil.Format("Mon, 02 Jan 2006 15:04:05 MST"))
	}
	if fa.byHash {
		b.WriteString("Acquire-By-Hash: yes\n")
	}
	fmt.Fprintf(&b, "Architectures: %s\nComponents: main\nDescription: test archive\nSHA256:\n", fa.arch)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, " %s %8d %s\n", sha256Hex(files[n]), len(files[n]), n)
	}
	return b.String()
}

// publish (re)builds the index files and the signed InRelease.
func (fa *fakeArchive) publish() {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	pk := []byte(fa.packagesText())
	dir := "main/binary-" + fa.arch + "/"
	idx := map[string][]byte{
		dir + "Packages":    pk,
		dir + "Packages.xz": compress(fa.t, ".xz", pk),
		dir + "Packages.gz": compress(fa.t, ".gz", pk),
	}
	fa.files = map[string][]byte{}
	base := "/debian/dists/" + fa.suite + "/"
	for n, b := range idx {
		if strings.HasSuffix(n, "/Packages") {
			continue // like Debian: listed in the Release, not served
		}
		fa.files[base+n] = b
		if fa.byHash {
			fa.files[base+dir+"by-hash/SHA256/"+sha256Hex(b)] = b
		}
	}
	rel := fa.releaseText(idx)
	fa.files[base+"Release"] = []byte(rel)
	fa.files[base+"InRelease"] = clearsignText(fa.t, fa.key, rel)
	for p, b := range fa.debs {
		fa.files["/debian/"+p] = b
	}
}

// set replaces what a URL path serves.
func (fa *fakeArchive) set(path string, data []byte) {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	fa.override[path] = data
}

// get returns what a URL path serves.
func (fa *fakeArchive) get(path string) []byte {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	if b, ok := fa.override[path]; ok {
		return b
	}
	return fa.files[path]
}

// paths lists served URL paths with the given prefix.
func (fa *fakeArchive) paths(prefix string) []string {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	var out []string
	for p := range fa.files {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// hitCount returns how many requests a path got.
func (fa *fakeArchive) hitCount(path string) int {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	return fa.hits[path]
}

// serve implements the HTTP side.
func (fa *fakeArchive) serve(w http.ResponseWriter, r *http.Request) {
	fa.mu.Lock()
	fa.hits[r.URL.Path]++
	if fa.fail[r.URL.Path] > 0 {
		fa.fail[r.URL.Path]--
		fa.mu.Unlock()
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	b, ok := fa.override[r.URL.Path]
	if !ok {
		b, ok = fa.files[r.URL.Path]
	}
	fa.mu.Unlock()
	if !ok || b == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.Write(b)
}
