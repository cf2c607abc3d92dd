package output

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/whittle-build/whittle/internal/store"
)

// The formats of Save.
const (
	// FormatDocker is docker save's tar: an OCI layout plus manifest.json.
	FormatDocker = "docker"
	// FormatOCI is an OCI image layout in a tar (skopeo's oci-archive).
	FormatOCI = "oci"
)

// Save writes the images names (store names or IDs) to w as one archive in
// format FormatDocker or FormatOCI (empty means docker). Names of one image
// share its entry; blobs are written once and byte for byte.
func Save(ctx context.Context, st *store.Store, names []string, w io.Writer, format string) error {
	if len(names) == 0 {
		return errors.New("saving images: no image named")
	}
	docker := true
	switch format {
	case "", FormatDocker:
	case FormatOCI:
		docker = false
	default:
		return fmt.Errorf("saving images: unknown format %q (want docker or oci)", format)
	}
	var images []archiveImage
	byDigest := map[v1.Hash]int{}
	for _, n := range names {
		desc, err := st.Lookup(n)
		if err != nil {
			return fmt.Errorf("saving %s: %w", n, err)
		}
		i, ok := byDigest[desc.Digest]
		if !ok {
			ai, err := saveEntry(st, desc, docker)
			if err != nil {
				return fmt.Errorf("saving %s: %w", n, err)
			}
			i = len(images)
			byDigest[desc.Digest] = i
			images = append(images, ai)
		}
		// An image ID names no image: the entry stays unnamed.
		if _, err := v1.NewHash(n); err == nil || isIDPrefix(n) {
			continue
		}
		images[i].names = append(images[i].names, n)
	}
	if err := writeArchive(ctx, w, images, docker); err != nil {
		return fmt.Errorf("saving images: %w", err)
	}
	return nil
}

// saveEntry is what an archive holds for the store's desc: the image, or
// for a multi-platform index the index (OCI) or the host's image (docker,
// whose archives hold single-platform images).
func saveEntry(st *store.Store, desc v1.Descriptor, docker bool) (archiveImage, error) {
	if desc.MediaType.IsIndex() && !docker {
		idx, err := st.Index(desc)
		return archiveImage{idx: idx}, err
	}
	img, _, err := st.PlatformImage(desc, nil)
	return archiveImage{img: img}, err
}

// isIDPrefix reports whether s is an image ID prefix of 12 or more hex digits.
func isIDPrefix(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	return len(s) >= 12 && len(s) <= 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// maxMetadata bounds the size of index.json and manifest.json read into memory.
const maxMetadata = 16 << 20

// Load reads an archive from r, an OCI image layout tar (what Save and
// skopeo's oci-archive write, or docker save since Docker 25) or a
// docker-archive tar (older docker save, go-containerregistry), imports its
// images into st and tags their names. OCI layout blobs are copied byte
// for byte and verified against their digests, so digests are preserved.
// It returns the names tagged; an image without a name is returned as its
// manifest digest ("sha256:..."), which the store finds it by. From a
// multi-platform index, the image for the host's platform is imported.
func Load(ctx context.Context, st *store.Store, r io.Reader) ([]string, error) {
	dir, err := st.TempDir("load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	spool, err := os.Create(filepath.Join(dir, "archive.tar"))
	if err != nil {
		return nil, fmt.Errorf("loading: %w", err)
	}
	defer spool.Close()

	// One pass: OCI blobs go straight into the store (verified), the
	// metadata into memory, and everything into the spool file for the
	// docker-archive reader, which needs to read the tar again.
	tr := tar.NewReader(io.TeeReader(ctxReader{ctx, r}, spool))
	meta := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("loading: reading the archive: %w", err)
		}
		n := cleanTarName(hdr.Name)
		switch {
		case hdr.Typeflag != tar.TypeReg:
		case strings.HasPrefix(n, "blobs/sha256/"):
			h, err := v1.NewHash("sha256:" + strings.TrimPrefix(n, "blobs/sha256/"))
			if err != nil {
				continue
			}
			if _, _, err := st.WriteBlob(tr, h); err != nil {
				return nil, fmt.Errorf("loading: blob %s of the archive: %w", h, err)
			}
		case n == "index.json" || n == "manifest.json" || n == "oci-layout":
			b, err := io.ReadAll(io.LimitReader(tr, maxMetadata+1))
			if err != nil {
				return nil, fmt.Errorf("loading: reading %s: %w", n, err)
			}
			if len(b) > maxMetadata {
				return nil, fmt.Errorf("loading: %s is larger than %d bytes", n, maxMetadata)
			}
			meta[n] = b
		}
	}
	// The rest of the stream (tar padding) belongs in the spool too.
	if _, err := io.Copy(io.Discard, io.TeeReader(ctxReader{ctx, r}, spool)); err != nil {
		return nil, fmt.Errorf("loading: %w", err)
	}
	switch {
	case meta["index.json"] != nil && meta["oci-layout"] != nil:
		return loadOCI(ctx, st, meta["index.json"])
	case meta["manifest.json"] != nil:
		return loadDockerArchive(ctx, st, spool.Name())
	}
	return nil, errors.New("loading: the archive is neither an OCI image layout (no index.json and oci-layout) nor a docker archive (no manifest.json)")
}

