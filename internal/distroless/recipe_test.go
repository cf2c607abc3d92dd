package distroless

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRecipe(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, err string
		check           func(t *testing.T, r *Recipe)
	}{
		{name: "full", yaml: `
name: app
base: static
packages: [libsqlite3-0, "tzdata (>= 2024a)"]
prune: [debconf]
only: {libc-bin: [/usr/lib/locale/C.utf8]}
mergedUsr: true
users: [{name: app, uid: 1000, gid: 1000, home: /srv/app, shell: /bin/false, gecos: App}]
groups: [{name: app, gid: 1000, members: [app]}]
dirs: [{path: /data, mode: "0750", uid: 1000}]
files:
  - {path: /etc/a, content: "x\n", mode: 0o600}
  - {path: /etc/b, source: b.txt, mode: 755}
links: [{path: /usr/bin/python, target: python3.11}]
env: {LANG: C.UTF-8}
entrypoint: [/app]
cmd: []
user: app
workdir: /srv/app
labels: {org.opencontainers.image.title: app}
timezone: Europe/Paris
`, check: func(t *testing.T, r *Recipe) {
			if r.Name != "app" || r.Base != "static" || len(r.Packages) != 2 || r.Prune[0] != "debconf" {
				t.Errorf("%+v", r)
			}
			if r.Dirs[0].Mode != 0o750 || r.Files[0].Mode != 0o600 || r.Files[1].Mode != 0o755 {
				t.Errorf("modes %o %o %o", r.Dirs[0].Mode, r.Files[0].Mode, r.Files[1].Mode)
			}
			if r.MergedUsr == nil || !*r.MergedUsr || r.Cmd == nil || len(r.Cmd) != 0 {
				t.Errorf("mergedUsr %v cmd %#v", r.MergedUsr, r.Cmd)
			}
			if r.Only["libc-bin"][0] != "/usr/lib/locale/C.utf8" {
				t.Errorf("only %v", r.Only)
			}
		}},
		{name: "name from file", yaml: "packages: [hello]\n", check: func(t *testing.T, r *Recipe) {
			if r.Name != "recipe" {
				t.Errorf("name %q", r.Name)
			}
		}},
		{name: "unknown field", yaml: "packagez: [x]\n", err: "field packagez not found"},
		{name: "empty", yaml: "", err: "the file is empty"},
		{name: "bad mode", yaml: "files: [{path: /a, mode: rw}]\n", err: `mode "rw"`},
		{name: "mode too big", yaml: "files: [{path: /a, mode: \"17777\"}]\n", err: "up to 7777"},
		{name: "content and source", yaml: "files: [{path: /a, content: x, source: y}]\n", err: "either content or source"},
		{name: "relative path", yaml: "files: [{path: etc/a}]\n", err: "not a clean absolute path"},
		{name: "unclean path", yaml: "links: [{path: /etc/../a, target: b}]\n", err: "not a clean absolute path"},
		{name: "empty link", yaml: "links: [{path: /a}]\n", err: "target is empty"},
		{name: "shared uid", yaml: "users: [{name: a, uid: 1}, {name: b, uid: 1}]\n", err: "share uid 1"},
		{name: "bad user", yaml: "users: [{name: 'A B', uid: 1}]\n", err: "not a valid user name"},
		{name: "bad gecos", yaml: "users: [{name: a, uid: 1, gecos: 'a:b'}]\n", err: "gecos"},
		{name: "shared gid", yaml: "groups: [{name: a, gid: 1}, {name: b, gid: 1}]\n", err: "share gid 1"},
		{name: "bad env", yaml: "env: {'A-B': x}\n", err: "not a valid variable name"},
		{name: "relative workdir", yaml: "workdir: app\n", err: "not an absolute path"},
		{name: "bad prune", yaml: "prune: ['Foo Bar']\n", err: "not a package name"},
		{name: "bad name", yaml: "name: 'a/b'\n", err: "name \"a/b\""},
		{name: "bad timezone", yaml: "timezone: ../etc/passwd\n", err: "timezone"},
		{name: "line numbers", yaml: "name: x\nusers:\n  - {name: a, uid: nope}\n", err: "line 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRecipe("dir/recipe.yaml", []byte(tc.yaml), "/recipes")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if !strings.Contains(err.Error(), "recipe.yaml") {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
}

func TestBuiltins(t *testing.T) {
	for _, suite := range SuiteNames() {
		s, _ := LookupSuite(suite)
		for _, name := range BuiltinNames() {
			t.Run(suite+"/"+name, func(t *testing.T) {
				r, err := Builtin(name, s)
				if err != nil {
					t.Fatal(err)
				}
				if r.Name != name {
					t.Errorf("name %q", r.Name)
				}
				for _, p := range r.Packages {
					if slices.Contains(r.Prune, requestName(p)) {
						t.Errorf("%s is both requested and pruned", p)
					}
				}
				if err := r.validate(); err != nil {
					t.Error(err)
				}
			})
		}
	}
	bookworm, _ := LookupSuite("bookworm")
	trixie, _ := LookupSuite("debian13")
	for _, tc := range []struct {
		suite              Suite
		recipe             string
		wantPkgs, wantGone []string
		check              func(t *testing.T, r *Recipe)
	}{
		{bookworm, "static", []string{"base-files", "netbase", "tzdata", "media-types", "ca-certificates"}, nil, func(t *testing.T, r *Recipe) {
			if len(r.Users) != 3 || r.Env["SSL_CERT_FILE"] != CABundle || r.User != "0" {
				t.Errorf("%+v", r)
			}
		}},
		{bookworm, "base-nossl", []string{"libc6"}, []string{"libssl3"}, func(t *testing.T, r *Recipe) {
			if !slices.Contains(r.Prune, "libgcc-s1") {
				t.Errorf("base-nossl does not prune libgcc-s1: %v", r.Prune)
			}
		}},
		{bookworm, "base", []string{"libc6", "libssl3"}, nil, nil},
		{trixie, "base", []string{"libc6", "libssl3t64"}, []string{"libssl3"}, nil},
		{bookworm, "cc", []string{"libgcc-s1", "libgomp1", "libstdc++6", "gcc-12-base"}, nil, func(t *testing.T, r *Recipe) {
			if slices.Contains(r.Prune, "libgcc-s1") {
				t.Error("cc still prunes libgcc-s1")
			}
		}},
		{bookworm, "python3", []string{"python3.11-minimal", "libpython3.11-stdlib", "python3-distutils", "libssl3"}, nil, func(t *testing.T, r *Recipe) {
			if r.Entrypoint[0] != "/usr/bin/python3.11" || len(r.Links) != 2 || r.Env["LANG"] != "C.UTF-8" {
				t.Errorf("%+v", r)
			}
		}},
		{trixie, "python3", []string{"python3.13-minimal", "libpython3.13-stdlib"}, []string{"python3-distutils"}, nil},
		{bookworm, "java", []string{"openjdk-17-jre-headless", "ca-certificates-java", "libc6", "libc-bin"}, []string{"libssl3"}, func(t *testing.T, r *Recipe) {
			if len(r.Only["libc-bin"]) != 1 || r.Entrypoint[0] != "/usr/bin/java" {
				t.Errorf("%+v", r)
			}
		}},
		{trixie, "java", []string{"openjdk-21-jre-headless"}, nil, nil},
		{bookworm, "debian", []string{"apt", "usr-is-merged"}, []string{"base-files"}, func(t *testing.T, r *Recipe) {
			if !r.Bootstrap() || r.MergedUsr == nil || !*r.MergedUsr || len(r.Users) != 0 {
				t.Errorf("%+v", r)
			}
		}},
	} {
		t.Run("content/"+tc.suite.Name+"/"+tc.recipe, func(t *testing.T) {
			r, err := Builtin(tc.recipe, tc.suite)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.wantPkgs {
				if !slices.Contains(r.Packages, p) {
					t.Errorf("lacks %s: %v", p, r.Packages)
				}
			}
			for _, p := range tc.wantGone {
				if slices.Contains(r.Packages, p) {
					t.Errorf("has %s: %v", p, r.Packages)
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
	if _, err := Builtin("distroless", bookworm); err == nil || !strings.Contains(err.Error(), "unknown recipe") {
		t.Errorf("err = %v", err)
	}
}

func TestFlattenRecipeFile(t *testing.T) {
	s, _ := LookupSuite("bookworm")
	r, err := ParseRecipe("r.yaml", []byte(`
base: base
packages: [libgcc-s1]
users: [{name: nonroot, uid: 65532, gid: 65532, home: /app}]
files: [{path: /etc/x, source: x.txt}, {path: /etc/nsswitch.conf, content: "hosts: files\n"}]
env: {PATH: /app/bin, EXTRA: "1"}
user: "65532"
`), "/recipes")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Flatten(r, s)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(f.Packages, "libssl3") || !slices.Contains(f.Packages, "libgcc-s1") || slices.Contains(f.Prune, "libgcc-s1") {
		t.Errorf("packages %v prune %v", f.Packages, f.Prune)
	}
	var homes []string
	for _, u := range f.Users {
		homes = append(homes, u.Name+"="+u.Home)
	}
	if diff := cmp.Diff([]string{"root=/root", "nobody=/nonexistent", "nonroot=/app"}, homes); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	files := map[string]File{}
	for _, fl := range f.Files {
		files[fl.Path] = fl
	}
	if files["/etc/x"].Source != filepath.Join("/recipes", "x.txt") || files["/etc/nsswitch.conf"].Content != "hosts: files\n" || len(f.Files) != 2 {
		t.Errorf("files %+v", f.Files)
	}
	if f.Env["PATH"] != "/app/bin" || f.Env["EXTRA"] != "1" || f.Env["SSL_CERT_FILE"] != CABundle || f.User != "65532" || f.Workdir != "/" {
		t.Errorf("env %v user %q workdir %q", f.Env, f.User, f.Workdir)
	}
	if _, err := Flatten(&Recipe{Name: "x", Base: "nope"}, s); err == nil {
		t.Error("an unknown base was accepted")
	}

	// Without a base: relative sources are read next to the recipe, and
	// the caller's recipe stays as parsed, however often it is flattened.
	plain, err := ParseRecipe("p.yaml", []byte("packages: [base-files]\nfiles: [{path: /etc/y, source: y.txt}]\n"), "rel")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		f, err := Flatten(plain, s)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Files[0].Source; got != filepath.Join("rel", "y.txt") {
			t.Errorf("flattened source %q, want %q", got, filepath.Join("rel", "y.txt"))
		}
	}
	if plain.Files[0].Source != "y.txt" {
		t.Errorf("Flatten changed its argument: source %q", plain.Files[0].Source)
	}

	// A user that takes the base's nonroot uid under another name.
	clash, err := ParseRecipe("c.yaml", []byte("base: static\nusers: [{name: app, uid: 65532, gid: 65532}]\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Flatten(clash, s); err == nil || !strings.Contains(err.Error(), "65532") {
		t.Errorf("a user sharing the base's uid 65532: err = %v, want one naming the uid", err)
	}
}

func TestLookupSuite(t *testing.T) {
	for in, want := range map[string]string{"bookworm": "bookworm", "12": "bookworm", "debian12": "bookworm", "Trixie": "trixie", "13": "trixie"} {
		s, err := LookupSuite(in)
		if err != nil || s.Name != want {
			t.Errorf("LookupSuite(%q) = %v, %v", in, s.Name, err)
		}
	}
	if _, err := LookupSuite("sid"); err == nil {
		t.Error("sid accepted")
	}
}

func TestDefaultName(t *testing.T) {
	s, _ := LookupSuite("bookworm")
	tr, _ := LookupSuite("trixie")
	other := "arm64"
	if HostArch() == "arm64" {
		other = "amd64"
	}
	for _, tc := range []struct {
		recipe string
		suite  Suite
		o      Options
		want   string
	}{
		{"static", s, Options{}, "distroless/static-debian12:latest"},
		{"base", s, Options{NonRoot: true}, "distroless/base-debian12:nonroot"},
		{"cc", s, Options{Debug: true}, "distroless/cc-debian12:debug"},
		{"python3", tr, Options{Debug: true, NonRoot: true}, "distroless/python3-debian13:debug-nonroot"},
		{"java", s, Options{}, "distroless/java17-debian12:latest"},
		{"java", tr, Options{}, "distroless/java21-debian13:latest"},
		{"static", s, Options{Arch: other}, "distroless/static-debian12:latest-" + other},
		{"debian", s, Options{}, "debian:bookworm"},
	} {
		r, _ := Builtin(tc.recipe, tc.suite)
		if got := DefaultName(r, tc.suite, tc.o); got != tc.want {
			t.Errorf("%s %+v: %s, want %s", tc.recipe, tc.o, got, tc.want)
		}
	}
	r, _ := ParseRecipe("app.yaml", []byte("base: static\n"), "")
	if got := DefaultName(r, s, Options{NonRoot: true}); got != "app-debian12:nonroot" {
		t.Errorf("recipe file: %s", got)
	}
}
