package analyze

import (
	"context"
	"fmt"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
)

// Analyze reads img's layers, streaming (nothing is unpacked to disk), and
// reports where its bytes and attack surface come from. ref is how the
// caller named the image; it is copied into the report as given.
//
// Layers are read concurrently (Options.Concurrency at a time); memory
// holds one metadata record per tar entry, the package databases, and at
// most one binary per reader (see Options.MaxBinarySize).
func Analyze(ctx context.Context, img v1.Image, ref string, opts Options) (*Report, error) {
	a, err := analyzeImage(ctx, img, ref, opts)
	if err != nil {
		return nil, err
	}
	return a.report, nil
}

// analysis is a report with the merged filesystem it was made from, which
// Diff compares.
type analysis struct {
	report *Report
	fs     *filesystem
	config *v1.ConfigFile
}

func analyzeImage(ctx context.Context, img v1.Image, ref string, opts Options) (*analysis, error) {
	opts = opts.withDefaults()
	if err := ValidateRules(opts.Forbid); err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("computing image digest: %w", err)
	}
	manifest, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	config, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}

	scans := make([]*layerScan, len(layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	for i, layer := range layers {
		g.Go(func() error {
			w := &walker{opts: opts}
			scan, err := w.walk(gctx, layer)
			if err != nil {
				return fmt.Errorf("reading layer %d of %s: %w", i, digest, err)
			}
			scans[i] = scan
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	r := &Report{
		SchemaVersion: SchemaVersion,
		Image:         ImageRef{Digest: digest.String(), Ref: ref},
		User:          config.Config.User,
		ExposedPorts:  sortedKeys(config.Config.ExposedPorts),
		Findings:      []Finding{},
		Packages:      []Package{},
		Notes:         []string{},
	}
	if config.OS != "" {
		r.Platform = config.OS + "/" + config.Architecture
		if config.Variant != "" {
			r.Platform += "/" + config.Variant
		}
	}

	r.Base = findBase(manifest, config, len(layers))
	r.Layers = describeLayers(manifest, config, layers, scans, r)

	fs := newFilesystem()
	for i, scan := range scans {
		fs.apply(i, scan)
		for _, n := range scan.notes {
			r.Notes = append(r.Notes, fmt.Sprintf("layer %d: %s", i, n))
		}
		scans[i] = nil // the entries now live in fs
	}
	r.Notes = append(r.Notes, fs.notes...)

	for _, b := range fs.blobs {
		r.LayerFileBytes += b.size
		r.Layers[b.layer].FileBytes += b.size
		if b.refs <= 0 {
			r.WastedBytes += b.size
			r.Layers[b.layer].WastedBytes += b.size
		}
	}
	r.Efficiency = 1
	if r.LayerFileBytes > 0 {
		r.Efficiency = 1 - float64(r.WastedBytes)/float64(r.LayerFileBytes)
	}

	summarizeFiles(fs, r, opts)
	r.Packages = append(r.Packages, findPackages(fs, r)...)
	sort.SliceStable(r.Packages, func(i, j int) bool {
		if r.Packages[i].Bytes != r.Packages[j].Bytes {
			return r.Packages[i].Bytes > r.Packages[j].Bytes
		}
		return r.Packages[i].Name < r.Packages[j].Name
	})
	r.Findings = append(r.Findings, findAttackSurface(fs, config, r)...)
	sortFindings(r.Findings)
	return &analysis{report: r, fs: fs, config: config}, nil
}

// describeLayers fills the per-layer part of the report from the manifest
// (digests and compressed sizes: no blob is read for them), the config
// (diff IDs, history) and the scans (sizes, counts).
func describeLayers(m *v1.Manifest, cfg *v1.ConfigFile, layers []v1.Layer, scans []*layerScan, r *Report) []Layer {
	out := make([]Layer, len(layers))
	createdBy, ok := layerHistory(cfg, len(layers))
	if !ok && len(cfg.History) > 0 {
		r.Notes = append(r.Notes, "the config history does not match the layers; createdBy left empty")
	}
	for i, scan := range scans {
		l := Layer{Index: i, Size: scan.size, FromBase: i < r.Base.Layers}
		if i < len(m.Layers) {
			d := m.Layers[i]
			l.Digest, l.CompressedSize, l.MediaType = d.Digest.String(), d.Size, string(d.MediaType)
		}
		if i < len(cfg.RootFS.DiffIDs) {
			l.DiffID = cfg.RootFS.DiffIDs[i].String()
		}
		if ok {
			l.CreatedBy = createdBy[i]
		}
		for _, e := range scan.entries {
			switch e.kind {
			case kindWhiteout, kindOpaque:
				l.Whiteouts++
			case kindDir:
			default:
				l.Files++
			}
		}
		r.CompressedSize += l.CompressedSize
		r.Size += l.Size
		out[i] = l
	}
	return out
}

// layerHistory returns the created_by of each layer's history entry; ok is
// false when the non-empty history entries do not match the layers.
func layerHistory(cfg *v1.ConfigFile, n int) (createdBy []string, ok bool) {
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			createdBy = append(createdBy, h.CreatedBy)
		}
	}
	return createdBy, len(createdBy) == n
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
