package testutil

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func TestWriteOCILayout(t *testing.T) {
	img, err := NewBusyboxImage([]byte("not really busybox\n"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	WriteOCILayout(t, img, dir, "busybox:latest")
	WriteOCILayout(t, img, dir, "example.com/x/busybox:1") // a second name, same blobs

	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range m.Manifests {
		if d.Digest != want {
			t.Errorf("index entry %s, want %s", d.Digest, want)
		}
		names = append(names, d.Annotations[RefNameAnnotation])
	}
	if len(names) != 2 || names[0] != "busybox:latest" || names[1] != "example.com/x/busybox:1" {
		t.Errorf("ref names %q", names)
	}
	got, err := idx.Image(want)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); d != want {
		t.Errorf("read back %s, want %s", d, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		t.Errorf("no oci-layout file: %v", err)
	}

	// A reader that is not go-containerregistry.
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		Unavailable(t, "skopeo (apt-get install skopeo): %v", err)
		return
	}
	out, err := exec.Command(skopeo, "inspect", "oci:"+dir+":busybox:latest").Output()
	if err != nil {
		t.Fatalf("skopeo inspect: %v", err)
	}
	var info struct{ Digest string }
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	if info.Digest != want.String() {
		t.Errorf("skopeo sees %s, want %s", info.Digest, want)
	}
}