// loadOCI imports the images that index.json lists, whose blobs are in st.
func loadOCI(ctx context.Context, st *store.Store, indexJSON []byte) ([]string, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(indexJSON))
	if err != nil {
		return nil, fmt.Errorf("loading: reading index.json: %w", err)
	}
	var out []string
	for _, d := range im.Manifests {
		desc := v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, Platform: d.Platform}
		if desc.MediaType.IsIndex() {
			// A multi-platform image whose every platform is in the
			// archive is kept whole; else the host's image.
			if children, complete := st.IndexImages(desc); complete {
				for _, c := range children {
					if c.Platform.OS == "unknown" {
						continue // an attestation, not an image
					}
					if err := recordLayers(st, c); err != nil {
						return nil, fmt.Errorf("loading %s: %w", c.Digest, err)
					}
				}
				if err := nameLoaded(st, d, desc, &out); err != nil {
					return nil, err
				}
				continue
			}
			if _, desc, err = st.PlatformImage(desc, nil); err != nil {
				return nil, fmt.Errorf("loading: %w", err)
			}
		}
		if !desc.MediaType.IsImage() {
			continue // an artifact, not an image
		}
		if err := recordLayers(st, desc); err != nil {
			return nil, fmt.Errorf("loading %s: %w", desc.Digest, err)
		}
		if err := nameLoaded(st, d, desc, &out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// nameLoaded names desc as the index.json entry d says, adding the name
// (or, unnamed, the digest) to out.
func nameLoaded(st *store.Store, d, desc v1.Descriptor, out *[]string) error {
	n := entryName(d.Annotations)
	if n == "" {
		*out = append(*out, desc.Digest.String())
		return nil
	}
	if err := st.Tag(n, desc); err != nil {
		return fmt.Errorf("loading %s: %w", n, err)
	}
	norm, _ := store.NormalizeName(n)
	*out = append(*out, norm)
	return nil
}

// entryName is the name of an index entry: its containerd name, else its
// OCI ref name when that is a whole image name ("app:1", "reg/app") rather
// than a bare tag ("latest"), which names nothing on its own.
func entryName(ann map[string]string) string {
	if n := ann[ContainerdNameAnnotation]; n != "" {
		if _, err := name.ParseReference(n); err == nil {
			return n
		}
	}
	n := ann[store.RefNameAnnotation]
	if n == "" || !strings.ContainsAny(n, ":/@") {
		return ""
	}
	if _, err := name.ParseReference(n); err != nil {
		return ""
	}
	return n
}

// loadDockerArchive imports the images of a docker-archive tar at path.
func loadDockerArchive(ctx context.Context, st *store.Store, path string) ([]string, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("loading: reading manifest.json: %w", err)
	}
	var out []string
	for i, entry := range m {
		var tag *name.Tag
		if len(entry.RepoTags) > 0 {
			t, err := name.NewTag(entry.RepoTags[0])
			if err != nil {
				return nil, fmt.Errorf("loading: image %d: %w", i, err)
			}
			tag = &t
		} else if len(m) > 1 {
			return nil, fmt.Errorf("loading: image %d of the archive has no name, and unnamed images can be read only from an archive holding one", i)
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, fmt.Errorf("loading: image %d: %w", i, err)
		}
		desc, err := st.WriteImage(ctx, img)
		if err != nil {
			return nil, fmt.Errorf("loading: image %d: %w", i, err)
		}
		if len(entry.RepoTags) == 0 {
			out = append(out, desc.Digest.String())
		}
		for _, n := range entry.RepoTags {
			if err := st.Tag(n, desc); err != nil {
				return nil, fmt.Errorf("loading %s: %w", n, err)
			}
			norm, _ := store.NormalizeName(n)
			out = append(out, norm)
		}
	}
	return out, nil
}

// recordLayers checks that the blobs of the image desc are in st and
// records each layer's diffID, from the config, as WriteImage would; it
// reads no layer.
func recordLayers(st *store.Store, desc v1.Descriptor) error {
	raw, err := st.ReadBlob(desc.Digest)
	if err != nil {
		return fmt.Errorf("the archive lacks the manifest: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("reading the manifest: %w", err)
	}
	rawCfg, err := st.ReadBlob(m.Config.Digest)
	if err != nil {
		return fmt.Errorf("the archive lacks the config: %w", err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return fmt.Errorf("reading the config: %w", err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return fmt.Errorf("the config lists %d layers, the manifest %d", len(cfg.RootFS.DiffIDs), len(m.Layers))
	}
	for i, l := range m.Layers {
		if !st.HasBlob(l.Digest) {
			return fmt.Errorf("the archive lacks layer %s: %w", l.Digest, store.ErrNotFound)
		}
		if err := st.AddLayerBlob(cfg.RootFS.DiffIDs[i], l); err != nil {
			return err
		}
	}
	return nil
}
