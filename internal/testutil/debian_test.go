package testutil

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestDebianImage(t *testing.T) {
	tests := []struct {
		variant string
		want    []string // paths the rootfs must have
		full    bool     // validate every blob (reads and unzips the whole layer)
	}{
		{"minbase", []string{"usr/bin/bash", "usr/bin/apt-get", "etc/debian_version", "bin"}, true},
		{"golang", []string{"usr/bin/go", "etc/ssl/certs/ca-certificates.crt"}, false},
		{"python", []string{"usr/bin/python3", "usr/bin/pip3", "usr/lib/python3.11/venv"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			path := DebianRootfsTar(t, tt.variant)
			img := DebianImage(t, tt.variant)
			again := DebianImage(t, tt.variant)
			d1, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if d2, _ := again.Digest(); d1 != d2 {
				t.Errorf("digest changed between two calls: %s, %s", d1, d2)
			}
			layers, err := img.Layers()
			if err != nil || len(layers) != 1 {
				t.Fatalf("layers: %d, %v", len(layers), err)
			}
			if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
				t.Errorf("layer media type %s", mt)
			}
			// The diffID is the tarball's own digest, and the paths are there.
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h := sha256.New()
			seen := map[string]bool{}
			r := io.TeeReader(f, h)
			tr := tar.NewReader(r)
			for {
				hdr, err := tr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock {
					t.Errorf("device node %s in the rootfs tarball", hdr.Name)
				}
				seen[strings.TrimSuffix(strings.TrimPrefix(hdr.Name, "./"), "/")] = true
			}
			if _, err := io.Copy(io.Discard, r); err != nil { // tar padding past the end marker
				t.Fatal(err)
			}
			if diff, _ := layers[0].DiffID(); diff.Hex != hex.EncodeToString(h.Sum(nil)) {
				t.Errorf("diffID %s is not the tarball's sha256", diff)
			}
			for _, p := range tt.want {
				if !seen[p] {
					t.Errorf("%s missing from the %s rootfs", p, tt.variant)
				}
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(cf.Config.Cmd, " ") != "bash" || cf.Config.Env[0] != "PATH="+DefaultPath {
				t.Errorf("config %+v", cf.Config)
			}
			if tt.full {
				if err := validate.Image(img); err != nil {
					t.Errorf("validate.Image: %v", err)
				}
			} else if err := validate.Image(img, validate.Fast); err != nil {
				t.Errorf("validate.Image (fast): %v", err)
			}
		})
	}
}

func TestDebianRootfsTarMissing(t *testing.T) {
	t.Setenv("WHITTLE_TEST_CACHE", t.TempDir())
	t.Setenv("CI", "")
	r := &recordTB{TB: t}
	DebianRootfsTar(r, "minbase")
	if !r.skipped || !strings.Contains(r.msg, ".ci/fixtures minbase") {
		t.Errorf("skipped=%v %q, want a skip that says to run .ci/fixtures", r.skipped, r.msg)
	}
}
