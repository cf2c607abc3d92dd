package remotecache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/whittle-build/whittle/internal/store"
)

// Media types and annotations of the cache artifact; docs/cache-format.md
// describes them.
const (
	// ArtifactType is the manifest's artifactType.
	ArtifactType = "application/vnd.whittle.build.cache.v1"
	// ConfigMediaType is the media type of the config blob, a Config in JSON.
	ConfigMediaType types.MediaType = "application/vnd.whittle.build.cache.config.v1+json"
	// BlobMediaType is the media type of a blob a record names besides its
	// layers (store.CacheRecord.Blobs), stored byte for byte.
	BlobMediaType types.MediaType = "application/octet-stream"
	// AnnotationDiffID, on a layer descriptor, is the diffID (sha256 of the
	// uncompressed tar) of the step layer the blob is a compressed form of.
	AnnotationDiffID = "dev.whittle.cache.diffid"
	// AnnotationMount, on a layer descriptor, is the id of the cache mount
	// whose directory the blob holds (a zstd-compressed tar).
	AnnotationMount = "dev.whittle.cache.mount"
)

// maxConfigSize bounds the config blob an import reads into memory.
const maxConfigSize = 64 << 20

// Config is the artifact's config blob: the step records and the cache
// mounts it holds.
type Config struct {
	// Records are the step cache records, sorted by key.
	Records []Record `json:"records"`
	// Mounts are the cache mount directories (mounts=true), sorted by ID.
	Mounts []Mount `json:"mounts,omitempty"`
}

// Record is one step's cache record under its key. The store's
// record is kept as is: the diffIDs of every layer of the step's result
// (bottom first, base image layers included), other blobs it needs, and
// the solver's value (the result's state, layers and image config).
type Record struct {
	Key v1.Hash `json:"key"`
	store.CacheRecord
}

// Mount is a cache mount directory in the artifact.
type Mount struct {
	// ID names the directory under the store's mounts/.
	ID string `json:"id"`
	// DiffID is the sha256 of the directory's uncompressed tar.
	DiffID v1.Hash `json:"diffID"`
	// Mode is the directory's permission bits (setuid, setgid and sticky
	// included); UID and GID its owner.
	Mode uint32 `json:"mode"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

// artifact is a cache artifact as read: its records, and its blobs by role.
type artifact struct {
	records map[v1.Hash]*Record
	mounts  []Mount
	// layers are the compressed step layers, by diffID.
	layers map[v1.Hash]v1.Descriptor
	// mountBlobs are the mount tars, by mount id.
	mountBlobs map[string]v1.Descriptor
	// blobs are the other blobs, by digest.
	blobs map[v1.Hash]v1.Descriptor
}

// ErrNotCache is returned for a manifest that is not a whittle cache.
var ErrNotCache = errors.New("not a whittle build cache")

// parseManifest checks that raw is a cache artifact's manifest and returns it.
func parseManifest(raw []byte) (*v1.Manifest, error) {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing the cache manifest: %w", err)
	}
	if m.Config.MediaType != ConfigMediaType {
		return nil, fmt.Errorf("the manifest's config is %q, not %q: %w", m.Config.MediaType, ConfigMediaType, ErrNotCache)
	}
	if m.Config.Size > maxConfigSize {
		return nil, fmt.Errorf("the cache config is %d bytes, more than the %d allowed", m.Config.Size, maxConfigSize)
	}
	return m, nil
}

// parseArtifact reads the manifest m with its config blob cfg (whose
// digest the caller has checked) and indexes the blobs by role. It
// refuses an artifact whose parts disagree, so that an import never
// starts on one it cannot finish.
func parseArtifact(m *v1.Manifest, cfg []byte) (*artifact, error) {
	var c Config
	if err := json.Unmarshal(cfg, &c); err != nil {
		return nil, fmt.Errorf("parsing the cache config: %w", err)
	}
	a := &artifact{
		records:    map[v1.Hash]*Record{},
		mounts:     c.Mounts,
		layers:     map[v1.Hash]v1.Descriptor{},
		mountBlobs: map[string]v1.Descriptor{},
		blobs:      map[v1.Hash]v1.Descriptor{},
	}
	for _, d := range m.Layers {
		switch {
		case d.Annotations[AnnotationDiffID] != "":
			diffID, err := v1.NewHash(d.Annotations[AnnotationDiffID])
			if err != nil {
				return nil, fmt.Errorf("layer %s: %s: %w", d.Digest, AnnotationDiffID, err)
			}
			a.layers[diffID] = plain(d)
		case d.Annotations[AnnotationMount] != "":
			a.mountBlobs[d.Annotations[AnnotationMount]] = plain(d)
		default:
			a.blobs[d.Digest] = plain(d)
		}
	}
	for i := range c.Records {
		r := &c.Records[i]
		if r.Key.Algorithm != "sha256" || len(r.Key.Hex) != 64 {
			return nil, fmt.Errorf("record %d has an invalid key %q", i, r.Key)
		}
		a.records[r.Key] = r
	}
	for _, mt := range c.Mounts {
		if err := checkMountID(mt.ID); err != nil {
			return nil, err
		}
		if _, ok := a.mountBlobs[mt.ID]; !ok {
			return nil, fmt.Errorf("cache mount %q has no blob in the manifest", mt.ID)
		}
	}
	return a, nil
}

// plain is d without annotations, URLs or platform: how the store records it.
func plain(d v1.Descriptor) v1.Descriptor {
	return v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest}
}

// checkMountID refuses a mount id that is not the name the store gives
// cache mount directories (64 lower-case hex digits, see mountsDir), so
// that an artifact cannot write anywhere else.
func checkMountID(id string) error {
	if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
		return fmt.Errorf("cache mount id %q is not a store cache mount name (64 hex digits)", id)
	}
	return nil
}

// sortDescriptors orders the manifest's layers: step layers by diffID,
// then other blobs by digest, then mounts by id, so that the same cache
// gives the same manifest.
func sortDescriptors(ds []v1.Descriptor) {
	rank := func(d v1.Descriptor) (int, string) {
		if v := d.Annotations[AnnotationDiffID]; v != "" {
			return 0, v
		}
		if v := d.Annotations[AnnotationMount]; v != "" {
			return 2, v
		}
		return 1, d.Digest.String()
	}
	slices.SortFunc(ds, func(a, b v1.Descriptor) int {
		ra, ka := rank(a)
		rb, kb := rank(b)
		if ra != rb {
			return ra - rb
		}
		return strings.Compare(ka, kb)
	})
}
