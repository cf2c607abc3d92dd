package remotecache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/singleflight"

	"github.com/whittle-build/whittle/internal/solver"
	"github.com/whittle-build/whittle/internal/store"
)

// ErrNoRecord is returned by Import for a key the cache has no usable
// record of.
var ErrNoRecord = errors.New("no such record in the cache")

// Source is a cache artifact opened for import. It is a
// solver.CacheSource: the solver asks it for the records its store lacks,
// and only those records' layers are fetched. It is safe for concurrent use.
type Source struct {
	st   *store.Store
	spec Spec
	loc  location
	art  *artifact
	o    Options
	// fetches deduplicates concurrent fetches of one layer.
	fetches singleflight.Group
}

var _ solver.CacheSource = (*Source)(nil)

// Open reads the manifest and config of the cache at spec's location (the
// config verified against its digest) for importing into st. It returns an
// error wrapping ErrNoCache when there is none yet, and one wrapping
// ErrNotCache when the manifest there is something else.
func Open(ctx context.Context, st *store.Store, spec Spec, o Options) (*Source, error) {
	loc, err := spec.open(ctx, o.Registry)
	if err != nil {
		return nil, err
	}
	raw, err := loc.manifest(ctx)
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(raw)
	if err != nil {
		return nil, err
	}
	rc, err := loc.blob(ctx, m.Config)
	if err != nil {
		return nil, err
	}
	cfg, err := readVerified(rc, m.Config)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the cache config: %w", err)
	}
	art, err := parseArtifact(m, cfg)
	if err != nil {
		return nil, err
	}
	return &Source{st: st, spec: spec, loc: loc, art: art, o: o}, nil
}

// Len returns how many records the cache holds.
func (s *Source) Len() int { return len(s.art.records) }

// Import writes the record of key into the store, after fetching the
// layers it needs that the store lacks (each verified against its digest
// and its diffID). It returns an error wrapping ErrNoRecord when the cache
// has no record of key, and another error when the record cannot be used:
// a layer is in neither the store nor the cache, or a blob fails its
// check. Either way nothing is recorded under key and the step runs.
func (s *Source) Import(ctx context.Context, key v1.Hash) error {
	rec, ok := s.art.records[key]
	if !ok {
		return fmt.Errorf("%s: %w", key, ErrNoRecord)
	}
	var state solver.State
	if err := json.Unmarshal(rec.Value, &state); err != nil {
		return fmt.Errorf("cache record %s: %w", key, err)
	}
	if err := consistent(key, &rec.CacheRecord, &state); err != nil {
		return fmt.Errorf("cache record %s: %w", key, err)
	}
	for i, diffID := range rec.Layers {
		if state.Base != nil && i < state.Base.Layers && s.adoptBaseLayer(&state, i) {
			continue
		}
		if err := s.layer(ctx, diffID); err != nil {
			return fmt.Errorf("cache record %s: %w", key, err)
		}
	}
	for _, h := range rec.Blobs {
		if err := s.blob(ctx, h); err != nil {
			return fmt.Errorf("cache record %s: %w", key, err)
		}
	}
	return s.st.PutCache(key, &rec.CacheRecord)
}

// adoptBaseLayer makes sure the store knows a blob of layer i of state,
// which comes from its base image, and reports whether it does. An image
// copied into the store by another tool (skopeo copy into the OCI layout)
// has its blobs there but no record of which layer each blob is: the
// image's own manifest and config, read from the store, say so.
func (s *Source) adoptBaseLayer(state *solver.State, i int) bool {
	diffID := state.Layers[i].DiffID
	if s.st.HasSnapshot(diffID) {
		return true
	}
	if _, err := s.st.LayerBlob(diffID, nil); err == nil {
		return true
	}
	raw, err := s.st.ReadBlob(state.Base.Digest)
	if err != nil {
		return false
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil || i >= len(m.Layers) || !s.st.HasBlob(m.Layers[i].Digest) {
		return false
	}
	cb, err := s.st.ReadBlob(m.Config.Digest)
	if err != nil {
		return false
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cb))
	if err != nil || i >= len(cfg.RootFS.DiffIDs) || cfg.RootFS.DiffIDs[i] != diffID {
		return false
	}
	return s.st.AddLayerBlob(diffID, plain(m.Layers[i])) == nil
}

