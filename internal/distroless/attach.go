package distroless

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/whittle-build/whittle/internal/store"
)

// The media types of the SBOM artifacts.
const (
	SPDXMediaType      = "application/spdx+json"
	CycloneDXMediaType = "application/vnd.cyclonedx+json"
	// emptyMediaType and emptyJSON are the OCI 1.1 empty config of
	// artifact manifests.
	emptyMediaType = "application/vnd.oci.empty.v1+json"
	// AnnotationSBOMSubject marks an SBOM manifest's entry in an OCI
	// layout's index.json with the digest of the image it describes.
	AnnotationSBOMSubject = "dev.whittle.sbom.subject"
)

var emptyJSON = []byte("{}")

// artifact is one SBOM artifact manifest: its bytes and descriptor.
type artifact struct {
	manifest []byte
	desc     v1.Descriptor
	blobs    map[v1.Hash][]byte
}

// artifacts makes the two SBOM artifact manifests of subject (OCI image
// manifests with an artifactType, the empty config, the document as their
// only layer, and subject set), as OCI image-spec 1.1 describes artifacts.
func artifacts(subject v1.Descriptor, sbom *SBOM) ([]artifact, error) {
	emptyDigest, _, _ := v1.SHA256(bytes.NewReader(emptyJSON))
	var out []artifact
	for _, doc := range []struct {
		mt, file string
		data     []byte
	}{{SPDXMediaType, SPDXFile, sbom.SPDX}, {CycloneDXMediaType, CycloneDXFile, sbom.CycloneDX}} {
		h, n, _ := v1.SHA256(bytes.NewReader(doc.data))
		sub := v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest}
		m := v1.Manifest{
			SchemaVersion: 2,
			MediaType:     types.OCIManifestSchema1,
			ArtifactType:  doc.mt,
			Config:        v1.Descriptor{MediaType: emptyMediaType, Size: int64(len(emptyJSON)), Digest: emptyDigest},
			Layers: []v1.Descriptor{{
				MediaType: types.MediaType(doc.mt), Size: n, Digest: h,
				Annotations: map[string]string{"org.opencontainers.image.title": doc.file},
			}},
			Subject: &sub,
		}
		mb, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		mh, mn, _ := v1.SHA256(bytes.NewReader(mb))
		out = append(out, artifact{
			manifest: mb,
			desc:     v1.Descriptor{MediaType: types.OCIManifestSchema1, ArtifactType: doc.mt, Size: mn, Digest: mh},
			blobs:    map[v1.Hash][]byte{emptyDigest: emptyJSON, h: doc.data},
		})
	}
	return out, nil
}

// Attach stores the SBOM of the image desc in st as two OCI artifact
// manifests whose subject is desc, and names them the way OCI
// distribution-spec 1.1 names referrers for registries without the
// referrers API: an image index of the referrers tagged
// "<repository>:sha256-<hex of desc's digest>" for the repository of each
// of names. Referrer tags of those repositories whose digest no longer
// names an image there are removed. It returns the artifact manifests'
// descriptors.
func Attach(ctx context.Context, st *store.Store, desc v1.Descriptor, names []string, sbom *SBOM) ([]v1.Descriptor, error) {
	arts, err := artifacts(desc, sbom)
	if err != nil {
		return nil, err
	}
	var descs []v1.Descriptor
	for _, a := range arts {
		for _, b := range a.blobs {
			if _, err := st.WriteBlobBytes(b); err != nil {
				return nil, fmt.Errorf("attaching the SBOM: %w", err)
			}
		}
		if _, err := st.WriteBlobBytes(a.manifest); err != nil {
			return nil, fmt.Errorf("attaching the SBOM: %w", err)
		}
		descs = append(descs, a.desc)
	}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: descs}
	ib, err := json.Marshal(idx)
	if err != nil {
		return nil, err
	}
	ih, err := st.WriteBlobBytes(ib)
	if err != nil {
		return nil, fmt.Errorf("attaching the SBOM: %w", err)
	}
	idesc := v1.Descriptor{MediaType: types.OCIImageIndex, Size: int64(len(ib)), Digest: ih}
	repos := map[string]bool{}
	for _, n := range names {
		ref, err := name.ParseReference(n)
		if err != nil {
			continue
		}
		repos[ref.Context().Name()] = true
	}
	for repo := range repos {
		tag := repo + ":" + ReferrersTag(desc.Digest)
		if err := st.Tag(tag, idesc); err != nil {
			return nil, fmt.Errorf("attaching the SBOM: %w", err)
		}
		if err := pruneReferrerTags(st, repo); err != nil {
			return nil, err
		}
	}
	return descs, ctx.Err()
}

