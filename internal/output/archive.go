package output

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/whittle-build/whittle/internal/store"
)

// ContainerdNameAnnotation holds an image's full name in an OCI index
// entry, beside org.opencontainers.image.ref.name which holds only its tag.
const ContainerdNameAnnotation = "io.containerd.image.name"

// archiveImage is one image of an archive, or (idx set, img nil) one
// multi-platform index, and the names it goes by.
type archiveImage struct {
	img   v1.Image
	idx   v1.ImageIndex
	names []string
}

// archiveTime is the modification time of every archive entry, so that
// the same images give the same archive bytes.
var archiveTime = time.Unix(0, 0).UTC()

// dockerManifestEntry is one image in docker's manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// writeArchive writes images as an OCI image layout in a tar: oci-layout,
// every blob once under blobs/sha256/, index.json with one entry per name
// (or one unnamed entry). With docker, docker's manifest.json is added,
// pointing at the same blobs, as `docker save` writes it since Docker 25.
func writeArchive(ctx context.Context, w io.Writer, images []archiveImage, docker bool) error {
	tw := tar.NewWriter(w)
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: archiveTime, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	if err := writeTarFile(tw, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	written := map[v1.Hash]bool{}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	var dockerManifest []dockerManifestEntry
	for _, ai := range images {
		if err := ctx.Err(); err != nil {
			return err
		}
		var desc v1.Descriptor
		var entry dockerManifestEntry
		if ai.idx != nil {
			if docker {
				return errors.New("a docker archive cannot hold a multi-platform index")
			}
			d, err := writeIndexBlobs(ctx, tw, ai.idx, written)
			if err != nil {
				return err
			}
			desc = d
		} else {
			d, m, err := writeImageBlobs(ctx, tw, ai.img, written)
			if err != nil {
				return err
			}
			desc = d
			entry = dockerManifestEntry{Config: blobName(m.Config.Digest), RepoTags: []string{}}
			for _, l := range m.Layers {
				entry.Layers = append(entry.Layers, blobName(l.Digest))
			}
		}
		named := false
		for _, n := range ai.names {
			ann, familiar, err := nameAnnotations(n)
			if err != nil {
				return err
			}
			d := desc
			d.Annotations = ann
			index.Manifests = append(index.Manifests, d)
			named = true
			if familiar != "" {
				entry.RepoTags = append(entry.RepoTags, familiar)
			}
		}
		if !named {
			index.Manifests = append(index.Manifests, desc)
		}
		if ai.idx == nil {
			dockerManifest = append(dockerManifest, entry)
		}
	}
	b, err := json.Marshal(index)
	if err != nil {
		return err
	}
	if err := writeTarFile(tw, "index.json", b); err != nil {
		return err
	}
	if docker {
		b, err := json.Marshal(dockerManifest)
		if err != nil {
			return err
		}
		if err := writeTarFile(tw, "manifest.json", b); err != nil {
			return err
		}
	}
	return tw.Close()
}

// writeImageBlobs writes img's layers, config and manifest, each blob once
// (written records them), and returns the manifest's descriptor.
func writeImageBlobs(ctx context.Context, tw *tar.Writer, img v1.Image, written map[v1.Hash]bool) (v1.Descriptor, *v1.Manifest, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, nil, fmt.Errorf("reading manifest: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return v1.Descriptor{}, nil, fmt.Errorf("reading manifest: %w", err)
	}
	desc, err := manifestDescriptor(img, raw)
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	for _, l := range m.Layers {
		if written[l.Digest] {
			continue
		}
		if err := writeLayerBlob(ctx, tw, img, l); err != nil {
			return v1.Descriptor{}, nil, err
		}
		written[l.Digest] = true
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, nil, fmt.Errorf("reading config: %w", err)
	}
	for _, b := range [][]byte{cfg, raw} {
		if err := writeBlobOnce(tw, b, written); err != nil {
			return v1.Descriptor{}, nil, err
		}
	}
	return desc, m, nil
}

// writeIndexBlobs writes the images idx lists (nested indexes too) and idx
// itself, and returns idx's descriptor.
func writeIndexBlobs(ctx context.Context, tw *tar.Writer, idx v1.ImageIndex, written map[v1.Hash]bool) (v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading index: %w", err)
	}
	for _, d := range im.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return v1.Descriptor{}, err
			}
			if _, err := writeIndexBlobs(ctx, tw, child, written); err != nil {
				return v1.Descriptor{}, err
			}
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				return v1.Descriptor{}, err
			}
			if _, _, err := writeImageBlobs(ctx, tw, img, written); err != nil {
				return v1.Descriptor{}, err
			}
		default:
			return v1.Descriptor{}, fmt.Errorf("index entry %s: media type %s is neither an image nor an index", d.Digest, d.MediaType)
		}
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading index: %w", err)
	}
	mt, err := idx.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := writeBlobOnce(tw, raw, written); err != nil {
		return v1.Descriptor{}, err
	}
	h, n, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: h, Size: n}, nil
}