// layer makes sure the store has the layer diffID, unpacked or compressed,
// fetching it from the cache if not.
func (s *Source) layer(ctx context.Context, diffID v1.Hash) error {
	if s.st.HasSnapshot(diffID) {
		return nil
	}
	if _, err := s.st.LayerBlob(diffID, nil); err == nil {
		return nil
	}
	desc, ok := s.art.layers[diffID]
	if !ok {
		return fmt.Errorf("layer %s is in neither the store nor the cache", diffID)
	}
	_, err, _ := s.fetches.Do("layer "+diffID.String(), func() (any, error) {
		if _, err := s.st.LayerBlob(diffID, nil); err == nil {
			return nil, nil
		}
		v := s.o.progress().Start(fmt.Sprintf("importing cache layer %s (%s) from %s", short(diffID), size(desc.Size), s.spec))
		err := s.fetchLayer(ctx, desc, diffID)
		v.Done(err, ctx.Err() != nil)
		return nil, err
	})
	return err
}

func (s *Source) fetchLayer(ctx context.Context, desc v1.Descriptor, diffID v1.Hash) error {
	if s.st.HasBlob(desc.Digest) {
		if err := verifyStored(s.st, desc, diffID); err != nil {
			return err
		}
		return s.st.AddLayerBlob(diffID, desc)
	}
	rc, err := s.loc.blob(ctx, desc)
	if err != nil {
		return err
	}
	defer rc.Close()
	return storeLayer(s.st, ctxReader{ctx, rc}, desc, diffID)
}

// blob makes sure the store has the blob h, fetching it from the cache if not.
func (s *Source) blob(ctx context.Context, h v1.Hash) error {
	if s.st.HasBlob(h) {
		return nil
	}
	desc, ok := s.art.blobs[h]
	if !ok {
		return fmt.Errorf("blob %s is in neither the store nor the cache", h)
	}
	_, err, _ := s.fetches.Do("blob "+h.String(), func() (any, error) {
		rc, err := s.loc.blob(ctx, desc)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		_, _, err = s.st.WriteBlob(ctxReader{ctx, rc}, h)
		return nil, err
	})
	return err
}

// RestoreMounts unpacks the cache mounts the cache holds into the store,
// each one the store does not have yet, and returns the ids restored.
func (s *Source) RestoreMounts(ctx context.Context) ([]string, error) {
	var done []string
	for _, m := range s.art.mounts {
		desc := s.art.mountBlobs[m.ID]
		rc, err := s.loc.blob(ctx, desc)
		if err != nil {
			return done, err
		}
		ok, err := restoreMount(ctx, s.st, m, ctxReader{ctx, rc}, desc)
		rc.Close()
		if err != nil {
			return done, err
		}
		if ok {
			done = append(done, m.ID)
		}
	}
	return done, nil
}

// Sources are several caches, asked in order.
type Sources []*Source

var _ solver.CacheSource = Sources(nil)

// Import imports key from the first source that has a usable record of it.
func (ss Sources) Import(ctx context.Context, key v1.Hash) error {
	var errs []error
	for _, s := range ss {
		err := s.Import(ctx, key)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return fmt.Errorf("%s: %w", key, ErrNoRecord)
	}
	return errors.Join(errs...)
}

// OpenAll opens every --cache-from spec and restores the cache mounts of
// those that ask for it. A cache that is missing or cannot be read is a
// warning on its progress vertex, never a failed build: the steps run.
// Only ctx's end is an error. The result is nil when no cache opened.
func OpenAll(ctx context.Context, st *store.Store, specs []Spec, o Options) (Sources, error) {
	var out Sources
	for _, spec := range specs {
		v := o.progress().Start("importing cache manifest from " + spec.String())
		src, err := Open(ctx, st, spec, o)
		if err == nil && spec.Mounts {
			var ids []string
			ids, err = src.RestoreMounts(ctx)
			for _, id := range ids {
				fmt.Fprintf(v, "restored cache mount %s\n", id)
			}
		}
		if ctx.Err() != nil {
			v.Done(ctx.Err(), true)
			return nil, ctx.Err()
		}
		switch {
		case errors.Is(err, ErrNoCache):
			fmt.Fprintf(v, "no cache at %s yet\n", spec)
		case err != nil:
			fmt.Fprintf(v, "WARNING: importing cache from %s: %v\n", spec, err)
		}
		if src != nil {
			fmt.Fprintf(v, "%d records\n", src.Len())
			out = append(out, src)
		}
		v.Done(nil, false)
	}
	return out, nil
}

func short(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Algorithm + ":" + h.Hex[:12]
	}
	return h.String()
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