// ReferrersTag is the tag of the referrers index of the image with digest
// h: "sha256-<hex>".
func ReferrersTag(h v1.Hash) string { return h.Algorithm + "-" + h.Hex }

// pruneReferrerTags removes repo's referrer tags whose image no longer has
// a name in repo, by itself or in a named index.
func pruneReferrerTags(st *store.Store, repo string) error {
	entries, err := st.List()
	if err != nil {
		return err
	}
	live := map[string]bool{}
	var refTags []string
	for _, e := range entries {
		ref, err := name.ParseReference(e.Name)
		if err != nil || ref.Context().Name() != repo {
			continue
		}
		t, ok := ref.(name.Tag)
		if !ok {
			continue
		}
		if strings.HasPrefix(t.TagStr(), "sha256-") && e.Descriptor.MediaType == types.OCIImageIndex {
			refTags = append(refTags, e.Name)
			continue
		}
		live[ReferrersTag(e.Descriptor.Digest)] = true
		if e.Descriptor.MediaType.IsIndex() {
			// A base made for several architectures: each image's SBOM.
			if idx, err := st.Index(e.Descriptor); err == nil {
				if im, err := idx.IndexManifest(); err == nil {
					for _, c := range im.Manifests {
						live[ReferrersTag(c.Digest)] = true
					}
				}
			}
		}
	}
	for _, n := range refTags {
		ref, _ := name.ParseReference(n)
		if t, ok := ref.(name.Tag); ok && !live[t.TagStr()] {
			if err := st.Untag(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// AttachToLayout adds the SBOM artifact manifests of the image desc to the
// OCI image layout dir (where the image was written): their blobs, and
// one index.json entry each, annotated with AnnotationSBOMSubject (the
// image's digest) and carrying their artifactType, so tools that look for
// manifests with a subject (oras discover --oci-layout) and tools that read
// annotations both find them. An earlier SBOM of the same image is
// replaced.
func AttachToLayout(dir string, desc v1.Descriptor, sbom *SBOM) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		return fmt.Errorf("attaching the SBOM to %s: %w", dir, err)
	}
	arts, err := artifacts(desc, sbom)
	if err != nil {
		return err
	}
	if err := p.RemoveDescriptors(match.Annotation(AnnotationSBOMSubject, desc.Digest.String())); err != nil {
		return fmt.Errorf("attaching the SBOM to %s: %w", dir, err)
	}
	for _, a := range arts {
		for h, b := range a.blobs {
			if err := p.WriteBlob(h, io.NopCloser(bytes.NewReader(b))); err != nil {
				return fmt.Errorf("attaching the SBOM to %s: %w", dir, err)
			}
		}
		if err := p.WriteBlob(a.desc.Digest, io.NopCloser(bytes.NewReader(a.manifest))); err != nil {
			return fmt.Errorf("attaching the SBOM to %s: %w", dir, err)
		}
		d := a.desc
		d.Annotations = map[string]string{AnnotationSBOMSubject: desc.Digest.String()}
		if err := p.AppendDescriptor(d); err != nil {
			return fmt.Errorf("attaching the SBOM to %s: %w", dir, err)
		}
	}
	return nil
}
