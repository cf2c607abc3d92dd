package store

import (
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestTagPlatform(t *testing.T) {
	s := open(t)
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	platformOf := func(want *v1.Platform) v1.Hash {
		t.Helper()
		cur, err := s.Lookup("base:1")
		if err != nil {
			t.Fatal(err)
		}
		_, d, err := s.PlatformImage(cur, want)
		if err != nil {
			t.Fatal(err)
		}
		return d.Digest
	}
	host1, foreign, host2 := platformImage(t, s, runtime.GOARCH), platformImage(t, s, other), platformImage(t, s, runtime.GOARCH)
	if err := s.TagPlatform("base:1", host1); err != nil {
		t.Fatal(err)
	}
	if cur, _ := s.Lookup("base:1"); cur.Digest != host1.Digest {
		t.Fatalf("a first platform: the name is %s, want the image %s", cur.Digest, host1.Digest)
	}
	if err := s.TagPlatform("base:1", foreign); err != nil {
		t.Fatal(err)
	}
	if cur, _ := s.Lookup("base:1"); !cur.MediaType.IsIndex() {
		t.Fatalf("a second platform: the name is a %s, want an index", cur.MediaType)
	}
	if got := platformOf(nil); got != host1.Digest {
		t.Errorf("host image %s, want %s", got, host1.Digest)
	}
	if got := platformOf(foreign.Platform); got != foreign.Digest {
		t.Errorf("%s image %s, want %s", other, got, foreign.Digest)
	}
	// The host's platform again replaces its image and keeps the other.
	if err := s.TagPlatform("base:1", host2); err != nil {
		t.Fatal(err)
	}
	if got := platformOf(nil); got != host2.Digest {
		t.Errorf("host image %s after re-tagging, want %s", got, host2.Digest)
	}
	if got := platformOf(foreign.Platform); got != foreign.Digest {
		t.Errorf("%s image %s after re-tagging the host's, want %s", other, got, foreign.Digest)
	}
	cur, _ := s.Lookup("base:1")
	idx, err := s.Index(cur)
	if err != nil {
		t.Fatal(err)
	}
	if im, _ := idx.IndexManifest(); len(im.Manifests) != 2 {
		t.Errorf("the index lists %d images, want 2", len(im.Manifests))
	}
	_, _, err = s.PlatformImage(cur, &v1.Platform{OS: "linux", Architecture: "s390x"})
	if err == nil || !strings.Contains(err.Error(), "no linux/s390x image") || !strings.Contains(err.Error(), "linux/"+other) {
		t.Errorf("a missing platform: %v", err)
	}
	// Tag (a build's result) replaces the whole name.
	if err := s.Tag("base:1", host1); err != nil {
		t.Fatal(err)
	}
	if cur, _ := s.Lookup("base:1"); cur.Digest != host1.Digest {
		t.Errorf("Tag left %s, want the image %s", cur.Digest, host1.Digest)
	}
}

func TestSamePlatform(t *testing.T) {
	for _, tc := range []struct {
		a, b v1.Platform
		want bool
	}{
		{v1.Platform{OS: "linux", Architecture: "arm64"}, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm"}, v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, false},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64"}, false},
		{v1.Platform{OS: "linux", Architecture: "aarch64"}, v1.Platform{OS: "linux", Architecture: "arm64"}, true},
	} {
		if got := SamePlatform(tc.a, tc.b); got != tc.want {
			t.Errorf("SamePlatform(%v, %v) = %v", tc.a, tc.b, got)
		}
	}
	// Satisfies: a request without a variant takes any (amd64 takes
	// amd64/v3); one with a variant only that one (arm is arm/v7).
	for _, tc := range []struct {
		have, want v1.Platform
		ok         bool
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}, v1.Platform{OS: "linux", Architecture: "amd64"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, v1.Platform{OS: "linux", Architecture: "arm64"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, v1.Platform{OS: "linux", Architecture: "arm"}, false},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}, false},
	} {
		if got := Satisfies(tc.have, tc.want); got != tc.ok {
			t.Errorf("Satisfies(%v, %v) = %v", tc.have, tc.want, got)
		}
	}
}
