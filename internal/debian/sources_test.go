package debian

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseSourcesList(t *testing.T) {
	in := `# comment
deb http://archive.example/debian bookworm main contrib
deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/a.gpg] http://archive.example/debian bookworm-updates main # trailing
deb [ trusted=yes arch=amd64 ] https://security.example/debian-security bookworm-security main
deb-src http://archive.example/debian bookworm main

deb [signed-by=/k.gpg]http://bad.example/ x
`
	_, err := ParseSourcesList("sources.list", strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), "sources.list:7") {
		t.Fatalf("err = %v, want a line-7 error", err)
	}
	in = strings.Replace(in, "deb [signed-by=/k.gpg]http://bad.example/ x\n", "", 1)
	got, err := ParseSourcesList("sources.list", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{Types: []string{"deb"}, URIs: []string{"http://archive.example/debian"}, Suites: []string{"bookworm"}, Components: []string{"main", "contrib"}, Origin: "sources.list:2"},
		{Types: []string{"deb"}, URIs: []string{"http://archive.example/debian"}, Suites: []string{"bookworm-updates"}, Components: []string{"main"}, Architectures: []string{"amd64", "arm64"}, SignedBy: "/usr/share/keyrings/a.gpg", Origin: "sources.list:3"},
		{Types: []string{"deb"}, URIs: []string{"https://security.example/debian-security"}, Suites: []string{"bookworm-security"}, Components: []string{"main"}, Architectures: []string{"amd64"}, Origin: "sources.list:4"},
		{Types: []string{"deb-src"}, URIs: []string{"http://archive.example/debian"}, Suites: []string{"bookworm"}, Components: []string{"main"}, Origin: "sources.list:5"},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
	for _, bad := range []string{"deb [arch=amd64 http://x/ y main", "rpm http://x/ y", "deb http://x/", "deb [arch] http://x/ y main"} {
		if _, err := ParseSourcesList("s", strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseSourcesDeb822(t *testing.T) {
	in := `Types: deb deb-src
URIs: http://archive.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

# disabled
Types: deb
URIs: http://old.example/debian
Suites: buster
Components: main
Enabled: no

Types: deb
URIs: http://local.example/repo
Suites: stable
Components: main
Architectures: arm64
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZ...
 -----END PGP PUBLIC KEY BLOCK-----
`
	got, err := ParseSourcesDeb822("debian.sources", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d sources, want 2 (one disabled)", len(got))
	}
	if diff := cmp.Diff(Source{
		Types: []string{"deb", "deb-src"}, URIs: []string{"http://archive.example/debian"},
		Suites: []string{"bookworm", "bookworm-updates"}, Components: []string{"main"},
		SignedBy: "/usr/share/keyrings/debian-archive-keyring.gpg", Origin: "debian.sources:1",
	}, got[0], cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
	if got[1].Origin != "debian.sources:14" || got[1].Architectures[0] != "arm64" {
		t.Fatalf("second = %+v", got[1])
	}
	if want := "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ...\n-----END PGP PUBLIC KEY BLOCK-----"; got[1].SignedBy != want {
		t.Fatalf("inline key = %q, want %q", got[1].SignedBy, want)
	}
	if _, err := ParseSourcesDeb822("x.sources", strings.NewReader("Types: deb\nSuites: x\n")); err == nil || !strings.Contains(err.Error(), "x.sources:1") {
		t.Fatalf("missing URIs: err = %v", err)
	}
	if _, err := ParseSourcesDeb822("x.sources", strings.NewReader("Types: deb\nno colon here\n")); err == nil || !strings.Contains(err.Error(), "x.sources:1") {
		t.Fatalf("bad line: err = %v", err)
	}
}

// writeFile writes a file under root, creating directories.
func writeFile(t *testing.T, root, name string, data []byte) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRepositoriesFromHostRoot(t *testing.T) {
	root := t.TempDir()
	archiveKey := testKey(t, "archive")
	securityKey := testKey(t, "security")
	defaultKey := testKey(t, "default")
	var bin, arm bytes.Buffer
	archiveKey.Serialize(&bin)
	w, _ := armor.Encode(&arm, "PGP PUBLIC KEY BLOCK", nil)
	securityKey.Serialize(w)
	w.Close()
	var def bytes.Buffer
	defaultKey.Serialize(&def)

	writeFile(t, root, "usr/share/keyrings/archive.gpg", bin.Bytes())
	writeFile(t, root, "etc/apt/trusted.gpg.d/default.gpg", def.Bytes())
	writeFile(t, root, "etc/apt/sources.list", []byte("deb [signed-by=/usr/share/keyrings/archive.gpg] http://mirror.example/debian/ bookworm main\n"))
	inline := foldField("Signed-By", strings.TrimSpace(arm.String()))
	writeFile(t, root, "etc/apt/sources.list.d/security.sources", []byte("Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n"+inline))
	writeFile(t, root, "etc/apt/sources.list.d/updates.list", []byte("deb http://mirror.example/debian bookworm-updates main contrib\n"))
	writeFile(t, root, "etc/apt/sources.list.d/ignored.list.disabled", []byte("deb http://evil.example/ bookworm main\n"))

	repos, err := Repositories(RepositoryConfig{Root: root, Dist: "bookworm"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range repos {
		got = append(got, r.String()+" "+strings.Join(r.Components, ","))
	}
	want := []string{
		"http://mirror.example/debian bookworm main",
		"http://mirror.example/debian bookworm-updates main,contrib",
		"http://security.example/debian-security bookworm-security main",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
	keyOf := func(r Repository) uint64 { return r.Keyring[0].PrimaryKey.KeyId }
	if keyOf(repos[0]) != archiveKey.PrimaryKey.KeyId {
		t.Error("bookworm is not signed-by the archive key file")
	}
	if keyOf(repos[1]) != defaultKey.PrimaryKey.KeyId {
		t.Error("bookworm-updates (no Signed-By) does not use trusted.gpg.d")
	}
	if keyOf(repos[2]) != securityKey.PrimaryKey.KeyId {
		t.Error("bookworm-security does not use its inline key")
	}

	// A keyring override replaces every Signed-By.
	over := filepath.Join(t.TempDir(), "over.asc")
	os.WriteFile(over, arm.Bytes(), 0o644)
	repos, err = Repositories(RepositoryConfig{Root: root, Dist: "bookworm", Keyring: over})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range repos {
		if keyOf(r) != securityKey.PrimaryKey.KeyId {
			t.Errorf("%s: keyring override not applied", r)
		}
	}

	// A mirror replaces the host sources.
	repos, err = Repositories(RepositoryConfig{Root: root, Dist: "trixie", Mirror: "http://127.0.0.1:9/debian/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(repos) != 1 || repos[0].String() != "http://127.0.0.1:9/debian trixie" || keyOf(repos[0]) != defaultKey.PrimaryKey.KeyId {
		t.Fatalf("mirror repos = %+v", repos)
	}

	// A distribution the host does not configure is a clear error.
	if _, err := Repositories(RepositoryConfig{Root: root, Dist: "trixie"}); err == nil || !strings.Contains(err.Error(), `no "deb" entry for suite trixie`) {
		t.Fatalf("err = %v", err)
	}
	// A fingerprint Signed-By looks in the trusted keys.
	fp := strings.ToUpper(hexOf(defaultKey.PrimaryKey.Fingerprint))
	writeFile(t, root, "etc/apt/sources.list", []byte("deb [signed-by="+fp+"] http://mirror.example/debian bookworm main\n"))
	repos, err = Repositories(RepositoryConfig{Root: root, Dist: "bookworm", Suites: []string{"bookworm"}})
	if err != nil {
		t.Fatal(err)
	}
	if keyOf(repos[0]) != defaultKey.PrimaryKey.KeyId {
		t.Fatal("fingerprint Signed-By did not select the trusted key")
	}
}

func TestReadSourcesEmptyRoot(t *testing.T) {
	if _, err := ReadSources(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no apt sources") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseKeyringRefusesGarbage(t *testing.T) {
	for _, in := range []string{"", "not a key", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n"} {
		if _, err := ParseKeyring("k", []byte(in)); err == nil {
			t.Errorf("ParseKeyring(%q): no error", in)
		}
	}
}

// foldField writes a multi-line deb822 field: continuation lines start
// with a space and empty lines are " .".
func foldField(name, value string) string {
	s := name + ":\n"
	for _, line := range strings.Split(value, "\n") {
		if line == "" {
			line = "."
		}
		s += " " + line + "\n"
	}
	return s
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }
