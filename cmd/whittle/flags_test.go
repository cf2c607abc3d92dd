package main

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/whittle-build/whittle/internal/step"
)

// TestBaseBadFlags: whittle base refuses a bad --progress or -t as whittle
// build does, with the same message, before it opens the store or asks the
// Debian mirror for anything.
func TestBaseBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"progress", []string{"--progress", "bogus"}, `^--progress=bogus: want auto, plain, tty, json or quiet$`},
		{"tag", []string{"-t", "ok:1", "-t", "Bad:Name"}, `^-t Bad:Name: parsing image name "Bad:Name": .* \(a name is \[registry/\]repository\[:tag\], lower case\)$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int64
			mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				http.NotFound(w, r)
			}))
			defer mirror.Close()
			root := filepath.Join(t.TempDir(), "root")
			want := regexp.MustCompile(tc.want)
			var msgs []string
			for _, args := range [][]string{
				append([]string{"--root", root, "base", "static", "--mirror", mirror.URL}, tc.args...),
				append([]string{"--root", root, "build", t.TempDir()}, tc.args...),
			} {
				err := whittleCmd(t, args...)
				if err == nil || !want.MatchString(err.Error()) {
					t.Errorf("whittle %q: %v, want an error matching %s", args, err, want)
				}
				msgs = append(msgs, fmt.Sprint(err))
			}
			if msgs[0] != msgs[1] {
				t.Errorf("base says %q, build %q", msgs[0], msgs[1])
			}
			if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the store at %s was opened (stat: %v)", root, err)
			}
			if n := requests.Load(); n > 0 {
				t.Errorf("the mirror was asked %d times", n)
			}
		})
	}
}

// TestRegistryFlags: every command that talks to registries has
// --insecure-registry and --registry-ca, with the same type, default and help.
func TestRegistryFlags(t *testing.T) {
	type flag struct{ typ, def, usage string }
	want := map[string]flag{
		"insecure-registry": {"stringArray", "[]", "a registry that may be reached over plain HTTP; repeatable"},
		"registry-ca":       {"string", "", "a PEM file of extra CA certificates for registries"},
	}
	root := newRoot()
	for _, name := range []string{"build", "base", "push", "login", "analyze", "diff", "inspect"} {
		cmd, _, err := root.Find([]string{name})
		if err != nil || cmd.Name() != name {
			t.Fatalf("finding whittle %s: %v", name, err)
		}
		for fname, w := range want {
			f := cmd.Flags().Lookup(fname)
			if f == nil {
				t.Errorf("whittle %s has no --%s", name, fname)
				continue
			}
			if got := (flag{f.Value.Type(), f.DefValue, f.Usage}); got != w {
				t.Errorf("whittle %s --%s is %+v, want %+v", name, fname, got, w)
			}
		}
	}
}

// TestBuildDockerFlags: --label, --annotation, --add-host, --no-cache-filter, --allow,
// --load, --provenance/--sbom=false, --network=default, --shm-size, --ulimit and
// --metadata-file reach the build's options as docker build reads them, and
// bad values are refused before anything is opened.
func TestBuildDockerFlags(t *testing.T) {
	f := &buildFlags{
		network: "host", progress: "auto", compression: "gzip", metadataFile: "md.json",
		labels:        []string{"a=1", "b", "c=x=y"},
		annotations:   []string{"org.opencontainers.image.source=https://example.com/app", "manifest:m=1", "com.example:colon=2", "index:i=3", "manifest[linux/arm64]:p=4"},
		hosts:         []string{"db:10.0.0.7", "gw=host-gateway"},
		noCacheFilter: []string{"deps, build", "test"},
		allow:         []string{"network.host", "security.insecure"},
		provenance:    "false",
		shmSize:       "1g",
		ulimits:       []string{"nofile=1024:4096"},
		sbom:          "0",
		attest:        []string{"type=provenance,disabled=true", "type=sbom,disabled=true,generator=x"},
		load:          true,
		push:          true,
	}
	o, err := f.options(".")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"a": "1", "b": "", "c": "x=y"}; !maps.Equal(o.Labels, want) {
		t.Errorf("labels = %v, want %v", o.Labels, want)
	}
	if want := map[string]string{"org.opencontainers.image.source": "https://example.com/app", "m": "1", "com.example:colon": "2"}; !maps.Equal(o.Annotations, want) {
		t.Errorf("annotations = %v, want %v", o.Annotations, want)
	}
	if !maps.Equal(o.IndexAnnotations, map[string]string{"i": "3"}) || len(o.PlatformAnnotations) != 1 || !maps.Equal(o.PlatformAnnotations["linux/arm64"], map[string]string{"p": "4"}) {
		t.Errorf("index annotations %v, per platform %v", o.IndexAnnotations, o.PlatformAnnotations)
	}
	var hosts []string
	for _, h := range o.Hosts {
		hosts = append(hosts, h.Line())
	}
	if want := []string{"10.0.0.7\tdb", "127.0.0.1\tgw"}; !slices.Equal(hosts, want) {
		t.Errorf("hosts = %q, want %q", hosts, want)
	}
	if want := []string{"deps", "build", "test"}; !slices.Equal(o.NoCacheFilter, want) {
		t.Errorf("no-cache-filter = %q, want %q", o.NoCacheFilter, want)
	}
	if o.ShmSize != 1<<30 || len(o.Ulimits) != 1 || o.Ulimits[0] != (step.Ulimit{Name: "nofile", Soft: 1024, Hard: 4096}) {
		t.Errorf("--shm-size 1g --ulimit nofile=1024:4096: %d, %+v", o.ShmSize, o.Ulimits)
	}
	if !o.AllowInsecure {
		t.Errorf("--allow security.insecure did not allow it")
	}
	f.network = "default"
	if o, err := f.options("."); err != nil || o.Network != "host" {
		t.Errorf("--network=default: network %q, %v; want host", o.Network, err)
	}
	if len(o.Outputs) != 2 || o.Outputs[0].Type != "registry" || o.Outputs[1].Type != "image" {
		t.Errorf("--push --load: outputs %+v, want registry and image", o.Outputs)
	}
	if o.MetadataFile != "md.json" {
		t.Errorf("metadata file = %q", o.MetadataFile)
	}
	root := filepath.Join(t.TempDir(), "root")
	for _, tc := range []struct{ flag, value, want string }{
		{"--add-host", "db", `--add-host "db": want NAME:IP (or NAME=IP)`},
		{"--add-host", "db:nowhere", `--add-host "db:nowhere": "nowhere" is not an IP address`},
		{"--label", "=v", `--label "=v": want KEY=VALUE`},
		{"--annotation", "index-descriptor:k=v", `--annotation "index-descriptor:k=v": descriptor annotations are not supported (manifest: and index: are)`},
		{"--annotation", "index[linux/amd64]:k=v", `--annotation "index[linux/amd64]:k=v": want manifest[PLATFORM]:KEY=VALUE (an index has no platform)`},
		{"--annotation", "manifest[linux/amd64:k=v", `--annotation "manifest[linux/amd64:k=v": want manifest[PLATFORM]:KEY=VALUE (an index has no platform)`},
		{"--annotation", "novalue", `--annotation "novalue": want KEY=VALUE, manifest[PLATFORM]:KEY=VALUE or index:KEY=VALUE`},
		{"--provenance", "mode=max", `--provenance=mode=max: whittle makes no build attestations (provenance, SBOM); leave the flag out or give --provenance=false`},
		{"--attest", "type=provenance,mode=max", `--attest type=provenance,mode=max: whittle makes no build attestations (provenance, SBOM); leave the flag out or add disabled=true`},
		{"--sbom", "true", `--sbom=true: whittle makes no build attestations (provenance, SBOM); leave the flag out or give --sbom=false`},
		{"--network", "bridge", `--network=bridge: want host or none`},
		{"--shm-size", "lots", `--shm-size: "lots" is not a size (bytes, or a number with k, m, g or t)`},
		{"--ulimit", "nofile=9:1", "--ulimit \"nofile=9:1\": ulimit soft limit must be less than or equal to hard limit: 9 > 1 (want NAME=SOFT[:HARD], as docker's)"},
		{"--allow", "security.insecure,device", `--allow device: unknown entitlement (want security.insecure or network.host)`},
	} {
		err := whittleCmd(t, "--root", root, "build", tc.flag, tc.value, t.TempDir())
		if err == nil || err.Error() != tc.want {
			t.Errorf("whittle build %s %s: %v, want %q", tc.flag, tc.value, err, tc.want)
		}
	}
	if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the store at %s was opened (stat: %v)", root, err)
	}
}

// TestProxyBuildArgs: the proxies of the docker client configuration become
// build args, both spellings, unless --build-arg gives the name (docker's
// ParseProxyConfig).
func TestProxyBuildArgs(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"proxies": {"default": {"httpProxy": "http://proxy.corp:3128", "noProxy": "localhost,.corp"}}}`), 0o600)
	f := &buildFlags{network: "host", progress: "auto", compression: "gzip", buildArgs: []string{"HTTP_PROXY=http://mine:8080"}}
	o, err := f.options(".")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"HTTP_PROXY": "http://mine:8080", "http_proxy": "http://proxy.corp:3128", "NO_PROXY": "localhost,.corp", "no_proxy": "localhost,.corp"}
	if !maps.Equal(o.BuildArgs, want) {
		t.Errorf("build args %v, want %v", o.BuildArgs, want)
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no config.json: nothing added
	if o, err := f.options("."); err != nil || len(o.BuildArgs) != 1 {
		t.Errorf("without a config: %v, %v", o.BuildArgs, err)
	}
}
