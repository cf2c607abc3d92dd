package resolve

import (
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/whittle-build/whittle/internal/store"
)

// ContainerdNameAnnotation is the index annotation with an image's full
// name that containerd, docker and BuildKit write beside the OCI ref name
// (which holds only the tag).
const ContainerdNameAnnotation = "io.containerd.image.name"

// openLayout returns the image that s selects in an OCI image layout.
func openLayout(s source, ref string, want v1.Platform) (v1.Image, v1.Descriptor, error) {
	p, err := layout.FromPath(s.path)
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading OCI layout %s: %w", s.path, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading OCI layout %s: %w", s.path, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading OCI layout %s: %w", s.path, err)
	}
	entry, err := selectLayoutEntry(s, im.Manifests)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	if entry == nil {
		// A digest that index.json does not list: one image of a
		// multi-platform index, say.
		idx, entry, err = findNested(idx, s.digest, 0)
		if err != nil {
			return nil, v1.Descriptor{}, fmt.Errorf("reading OCI layout %s: %w", s.path, err)
		}
		if entry == nil {
			return nil, v1.Descriptor{}, fmt.Errorf("OCI layout %s has no manifest %s", s.path, s.digest)
		}
	}
	if entry.MediaType.IsIndex() {
		child, err := idx.ImageIndex(entry.Digest)
		if err != nil {
			return nil, v1.Descriptor{}, fmt.Errorf("reading OCI layout %s: %w", s.path, err)
		}
		return pickImage(ref, child, want)
	}
	img, err := idx.Image(entry.Digest)
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading OCI layout %s: %w", s.path, err)
	}
	if _, err := checkImagePlatform(ref, img, want); err != nil {
		return nil, v1.Descriptor{}, err
	}
	return img, manifestDescriptor(*entry), nil
}

// selectLayoutEntry finds the index.json entry that s names: by digest, by
// name, or the only one (else the one named "latest"). It returns nil,
// without error, for a digest that index.json does not list.
func selectLayoutEntry(s source, entries []v1.Descriptor) (*v1.Descriptor, error) {
	if s.digest != (v1.Hash{}) {
		for i := range entries {
			if entries[i].Digest == s.digest {
				return &entries[i], nil
			}
		}
		return nil, nil
	}
	tag := s.tag
	if tag == "" {
		if len(entries) == 1 {
			return &entries[0], nil
		}
		tag = "latest"
	}
	for i := range entries {
		if layoutNameMatches(entries[i].Annotations, tag) {
			return &entries[i], nil
		}
	}
	names := layoutNames(entries)
	switch {
	case len(entries) == 0:
		return nil, fmt.Errorf("OCI layout %s holds no images", s.path)
	case s.tag == "":
		return nil, fmt.Errorf("OCI layout %s holds %d images and none is named latest; pick one with %s%s:NAME or @DIGEST (names: %s)",
			s.path, len(entries), prefixOCILayout, s.path, strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("OCI layout %s has no image named %q (names: %s)", s.path, s.tag, strings.Join(names, ", "))
}

// layoutNameMatches reports whether an index entry with annotations ann is
// named tag: its OCI ref name (skopeo, BuildKit: the tag alone; whittle's
// store: the full name) or containerd name equals tag, as given or
// normalized ("app" = "app:latest" = "docker.io/library/app:latest").
func layoutNameMatches(ann map[string]string, tag string) bool {
	refName, full := ann[store.RefNameAnnotation], ann[ContainerdNameAnnotation]
	if tag == refName || tag == full {
		return true
	}
	want, err := store.NormalizeName(tag)
	if err != nil {
		return false
	}
	for _, n := range []string{refName, full} {
		if n == "" {
			continue
		}
		if got, err := store.NormalizeName(n); err == nil && got == want {
			return true
		}
	}
	return false
}

// layoutNames lists the names of a layout's entries, for error messages.
func layoutNames(entries []v1.Descriptor) []string {
	var names []string
	for _, e := range entries {
		n := e.Annotations[ContainerdNameAnnotation]
		if n == "" {
			n = e.Annotations[store.RefNameAnnotation]
		}
		if n == "" {
			n = "@" + e.Digest.String()
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// findNested looks for the manifest h in the indexes that idx lists and
// returns it with the index that lists it; nil when there is none.
func findNested(idx v1.ImageIndex, h v1.Hash, depth int) (v1.ImageIndex, *v1.Descriptor, error) {
	if depth > 4 {
		return nil, nil, nil
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	for _, d := range im.Manifests {
		if !d.MediaType.IsIndex() {
			continue
		}
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, nil, err
		}
		cm, err := child.IndexManifest()
		if err != nil {
			return nil, nil, err
		}
		for i := range cm.Manifests {
			if cm.Manifests[i].Digest == h {
				return child, &cm.Manifests[i], nil
			}
		}
		if found, d, err := findNested(child, h, depth+1); err != nil || d != nil {
			return found, d, err
		}
	}
	return nil, nil, nil
}
