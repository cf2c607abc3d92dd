package testutil

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// roundTrip pushes img to ref, pulls it back and checks it is the same image.
func roundTrip(t *testing.T, img v1.Image, ref string) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	got, err := remote.Image(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if d, err := got.Digest(); err != nil || d != want {
		t.Errorf("pulled digest %v (%v), pushed %v", d, err, want)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("validate.Image of the pulled image: %v", err)
	}
}

func TestRegistryRoundTrip(t *testing.T) {
	img, err := NewBusyboxImage([]byte("not really busybox\n"))
	if err != nil {
		t.Fatal(err)
	}
	addr := Registry(t)
	roundTrip(t, img, addr+"/fixtures/busybox:test")
	// Two registries in one test are independent.
	other := Registry(t)
	if other == addr {
		t.Fatalf("two registries share %s", addr)
	}
	r, err := name.ParseReference(other + "/fixtures/busybox:test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Head(r); err == nil {
		t.Errorf("%s has an image only pushed to %s", other, addr)
	}
}

func TestLocalRegistryRoundTrip(t *testing.T) {
	addr := LocalRegistry(t)
	img := BusyboxImage(t)
	// A tag per run: the registry outlives the test.
	roundTrip(t, img, fmt.Sprintf("%s/whittle-testutil/busybox:t%d", addr, time.Now().UnixNano()))
}

func TestLocalRegistryMissing(t *testing.T) {
	t.Setenv("WHITTLE_TEST_REGISTRY", "127.0.0.1:1")
	t.Setenv("CI", "")
	r := &recordTB{TB: t}
	LocalRegistry(r)
	if !r.skipped {
		t.Errorf("no skip for a registry that is not there")
	}
}
