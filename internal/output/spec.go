package output

import (
	"encoding/csv"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The output types.
const (
	// TypeImage names the image in the local store (push=true also pushes).
	TypeImage = "image"
	// TypeRegistry pushes the image to the registry its names point to.
	TypeRegistry = "registry"
	// TypeOCI writes an OCI image layout directory (a tar with tar=true).
	TypeOCI = "oci"
	// TypeDocker writes a tar that `docker load` accepts.
	TypeDocker = "docker"
	// TypeTar writes the image's final filesystem as a tar.
	TypeTar = "tar"
	// TypeLocal writes the image's final filesystem into a directory.
	TypeLocal = "local"
)

// attrs are the attributes each type accepts besides type and dest.
var attrs = map[string][]string{
	TypeImage:    {"name", "push", "registry.insecure"},
	TypeRegistry: {"name", "push", "registry.insecure"},
	TypeOCI:      {"name", "tar"},
	TypeDocker:   {"name", "tar"},
	TypeTar:      nil,
	TypeLocal:    nil,
}

// Spec is one parsed --output.
type Spec struct {
	// Type is one of the Type constants.
	Type string
	// Dest is the file or directory written; "-" is standard output.
	Dest string
	// Attrs are the other attributes (name, push, tar, registry.insecure).
	Attrs map[string]string
}

// Parse parses docker buildx's --output syntax: comma-separated key=value
// pairs (CSV quoting, so "name=a,b" in quotes holds two names), e.g.
// "type=oci,dest=DIR", "type=docker,dest=FILE",
// "type=image,name=app:1,push=true", "type=registry,name=R",
// "type=tar,dest=FILE", "type=local,dest=DIR"; or a shorthand: a path
// means type=local,dest=PATH and "-" means type=tar to standard output.
func Parse(s string) (Spec, error) {
	if s == "" {
		return Spec{}, fmt.Errorf("parsing --output: empty")
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return Spec{}, fmt.Errorf("parsing --output %q: %w", s, err)
	}
	if len(fields) == 1 && fields[0] == s && !strings.HasPrefix(s, "type=") && !looksLikeAttr(s) {
		if s == "-" {
			return Spec{Type: TypeTar, Dest: "-", Attrs: map[string]string{}}, nil
		}
		return Spec{Type: TypeLocal, Dest: s, Attrs: map[string]string{}}, nil
	}
	spec := Spec{Attrs: map[string]string{}}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return Spec{}, fmt.Errorf("parsing --output %q: %q is not key=value", s, f)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		switch k {
		case "type":
			spec.Type = v
		case "dest":
			spec.Dest = v
		default:
			spec.Attrs[k] = v
		}
	}
	if err := spec.validate(); err != nil {
		return Spec{}, fmt.Errorf("parsing --output %q: %w", s, err)
	}
	return spec, nil
}

// looksLikeAttr reports whether s is one known attribute ("dest=x") rather
// than a shorthand path: buildx would take it for a directory named so,
// which is never what was meant.
func looksLikeAttr(s string) bool {
	k, _, ok := strings.Cut(s, "=")
	return ok && (k == "dest" || k == "name" || k == "push" || k == "tar")
}

func (s Spec) validate() error {
	known, ok := attrs[s.Type]
	if !ok {
		types := make([]string, 0, len(attrs))
		for t := range attrs {
			types = append(types, t)
		}
		sort.Strings(types)
		if s.Type == "" {
			return fmt.Errorf("no type= (one of %s)", strings.Join(types, ", "))
		}
		return fmt.Errorf("unknown type %q (want one of %s)", s.Type, strings.Join(types, ", "))
	}
	for k := range s.Attrs {
		if !slices.Contains(known, k) {
			if len(known) == 0 {
				return fmt.Errorf("type=%s takes only dest=, not %s=", s.Type, k)
			}
			return fmt.Errorf("type=%s does not support %s= (it takes %s)", s.Type, k, strings.Join(known, ", "))
		}
	}
	for _, k := range []string{"push", "tar", "registry.insecure"} {
		if v, ok := s.Attrs[k]; ok {
			if _, err := strconv.ParseBool(v); err != nil {
				return fmt.Errorf("%s=%q: want true or false", k, v)
			}
		}
	}
	switch s.Type {
	case TypeOCI, TypeDocker, TypeTar, TypeLocal:
		if s.Dest == "" {
			return fmt.Errorf("type=%s needs dest=", s.Type)
		}
	case TypeImage, TypeRegistry:
		if s.Dest != "" {
			return fmt.Errorf("type=%s takes no dest= (it names images with name=)", s.Type)
		}
	}
	if s.Type == TypeLocal && s.Dest == "-" {
		return fmt.Errorf("type=local writes a directory; use type=tar,dest=- for standard output")
	}
	if s.Type == TypeDocker && s.Attrs["tar"] != "" && !s.Bool("tar") {
		return fmt.Errorf("type=docker writes a tar only (tar=false is not supported)")
	}
	if s.Type == TypeOCI && s.Dest == "-" && s.Attrs["tar"] != "" && !s.Bool("tar") {
		return fmt.Errorf("type=oci,dest=- writes a tar: drop tar=false")
	}
	if s.Type == TypeRegistry && s.Attrs["push"] != "" && !s.Bool("push") {
		return fmt.Errorf("type=registry always pushes (use type=image for push=false)")
	}
	return nil
}

// Bool returns the attribute k as a boolean; absent or invalid is false.
func (s Spec) Bool(k string) bool {
	b, _ := strconv.ParseBool(s.Attrs[k])
	return b
}

// Names returns the image names the output uses: the name= attribute
// (comma-separated) when given, else names.
func (s Spec) Names(names []string) []string {
	v, ok := s.Attrs["name"]
	if !ok {
		return names
	}
	var out []string
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// String formats the spec in the syntax Parse reads.
func (s Spec) String() string {
	parts := []string{"type=" + s.Type}
	if s.Dest != "" {
		parts = append(parts, "dest="+s.Dest)
	}
	keys := make([]string, 0, len(s.Attrs))
	for k := range s.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+s.Attrs[k])
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write(parts)
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}
