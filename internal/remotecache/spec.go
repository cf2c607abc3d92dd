package remotecache

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"

	"github.com/whittle-build/whittle/internal/archive"
)

// The cache location types.
const (
	// TypeRegistry keeps the cache as an artifact in a registry repository.
	TypeRegistry = "registry"
	// TypeLocal keeps the cache in an OCI image layout directory.
	TypeLocal = "local"
)

// Mode says which records an export holds.
type Mode string

// The export modes.
const (
	// ModeMin exports the records of the target stage's chain: what the
	// final image is made of. Steps of other stages (builders whose files
	// are copied) run again on a machine that imports it.
	ModeMin Mode = "min"
	// ModeMax exports the record of every step of every stage built.
	ModeMax Mode = "max"
)

// DefaultTag names the cache in a local directory when tag= is not given.
const DefaultTag = "latest"

// Spec is one parsed --cache-to or --cache-from.
type Spec struct {
	// Type is TypeRegistry or TypeLocal.
	Type string
	// Ref is the registry reference (TypeRegistry), e.g. "reg.example/app:buildcache".
	Ref string
	// Dir is the OCI layout directory (TypeLocal): dest= or src=.
	Dir string
	// Tag names the cache among the directory's index entries (TypeLocal).
	// Default DefaultTag.
	Tag string
	// Mode is which records are exported (--cache-to). Default ModeMin.
	Mode Mode
	// Mounts exports the store's cache mount directories (--cache-to,
	// default false) or restores those the cache holds (--cache-from,
	// default true).
	Mounts bool
	// IgnoreError makes a failed export a warning instead of a failed
	// build (--cache-to). Default false.
	IgnoreError bool
	// Compression of layers the export has to compress (those that have
	// no blob in the store yet). Default: the build's.
	Compression archive.Compression
}

// ParseTo parses a --cache-to value, as docker buildx does:
// "type=registry,ref=R[,mode=min|max][,mounts=true][,ignore-error=true][,compression=gzip|zstd|none]",
// "type=local,dest=DIR[,tag=T][,mode=...]", or a bare reference for
// type=registry. BuildKit's oci-mediatypes= and image-manifest= are accepted
// and ignored: whittle always writes an OCI image manifest.
func ParseTo(s string) (Spec, error) {
	return parse("--cache-to", s, true)
}

// ParseFrom parses a --cache-from value: "type=registry,ref=R",
// "type=local,src=DIR[,tag=T]", or a bare reference for type=registry;
// mounts=false skips restoring cache mounts.
func ParseFrom(s string) (Spec, error) {
	return parse("--cache-from", s, false)
}

func parse(flag, s string, export bool) (Spec, error) {
	spec := Spec{Mode: ModeMin, Mounts: !export}
	if s == "" {
		return Spec{}, fmt.Errorf("parsing %s: empty", flag)
	}
	if !strings.Contains(s, "=") {
		spec.Type, spec.Ref = TypeRegistry, s
		return spec, nil
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return Spec{}, fmt.Errorf("parsing %s %q: %w", flag, s, err)
	}
	bad := func(format string, a ...any) (Spec, error) {
		return Spec{}, fmt.Errorf("parsing %s %q: %s", flag, s, fmt.Sprintf(format, a...))
	}
	seen := map[string]string{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return bad("%q is not key=value", f)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		seen[k] = v
	}
	spec.Type = seen["type"]
	for k, v := range seen {
		switch {
		case k == "type":
		case k == "ref" && spec.Type == TypeRegistry:
			spec.Ref = v
		case k == "dest" && spec.Type == TypeLocal && export, k == "src" && spec.Type == TypeLocal && !export:
			spec.Dir = v
		case k == "tag" && spec.Type == TypeLocal:
			spec.Tag = v
		case k == "mode" && export:
			if v != string(ModeMin) && v != string(ModeMax) {
				return bad("mode=%s: want min or max", v)
			}
			spec.Mode = Mode(v)
		case k == "mounts", k == "ignore-error" && export:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return bad("%s=%q: want true or false", k, v)
			}
			if k == "mounts" {
				spec.Mounts = b
			} else {
				spec.IgnoreError = b
			}
		case k == "compression" && export:
			c, err := archive.ParseCompression(v)
			if err != nil || v == "" {
				return bad("compression=%s: want gzip, zstd or none", v)
			}
			spec.Compression = c
		case (k == "oci-mediatypes" || k == "image-manifest") && export:
			// Always so.
		default:
			if spec.Type != TypeRegistry && spec.Type != TypeLocal {
				break // reported below
			}
			return bad("type=%s does not take %s=", spec.Type, k)
		}
	}
	switch spec.Type {
	case TypeRegistry:
		if spec.Ref == "" {
			return bad("type=registry needs ref=")
		}
	case TypeLocal:
		if spec.Dir == "" {
			if export {
				return bad("type=local needs dest=")
			}
			return bad("type=local needs src=")
		}
		if spec.Tag == "" {
			spec.Tag = DefaultTag
		}
	case "":
		return bad("no type= (registry or local)")
	case "inline":
		return bad("whittle's cache does not travel inside images: export it beside them with --cache-to type=registry,ref=REPO:buildcache,mode=max and import it with --cache-from type=registry,ref=REPO:buildcache")
	case "gha", "s3", "azblob":
		return bad("type=%s is not supported: use type=registry (any OCI registry) or type=local (a directory your CI caches)", spec.Type)
	default:
		return bad("unknown type %q (want registry or local)", spec.Type)
	}
	return spec, nil
}

// String names the cache location, as messages show it.
func (s Spec) String() string {
	if s.Type == TypeLocal {
		return fmt.Sprintf("%s (tag %s)", s.Dir, s.Tag)
	}
	return s.Ref
}
