package resolve

import (
	"fmt"
	"runtime"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/store"
)

// DefaultPlatform is the platform images are resolved for when none is
// given: linux and the architecture whittle was built for.
func DefaultPlatform() string { return "linux/" + runtime.GOARCH }

// parsePlatform parses "os/arch[/variant]"; empty means DefaultPlatform.
func parsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		s = DefaultPlatform()
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("parsing platform %q: %w", s, err)
	}
	if p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("parsing platform %q: want os/arch[/variant], e.g. linux/amd64", s)
	}
	return store.NormalizePlatform(*p), nil
}

// platformString formats p as os/arch[/variant].
func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// matchPlatform reports how well have satisfies want: 2 for the same
// platform, 1 for the same os/arch when want names no variant (amd64 with
// a v2 or v3 micro-architecture level), 0 for no match; both as containerd
// normalizes them.
func matchPlatform(have, want v1.Platform) int {
	switch {
	case store.SamePlatform(have, want):
		return 2
	case store.Satisfies(have, want):
		return 1
	}
	return 0
}

// PlatformError says that an image offers none of the platform asked for.
type PlatformError struct {
	// Ref is the image reference.
	Ref string
	// Want is the platform asked for.
	Want string
	// Available are the platforms the image offers.
	Available []string
}

func (e *PlatformError) Error() string {
	if len(e.Available) == 0 {
		return fmt.Sprintf("image %s has no image for platform %s (it names no platforms)", e.Ref, e.Want)
	}
	return fmt.Sprintf("image %s has no image for platform %s; it offers %s (pick one with --platform)",
		e.Ref, e.Want, strings.Join(e.Available, ", "))
}

// attestationType is the annotation BuildKit puts on an index entry that is
// an attestation manifest, not an image.
const attestationType = "vnd.docker.reference.type"

// choosePlatform picks the manifest for want from an index's entries, or
// returns a *PlatformError naming what the index offers.
func choosePlatform(ref string, entries []v1.Descriptor, want v1.Platform) (v1.Descriptor, error) {
	best, bestScore := -1, 0
	var available []string
	for i, d := range entries {
		if d.Platform == nil || d.Annotations[attestationType] != "" {
			continue
		}
		if d.Platform.OS == "unknown" {
			continue
		}
		available = append(available, platformString(*d.Platform))
		if !d.MediaType.IsImage() && !d.MediaType.IsIndex() {
			continue
		}
		if s := matchPlatform(*d.Platform, want); s > bestScore {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		sort.Strings(available)
		return v1.Descriptor{}, &PlatformError{Ref: ref, Want: platformString(want), Available: available}
	}
	return entries[best], nil
}
