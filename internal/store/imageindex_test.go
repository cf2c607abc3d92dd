package store

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// platformImage stores a small random image and returns its descriptor
// with the platform linux/arch.
func platformImage(t *testing.T, s *Store, arch string) v1.Descriptor {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.WriteImage(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	d.Platform = &v1.Platform{OS: "linux", Architecture: arch}
	return d
}

func TestWriteIndex(t *testing.T) {
	s := open(t)
	descs := []v1.Descriptor{platformImage(t, s, "amd64"), platformImage(t, s, "arm64")}
	desc, err := s.WriteIndex(descs, nil)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := s.Index(desc)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 || im.Manifests[1].Platform.Architecture != "arm64" {
		t.Fatalf("index lists %+v", im.Manifests)
	}
	img, err := idx.Image(descs[1].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := img.Digest(); got != descs[1].Digest {
		t.Errorf("the arm64 entry reads as %s, want %s", got, descs[1].Digest)
	}
	if _, err := idx.Image(desc.Digest); err == nil {
		t.Error("an index handed out a manifest it does not list")
	}
	if _, err := s.Index(descs[0]); err == nil {
		t.Error("Index took an image")
	}
	if _, err := s.Image(desc); err == nil {
		t.Error("Image took an index")
	}
	missing := descs[0]
	missing.Digest.Hex = "0000000000000000000000000000000000000000000000000000000000000000"
	if _, err := s.WriteIndex([]v1.Descriptor{missing}, nil); err == nil {
		t.Error("WriteIndex listed a manifest the store lacks")
	}
	// Prune keeps what a named index holds.
	if err := s.Tag("multi:1", desc); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(context.Background(), PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range append(descs, desc) {
		if !s.HasBlob(d.Digest) {
			t.Errorf("prune removed %s", d.Digest)
		}
	}
}
