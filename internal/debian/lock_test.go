package debian

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLockRoundTrip(t *testing.T) {
	ix := indexOf(t,
		stanzaOf("zlib1g 1:1.2.13.dfsg-1 amd64"),
		stanzaOf("app 1.0-1 amd64", "Depends: zlib1g (>= 1:1.2), base-files", "Source: appsrc (1.0-0.1)"),
		stanzaOf("base-files 12.4 amd64"),
	)
	ix.Sources = []IndexSource{{Suite: "test", Component: "main", Path: "main/binary-amd64/Packages.xz", SHA256: strings.Repeat("ab", 32), Size: 42, ReleaseDate: time.Date(2026, 7, 11, 10, 16, 37, 0, time.UTC)}}
	res, err := ix.Resolve([]string{"app"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lock := NewLock(ix, res)
	data, err := lock.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Stable: marshalling again, or after a round trip, gives the same bytes.
	again, _ := lock.Marshal()
	if !bytes.Equal(data, again) {
		t.Fatal("Marshal is not stable")
	}
	back, err := ReadLock(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(lock, back); diff != "" {
		t.Fatalf("round trip (-want +got)\n%s", diff)
	}
	path := filepath.Join(t.TempDir(), "base.lock")
	if err := back.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	onDisk, _ := os.ReadFile(path)
	if !bytes.Equal(onDisk, data) {
		t.Fatal("WriteFile wrote different bytes")
	}
	if _, err := ReadLockFile(path); err != nil {
		t.Fatal(err)
	}
	// Diffable: one field per line, packages sorted.
	text := string(data)
	for _, want := range []string{
		`"lockVersion": 1,`,
		`"suites": [` + "\n" + `    "test"`,
		`"releaseDate": "2026-07-11T10:16:37Z"`,
		`"name": "zlib1g",` + "\n" + `      "version": "1:1.2.13.dfsg-1",`,
		`"source": "appsrc (1.0-0.1)"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lock lacks %q:\n%s", want, text)
		}
	}
	if strings.Index(text, `"name": "app"`) > strings.Index(text, `"name": "base-files"`) {
		t.Error("packages are not sorted")
	}
	// Fetchable maps suites to repository URLs.
	pkgs, err := back.Fetchable([]Repository{{URL: "http://127.0.0.1:1/debian", Suite: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 3 || pkgs[2].DownloadURL() != "http://127.0.0.1:1/debian/pool/main/zlib1g_1:1.2.13.dfsg-1_amd64.deb" || pkgs[2].Version.Epoch != 1 {
		t.Fatalf("fetchable = %v / %s", pkgs, pkgs[2].DownloadURL())
	}
	if _, err := back.Fetchable([]Repository{{URL: "http://x", Suite: "other"}}); err == nil || !strings.Contains(err.Error(), "suite test") {
		t.Fatalf("unknown suite: err = %v", err)
	}
}

func TestReadLockRefusesBadLocks(t *testing.T) {
	good := `{"lockVersion":1,"architecture":"amd64","suites":["s"],"indexes":[],"packages":[
{"name":"aa","version":"1","architecture":"amd64","suite":"s","filename":"pool/aa.deb","size":1,"sha256":"` + strings.Repeat("0", 64) + `"}]}`
	if _, err := ReadLock(strings.NewReader(good)); err != nil {
		t.Fatalf("good lock: %v", err)
	}
	tests := map[string][2]string{
		"version":       {`"lockVersion":1`, `"lockVersion":2`},
		"unknown field": {`"size":1`, `"size":1,"sizee":2`},
		"bad name":      {`"name":"aa"`, `"name":"A"`},
		"bad version":   {`"version":"1"`, `"version":"x y"`},
		"escaping path": {`pool/aa.deb`, `../../etc/passwd`},
		"absolute path": {`pool/aa.deb`, `/pool/aa.deb`},
		"short sha":     {strings.Repeat("0", 64), "00"},
		"zero size":     {`"size":1`, `"size":0`},
		"no arch":       {`"architecture":"amd64","suites"`, `"architecture":"","suites"`},
		"not json":      {`{`, `[`},
	}
	for name, r := range tests {
		in := strings.Replace(good, r[0], r[1], 1)
		if in == good {
			t.Fatalf("%s: replacement did not apply", name)
		}
		if _, err := ReadLock(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	dup := strings.Replace(good, `}]}`, `},{"name":"aa","version":"2","architecture":"amd64","suite":"s","filename":"pool/aa2.deb","size":1,"sha256":"`+strings.Repeat("1", 64)+`"}]}`, 1)
	if _, err := ReadLock(strings.NewReader(dup)); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate: err = %v", err)
	}
}