// writeBlobOnce writes b under its digest unless written has it.
func writeBlobOnce(tw *tar.Writer, b []byte, written map[v1.Hash]bool) error {
	h, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if written[h] {
		return nil
	}
	if err := writeTarFile(tw, blobName(h), b); err != nil {
		return err
	}
	written[h] = true
	return nil
}

// manifestDescriptor describes an image's manifest for an index entry.
func manifestDescriptor(img v1.Image, raw []byte) (v1.Descriptor, error) {
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading manifest: %w", err)
	}
	h, n, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: h, Size: n}, nil
}

// nameAnnotations returns the index annotations for the image name n and
// its familiar tagged form for docker's RepoTags ("" for a digest name).
func nameAnnotations(n string) (map[string]string, string, error) {
	ref, err := name.ParseReference(n)
	if err != nil {
		return nil, "", fmt.Errorf("naming the image %q: %w", n, err)
	}
	familiar, err := store.NormalizeName(n)
	if err != nil {
		return nil, "", err
	}
	full := fullName(ref)
	ann := map[string]string{ContainerdNameAnnotation: full}
	if t, ok := ref.(name.Tag); ok {
		ann[store.RefNameAnnotation] = t.TagStr()
		return ann, familiar, nil
	}
	return ann, "", nil
}

// fullName is the name as containerd writes it: registry (docker.io for
// Docker Hub), repository, then tag or digest.
func fullName(ref name.Reference) string {
	reg := ref.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	s := reg + "/" + ref.Context().RepositoryStr()
	switch r := ref.(type) {
	case name.Tag:
		return s + ":" + r.TagStr()
	case name.Digest:
		return s + "@" + r.DigestStr()
	}
	return s
}

func blobName(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// writeLayerBlob copies one compressed layer, as stored, into the tar.
func writeLayerBlob(ctx context.Context, tw *tar.Writer, img v1.Image, d v1.Descriptor) error {
	l, err := img.LayerByDigest(d.Digest)
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", d.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", d.Digest, err)
	}
	defer rc.Close()
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: blobName(d.Digest), Size: d.Size, Mode: 0o644, ModTime: archiveTime, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, ctxReader{ctx, rc})
	if err != nil {
		return fmt.Errorf("copying layer %s: %w", d.Digest, err)
	}
	if n != d.Size {
		return fmt.Errorf("copying layer %s: %d bytes, the manifest says %d", d.Digest, n, d.Size)
	}
	return nil
}

func writeTarFile(tw *tar.Writer, name string, b []byte) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(b)), Mode: 0o644, ModTime: archiveTime, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

// ctxReader stops a long copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// cleanTarName turns "./blobs/sha256/x" into "blobs/sha256/x".
func cleanTarName(n string) string {
	n = strings.TrimPrefix(n, "./")
	return strings.TrimPrefix(n, "/")
}
