package remotecache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/whittle-build/whittle/internal/export"
	"github.com/whittle-build/whittle/internal/solver"
	"github.com/whittle-build/whittle/internal/store"
)

// Keys returns the cache keys a build's export holds in mode: for ModeMin
// the target stage's chain, for ModeMax every step of every stage, in
// stage order, each once.
func Keys(res *solver.Result, target int, mode Mode) []v1.Hash {
	if mode != ModeMax {
		return slices.Clone(res.Keys[target])
	}
	stages := make([]int, 0, len(res.Keys))
	for i := range res.Keys {
		stages = append(stages, i)
	}
	slices.Sort(stages)
	seen := map[v1.Hash]bool{}
	var out []v1.Hash
	for _, i := range stages {
		for _, k := range res.Keys[i] {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// WriteAll exports a build's cache to every --cache-to spec. A spec with
// IgnoreError only warns when its export fails.
func WriteAll(ctx context.Context, st *store.Store, specs []Spec, res *solver.Result, target int, o Options) error {
	for _, spec := range specs {
		_, err := Write(ctx, st, Keys(res, target, spec.Mode), spec, o)
		if err != nil && (!spec.IgnoreError || ctx.Err() != nil) {
			return err
		}
	}
	return nil
}

// Summary says what an export wrote.
type Summary struct {
	// Manifest is the artifact's manifest.
	Manifest v1.Descriptor
	// Records, Layers and Mounts count what the artifact holds.
	Records, Layers, Mounts int
	// Skipped are keys that had no usable record in the store.
	Skipped []v1.Hash
}

// Write exports the records of keys, the layers they need (base image
// layers excepted) and, with spec.Mounts, the store's cache mount
// directories to spec's location, replacing the artifact there. Layers
// that have no compressed blob in the store yet are compressed first.
// Progress shows it as one vertex, "exporting cache to ...".
func Write(ctx context.Context, st *store.Store, keys []v1.Hash, spec Spec, o Options) (*Summary, error) {
	v := o.progress().Start("exporting cache to " + spec.String())
	sum, err := write(ctx, st, keys, spec, o, v)
	if err != nil {
		err = fmt.Errorf("exporting cache to %s: %w", spec, err)
		if spec.IgnoreError && ctx.Err() == nil {
			fmt.Fprintf(v, "WARNING: %v\n", err)
			v.Done(nil, false)
			return nil, err
		}
	} else {
		fmt.Fprintf(v, "%d records, %d layers, %d cache mounts: %s\n", sum.Records, sum.Layers, sum.Mounts, sum.Manifest.Digest)
	}
	v.Done(err, ctx.Err() != nil)
	return sum, err
}

func write(ctx context.Context, st *store.Store, keys []v1.Hash, spec Spec, o Options, log io.Writer) (*Summary, error) {
	loc, err := spec.open(ctx, o.Registry)
	if err != nil {
		return nil, err
	}
	sum := &Summary{}
	var cfg Config
	var layers []v1.Hash
	needed := map[v1.Hash]bool{}
	blobs := map[v1.Hash]bool{}
	seen := map[v1.Hash]bool{}
	for _, key := range keys {
		if seen[key] {
			continue
		}
		seen[key] = true
		rec, built, err := record(st, key)
		if err != nil {
			fmt.Fprintf(log, "skipping step %s: %v\n", key, err)
			sum.Skipped = append(sum.Skipped, key)
			continue
		}
		for _, d := range built {
			if !needed[d] {
				needed[d] = true
				layers = append(layers, d)
			}
		}
		for _, b := range rec.Blobs {
			blobs[b] = true
		}
		cfg.Records = append(cfg.Records, Record{Key: key, CacheRecord: *rec})
	}
	slices.SortFunc(cfg.Records, func(a, b Record) int { return strings.Compare(a.Key.String(), b.Key.String()) })

	// The layers' compressed blobs, made where missing (two at a time:
	// compression is CPU-bound).
	comp := spec.Compression
	if comp == "" {
		comp = o.Compression
	}
	descs := make([]v1.Descriptor, len(layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for i, d := range layers {
		g.Go(func() error {
			desc, err := export.LayerBlob(gctx, st, export.Layer{DiffID: d}, export.Options{Compression: comp, Epoch: o.Epoch})
			if err != nil {
				return err
			}
			desc.Annotations = map[string]string{AnnotationDiffID: d.String()}
			descs[i] = desc
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	opens := map[v1.Hash]func() (io.ReadCloser, error){}
	for _, d := range descs {
		opens[d.Digest] = storeBlob(st, d.Digest)
	}
	for b := range blobs {
		fi, err := os.Stat(st.BlobPath(b))
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", b, err)
		}
		descs = append(descs, v1.Descriptor{MediaType: BlobMediaType, Size: fi.Size(), Digest: b})
		opens[b] = storeBlob(st, b)
	}

	if spec.Mounts {
		scratch, err := st.TempDir("cache-export-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(scratch)
		mounts, err := packMounts(ctx, st, scratch)
		if err != nil {
			return nil, err
		}
		for _, m := range mounts {
			cfg.Mounts = append(cfg.Mounts, m.Mount)
			descs = append(descs, m.desc)
			file := m.file
			opens[m.desc.Digest] = func() (io.ReadCloser, error) { return os.Open(file) }
		}
	}
	sortDescriptors(descs)

	// Blobs first, in parallel; then the config and the manifest that
	// names them all.
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(o.jobs())
	uploaded := map[v1.Hash]bool{}
	for _, d := range descs {
		if uploaded[d.Digest] {
			continue
		}
		uploaded[d.Digest] = true
		g.Go(func() error { return loc.writeBlob(gctx, d, opens[d.Digest]) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	cb, err := json.Marshal(&cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding the cache config: %w", err)
	}
	cdesc := v1.Descriptor{MediaType: ConfigMediaType, Size: int64(len(cb)), Digest: digest(cb)}
	if err := loc.writeBlob(ctx, cdesc, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cb)), nil }); err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactType,
		Config:        cdesc,
		Layers:        descs,
	}
	if m.Layers == nil {
		m.Layers = []v1.Descriptor{}
	}
	mb, err := json.Marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("encoding the cache manifest: %w", err)
	}
	if err := loc.putManifest(ctx, mb, types.OCIManifestSchema1); err != nil {
		return nil, err
	}
	sum.Manifest = v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: int64(len(mb)), Digest: digest(mb)}
	sum.Records, sum.Layers, sum.Mounts = len(cfg.Records), len(layers), len(cfg.Mounts)
	return sum, nil
}

// record returns the store's record under key and the diffIDs of the
// layers the step's chain built (those after its base image's).
func record(st *store.Store, key v1.Hash) (*store.CacheRecord, []v1.Hash, error) {
	rec, err := st.Cache(key)
	if err != nil {
		return nil, nil, err
	}
	var state solver.State
	if err := json.Unmarshal(rec.Value, &state); err != nil {
		return nil, nil, fmt.Errorf("reading the record's value: %w", err)
	}
	if err := consistent(key, rec, &state); err != nil {
		return nil, nil, err
	}
	base := 0
	if state.Base != nil {
		base = state.Base.Layers
	}
	return rec, rec.Layers[base:], nil
}

// consistent checks that a record's value is the state of key and names
// the same layers as the record.
func consistent(key v1.Hash, rec *store.CacheRecord, state *solver.State) error {
	if state.Key != key {
		return fmt.Errorf("the record's state has key %s", state.Key)
	}
	if len(state.Layers) != len(rec.Layers) {
		return fmt.Errorf("the record names %d layers, its state %d", len(rec.Layers), len(state.Layers))
	}
	for i, l := range state.Layers {
		if l.DiffID != rec.Layers[i] {
			return fmt.Errorf("layer %d of the record is %s, of its state %s", i, rec.Layers[i], l.DiffID)
		}
	}
	if state.Base != nil && (state.Base.Layers < 0 || state.Base.Layers > len(rec.Layers)) {
		return fmt.Errorf("the record's base has %d layers of %d", state.Base.Layers, len(rec.Layers))
	}
	return nil
}

func storeBlob(st *store.Store, h v1.Hash) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return st.OpenBlob(h) }
}

func digest(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}
