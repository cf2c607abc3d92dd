package frontend

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// contextKind says what a --build-context value is.
type contextKind int

const (
	// contextDir is a directory: its files replace the stage or image.
	contextDir contextKind = iota
	// contextImage is docker-image://REF.
	contextImage
	// contextOCILayout is oci-layout://DIR[:TAG|@DIGEST].
	contextOCILayout
)

// buildContext is one --build-context NAME=VALUE.
type buildContext struct {
	name  string
	kind  contextKind
	value string
	// ref is what the resolver gets for images and OCI layouts.
	ref string
}

// buildContexts are the --build-context values keyed by normalized name.
type buildContexts map[string]*buildContext

// parseBuildContexts validates the --build-context values.
func parseBuildContexts(in map[string]string) (buildContexts, error) {
	out := buildContexts{}
	for name, value := range in {
		key, err := contextKey(name)
		if err != nil {
			return nil, fmt.Errorf("invalid build context name %q: %w", name, err)
		}
		bc := &buildContext{name: name, value: value}
		scheme, rest, hasScheme := strings.Cut(value, "://")
		switch {
		case !hasScheme:
			if value == "" {
				return nil, fmt.Errorf("build context %q: empty value", name)
			}
			bc.kind = contextDir
		case scheme == "docker-image":
			if rest == "" {
				return nil, fmt.Errorf("build context %q: docker-image:// needs a reference", name)
			}
			if rest != scratchName {
				if _, err := reference.ParseNormalizedNamed(rest); err != nil {
					return nil, fmt.Errorf("build context %q: parsing reference %q: %w", name, rest, err)
				}
			}
			bc.kind, bc.ref = contextImage, rest
		case scheme == "oci-layout":
			if rest == "" {
				return nil, fmt.Errorf("build context %q: oci-layout:// needs a directory", name)
			}
			bc.kind, bc.ref = contextOCILayout, value
		default:
			return nil, fmt.Errorf("build context %q: unsupported context source %s (use a directory, docker-image:// or oci-layout://)", name, scheme)
		}
		out[key] = bc
	}
	return out, nil
}

// contextKey normalizes a name as BuildKit matches build contexts: the
// familiar reference without ":latest", so "alpine",
// "docker.io/library/alpine" and "alpine:latest" are one name.
func contextKey(name string) (string, error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(reference.FamiliarString(named), ":latest"), nil
}

// lookup returns the build context that replaces name, if any. "scratch" and
// "context" are never replaced.
func (b buildContexts) lookup(name string) (*buildContext, bool) {
	if len(b) == 0 || strings.EqualFold(name, scratchName) || strings.EqualFold(name, "context") {
		return nil, false
	}
	key, err := contextKey(name)
	if err != nil {
		return nil, false
	}
	bc, ok := b[key]
	return bc, ok
}
