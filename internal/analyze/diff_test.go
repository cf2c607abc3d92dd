package analyze

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestDiff(t *testing.T) {
	status := func(version string) string {
		return "Package: tool\nStatus: install ok installed\nVersion: " + version + "\nArchitecture: amd64\n"
	}
	a := imageOf(t, v1.Config{},
		[]tf{
			dir("/bin"), exe("/bin/sh", 100),
			file("/etc/config", "one"),
			file("/etc/same", "same"),
			file("/etc/chmod", "x"),
			file("/etc/chown", "x"),
			file("/etc/retyped", "was a file"),
			symlink("/etc/link", "config"),
			sized("/removed", 50),
			file("/var/lib/dpkg/status", status("1.0")),
			file("/var/lib/dpkg/info/tool.list", "/usr/bin/tool\n"),
			exe("/usr/bin/tool", 10),
		},
	)
	b := imageOf(t, v1.Config{User: "65532"},
		[]tf{
			file("/etc/config", "two"), // same size, other content
			file("/etc/same", "same"),
			withMode(file("/etc/chmod", "x"), 0o600),
			withOwner(file("/etc/chown", "x"), 1, 1),
			dir("/etc/retyped"),
			symlink("/etc/link", "same"),
			sized("/added", 70),
			file("/var/lib/dpkg/status", status("2.0")),
			file("/var/lib/dpkg/info/tool.list", "/usr/bin/tool\n"),
			exe("/usr/bin/tool", 12),
			file("/etc/passwd", "nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"),
		},
	)
	d, err := Diff(context.Background(), a, b, "a:1", "b:1")
	if err != nil {
		t.Fatal(err)
	}
	paths := func(fcs []FileChange) []string {
		var out []string
		for _, fc := range fcs {
			out = append(out, fc.Path)
		}
		return out
	}
	if diff := cmp.Diff([]string{"/added", "/etc/passwd"}, paths(d.Added)); diff != "" {
		t.Errorf("added (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/bin", "/bin/sh", "/removed"}, paths(d.Removed)); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	wantChanged := []FileChange{
		{Path: "/etc/chmod", Type: "file", SizeA: 1, SizeB: 1, Changes: []string{"mode"}},
		{Path: "/etc/chown", Type: "file", SizeA: 1, SizeB: 1, Changes: []string{"owner"}},
		{Path: "/etc/config", Type: "file", SizeA: 3, SizeB: 3, Changes: []string{"content"}},
		{Path: "/etc/link", Type: "symlink", Changes: []string{"link"}},
		{Path: "/etc/retyped", Type: "directory", SizeA: 10, Changes: []string{"type"}},
		{Path: "/usr/bin/tool", Type: "file", SizeA: 10, SizeB: 12, Changes: []string{"size", "content"}},
		{Path: "/var/lib/dpkg/status", Type: "file", SizeA: int64(len(status("1.0"))), SizeB: int64(len(status("2.0"))), Changes: []string{"content"}},
	}
	if diff := cmp.Diff(wantChanged, d.Changed); diff != "" {
		t.Errorf("changed (-want +got):\n%s", diff)
	}
	wantPkgs := PackageDelta{Added: []Package{}, Removed: []Package{}, Changed: []PackageChange{
		{Name: "tool", Type: "deb", VersionA: "1.0", VersionB: "2.0", BytesA: 10, BytesB: 12},
	}}
	if diff := cmp.Diff(wantPkgs, d.Packages); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	var removedRules, addedRules []string
	for _, f := range d.Findings.Removed {
		removedRules = append(removedRules, f.Rule+" "+f.Path)
	}
	for _, f := range d.Findings.Added {
		addedRules = append(addedRules, f.Rule+" "+f.Path)
	}
	if diff := cmp.Diff([]string{"root config:User", "shell /bin/sh"}, removedRules); diff != "" {
		t.Errorf("removed findings (-want +got):\n%s", diff)
	}
	if len(addedRules) != 0 {
		t.Errorf("added findings: %v", addedRules)
	}
	if d.TotalFileBytesDelta != d.B.TotalFileBytes-d.A.TotalFileBytes || d.A.Image.Ref != "a:1" || d.B.Image.Ref != "b:1" {
		t.Errorf("summary: %+v", d)
	}

	var text, js bytes.Buffer
	if err := WriteDiffText(&text, d, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Diff a:1 → b:1", "Added: 2 paths", "Removed: 3 paths, -150 B", "/etc/config (content)", "tool", "1.0 → 2.0", "shell"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("diff text lacks %q:\n%s", want, text.String())
		}
	}
	if err := WriteDiffJSON(&js, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"schemaVersion": 1`) || !strings.Contains(js.String(), `"changes": [`) {
		t.Errorf("diff JSON:\n%s", js.String())
	}

	// An image compared with itself has no differences.
	same, err := Diff(context.Background(), a, a, "a", "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(same.Added)+len(same.Removed)+len(same.Changed)+len(same.Packages.Changed)+len(same.Findings.Added) != 0 || same.TotalFileBytesDelta != 0 {
		t.Errorf("self diff not empty: %+v", same)
	}
}
