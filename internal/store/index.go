package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// RefNameAnnotation is the OCI annotation that names a manifest in index.json.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// index is index.json.
type index struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     types.MediaType `json:"mediaType,omitempty"`
	Manifests     []v1.Descriptor `json:"manifests"`
}

// NormalizeName returns the form in which the store records an image name:
// the familiar Docker form with the registry and "library/" dropped for
// Docker Hub, and ":latest" added when there is neither tag nor digest.
// "alpine", "docker.io/library/alpine" and "alpine:latest" all become
// "alpine:latest".
func NormalizeName(s string) (string, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return "", fmt.Errorf("parsing image name %q: %w", s, err)
	}
	repo := ref.Context().RepositoryStr()
	if reg := ref.Context().RegistryStr(); reg != name.DefaultRegistry {
		repo = reg + "/" + repo
	} else {
		repo = strings.TrimPrefix(repo, "library/")
	}
	switch r := ref.(type) {
	case name.Digest:
		return repo + "@" + r.DigestStr(), nil
	case name.Tag:
		return repo + ":" + r.TagStr(), nil
	}
	return "", fmt.Errorf("parsing image name %q: neither tag nor digest", s)
}

// Entry is a named image in the store.
type Entry struct {
	// Name is the normalized name, e.g. "myapp:latest".
	Name       string
	Descriptor v1.Descriptor
}

func (s *Store) readIndex() (*index, error) {
	b, err := os.ReadFile(s.path("index.json"))
	if errors.Is(err, os.ErrNotExist) {
		return &index{SchemaVersion: 2, MediaType: types.OCIImageIndex}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading index.json: %w", err)
	}
	var idx index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.path("index.json"), err)
	}
	return &idx, nil
}

// updateIndex applies fn to index.json under index.lock and writes the
// result atomically.
func (s *Store) updateIndex(fn func(*index) error) error {
	lock, err := lockFile(s.path("index.lock"), unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer lock.Close()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(idx); err != nil {
		return err
	}
	idx.SchemaVersion = 2
	idx.MediaType = types.OCIImageIndex
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	sort.SliceStable(idx.Manifests, func(i, j int) bool {
		return idx.Manifests[i].Annotations[RefNameAnnotation] < idx.Manifests[j].Annotations[RefNameAnnotation]
	})
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if old, err := os.ReadFile(s.path("index.json")); err == nil && bytes.Equal(old, b) {
		return nil // unchanged (re-tagging a rebuilt image): spare the sync
	}
	return s.writeFileAtomic("index.json", b)
}

// Tag names the manifest desc (whose blobs must be in the store) as ref,
// replacing what the name pointed to before.
func (s *Store) Tag(ref string, desc v1.Descriptor) error {
	n, err := NormalizeName(ref)
	if err != nil {
		return err
	}
	if !s.HasBlob(desc.Digest) {
		return fmt.Errorf("tagging %s: manifest %s: %w", n, desc.Digest, ErrNotFound)
	}
	d := v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest, Platform: desc.Platform}
	d.Annotations = map[string]string{RefNameAnnotation: n}
	return s.updateIndex(func(idx *index) error {
		out := idx.Manifests[:0]
		for _, m := range idx.Manifests {
			if m.Annotations[RefNameAnnotation] != n {
				out = append(out, m)
			}
		}
		idx.Manifests = append(out, d)
		return nil
	})
}

// Untag removes the name ref. The image's blobs stay until Prune.
func (s *Store) Untag(ref string) error {
	n, err := NormalizeName(ref)
	if err != nil {
		return err
	}
	found := false
	err = s.updateIndex(func(idx *index) error {
		out := idx.Manifests[:0]
		for _, m := range idx.Manifests {
			if m.Annotations[RefNameAnnotation] == n {
				found = true
				continue
			}
			out = append(out, m)
		}
		idx.Manifests = out
		return nil
	})
	if err == nil && !found {
		return fmt.Errorf("image %s: %w", n, ErrNotFound)
	}
	return err
}

// List returns the named images, sorted by name.
func (s *Store) List() ([]Entry, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, m := range idx.Manifests {
		if n := m.Annotations[RefNameAnnotation]; n != "" {
			out = append(out, Entry{Name: n, Descriptor: m})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Lookup finds an image by name ("app", "app:1.0", "registry/app@sha256:...")
// or by manifest digest ("sha256:<hex>", or a unique prefix of at least 12 hex
// digits, as docker accepts image IDs). It returns ErrNotFound when the store
// does not have it.
func (s *Store) Lookup(ref string) (v1.Descriptor, error) {
	entries, err := s.List()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if d, ok := lookupDigest(entries, ref); ok {
		return d, nil
	}
	if h, err := v1.NewHash(ref); err == nil && s.HasBlob(h) {
		return s.describeManifest(h)
	}
	n, err := NormalizeName(ref)
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, e := range entries {
		if e.Name == n {
			return e.Descriptor, nil
		}
	}
	// name@digest: the digest alone decides when the blob is here.
	if i := strings.LastIndex(n, "@"); i >= 0 {
		if h, err := v1.NewHash(n[i+1:]); err == nil && s.HasBlob(h) {
			return s.describeManifest(h)
		}
	}
	return v1.Descriptor{}, fmt.Errorf("image %s: %w", ref, ErrNotFound)
}

func lookupDigest(entries []Entry, ref string) (v1.Descriptor, bool) {
	hexPart := strings.TrimPrefix(ref, "sha256:")
	if len(hexPart) < 12 || len(hexPart) > 64 || strings.Trim(hexPart, "0123456789abcdef") != "" {
		return v1.Descriptor{}, false
	}
	var found *v1.Descriptor
	for i, e := range entries {
		if strings.HasPrefix(e.Descriptor.Digest.Hex, hexPart) {
			if found != nil && found.Digest != e.Descriptor.Digest {
				return v1.Descriptor{}, false // ambiguous
			}
			found = &entries[i].Descriptor
		}
	}
	if found == nil {
		return v1.Descriptor{}, false
	}
	d := *found
	d.Annotations = nil
	return d, true
}

// describeManifest makes a descriptor for a manifest blob that no name points to.
func (s *Store) describeManifest(h v1.Hash) (v1.Descriptor, error) {
	b, err := s.ReadBlob(h)
	if err != nil {
		return v1.Descriptor{}, err
	}
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading manifest %s: %w", h, err)
	}
	if m.MediaType == "" {
		m.MediaType = types.OCIManifestSchema1
	}
	return v1.Descriptor{MediaType: m.MediaType, Size: int64(len(b)), Digest: h}, nil
}
