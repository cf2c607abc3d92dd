package distroless

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/debian"
	"github.com/whittle-build/whittle/internal/export"
	"github.com/whittle-build/whittle/internal/output"
	"github.com/whittle-build/whittle/internal/progress"
	"github.com/whittle-build/whittle/internal/store"
)

// Options are the inputs of Build besides the recipe, as `whittle base`
// flags give them. The zero value builds for bookworm on the host's
// architecture from the host's apt sources.
type Options struct {
	// Suite is the Debian release. Default DefaultSuite (bookworm).
	Suite string
	// Arch is the Debian architecture (amd64, arm64, ...). Default the
	// host's.
	Arch string
	// Include adds packages to the recipe's.
	Include []string
	// NonRoot runs the image as nonroot (65532) in /home/nonroot.
	NonRoot bool
	// Debug adds busybox at /busybox (applets linked there, on PATH) and
	// makes /busybox/sh the entrypoint.
	Debug bool
	// Mirror and Keyring replace the host's apt sources and their keys
	// (see debian.RepositoryConfig). AptRoot is the host root whose apt
	// sources are read; default "/".
	Mirror, Keyring, AptRoot string
	// LockFile is written with the resolved set; with Locked it is read
	// instead and exactly its packages are built.
	LockFile string
	Locked   bool
	// Explain receives why each package is in.
	Explain io.Writer
	// SBOMDir receives the SBOM as sbom.spdx.json (SPDX 2.3) and
	// sbom.cdx.json (CycloneDX 1.5). The SBOM is attached to the image in
	// the store either way (see Attach).
	SBOMDir string
	// Epoch is SOURCE_DATE_EPOCH: the image's creation time and the
	// latest file time. Default: the newest file time of the packages, so
	// the same package set gives the same image.
	Epoch *time.Time
	// Compression of the layers. Default gzip.
	Compression archive.Compression
	// Client fetches from the archive. Default a client with the default
	// cache directory.
	Client *debian.Client
	// NoCache rebuilds every layer and resolves again even when the store
	// has them.
	NoCache bool
	// Tags name the image; default the distroless-style name (see
	// DefaultName).
	Tags []string
	// Outputs are where the image goes; default the store (type=image).
	Outputs []output.Spec
	// OutputOptions configure registry and standard-output outputs.
	OutputOptions output.Options
	// Progress receives events; default discard.
	Progress progress.Sink
	// Runner runs dpkg for the debian recipe. Default the sandbox.
	Runner Runner
	// Jobs bounds how many packages are turned into layers at once.
	// Default GOMAXPROCS.
	Jobs int
}

// Result is a built base image.
type Result struct {
	// Descriptor is the image manifest's descriptor in the store.
	Descriptor v1.Descriptor
	// Names are the names the image was given.
	Names []string
	// Lock is the package set, as written to Options.LockFile.
	Lock *debian.Lock
	// Layers describe the image's layers, bottom first.
	Layers []LayerInfo
	// Size is the sum of the layers' uncompressed tar sizes;
	// CompressedSize of their blobs.
	Size, CompressedSize int64
	// SBOM is the image's bill of materials.
	SBOM *SBOM
	// Referrers are the SBOM manifests attached to the image in the store.
	Referrers []v1.Descriptor
	// Warnings are things the caller should tell the user.
	Warnings []string
}

// LayerInfo describes one layer of a base image.
type LayerInfo struct {
	// Package and Version name the package the layer holds; Package is
	// empty for the layer of generated files (and the debian recipe's
	// single layer).
	Package, Version string
	DiffID           v1.Hash
	Blob             v1.Descriptor
	Size             int64
	// Cached says the layer came from the store's cache.
	Cached bool
}

// packageLayer is a package turned into a layer.
type packageLayer struct {
	Name    string      `json:"name"`
	Version string      `json:"version"`
	Arch    string      `json:"arch"`
	SHA256  string      `json:"sha256"`
	Layer   storedLayer `json:"layer"`
	Facts   layerFacts  `json:"facts"`
	cached  bool
	locked  debian.LockedPackage
	// history is the layer's history entry, when not the default.
	history string
	// bootstrapPkgs are the packages the debian recipe's layer holds.
	bootstrapPkgs []sbomPackage
}

// builder holds one Build's state.
type builder struct {
	st     *store.Store
	recipe *Recipe
	suite  Suite
	arch   string
	o      Options
	rec    *progress.Recorder
	merge  *usrMerge
	client *debian.Client
	// userEpoch is Options.Epoch (layers are clamped to it).
	userEpoch *time.Time
	// repos are the repositories the packages come from.
	repos []debian.Repository
}

// Build builds recipe (a built-in from Builtin, or a file from
// ReadRecipeFile, not yet flattened) into st and writes it to the outputs.
//
// The steps: resolve the recipe's packages (or read the lock), fetch and
// verify the .debs, turn each package into one layer (its files and its
// status.d entries, cached in the store by the .deb's SHA256), add a layer
// of generated files (users, CA bundle, alternatives, ...), write the image
// config and manifest, make the SBOM and attach it, deliver the outputs.
// The debian recipe instead installs its packages with dpkg in the sandbox,
// into one layer.
func Build(ctx context.Context, st *store.Store, recipe *Recipe, o Options) (*Result, error) {
	if o.Suite == "" {
		o.Suite = DefaultSuite
	}
	suite, err := LookupSuite(o.Suite)
	if err != nil {
		return nil, err
	}
	if o.Arch == "" {
		o.Arch = HostArch()
	}
	if _, err := platformOf(o.Arch); err != nil {
		return nil, err
	}
	if o.Compression == "" {
		o.Compression = archive.Gzip
	}
	if o.Jobs <= 0 {
		o.Jobs = runtime.GOMAXPROCS(0)
	}
	if o.Locked && o.LockFile == "" {
		return nil, errors.New("--locked needs --lock FILE")
	}
	r, err := Flatten(recipe, suite)
	if err != nil {
		return nil, err
	}
	for _, inc := range o.Include {
		if strings.TrimSpace(inc) != "" {
			r.Packages = appendUnique(r.Packages, []string{strings.TrimSpace(inc)})
		}
	}
	r.Prune = without(r.Prune, r.Packages)
	if o.Debug {
		if r.bootstrap {
			return nil, errors.New("--debug is for distroless recipes: the debian recipe has a shell already")
		}
		r.Packages = appendUnique(r.Packages, []string{pkgBusybox})
	}
	if o.NonRoot {
		r.User, r.Workdir = fmt.Sprint(NonRootUID), "/home/nonroot"
	}
	b := &builder{st: st, recipe: r, suite: suite, arch: o.Arch, o: o, rec: progress.NewRecorder(o.Progress), userEpoch: o.Epoch}
	merged := suite.MergedUsr
	if r.MergedUsr != nil {
		merged = *r.MergedUsr
	}
	if merged {
		b.merge = newUsrMerge(o.Arch)
	}
	if b.client = o.Client; b.client == nil {
		if b.client, err = debian.New(); err != nil {
			return nil, err
		}
	}
	return b.build(ctx)
}

func (b *builder) build(ctx context.Context) (*Result, error) {
	res := &Result{}
	v := b.rec.Start(fmt.Sprintf("[%s] resolving packages (%s %s)", b.recipe.Name, b.suite.Name, b.arch))
	sol, err := b.resolve(ctx)
	if err == nil && b.o.Explain != nil {
		err = sol.explain(b.o.Explain)
	}
	if err == nil && b.o.LockFile != "" && !b.o.Locked {
		err = sol.lock.WriteFile(b.o.LockFile)
	}
	if err == nil && sol.cached {
		v.Write([]byte("package set unchanged since the last build: resolution cached\n"))
	}
	v.Done(err, ctx.Err() != nil)
	if err != nil {
		return nil, err
	}
	res.Lock = sol.lock
	b.repos = sol.repos

	v = b.rec.Start(fmt.Sprintf("[%s] fetching %d packages", b.recipe.Name, len(sol.lock.Packages)))
	pkgs, err := sol.lock.Fetchable(sol.repos)
	var paths []string
	if err == nil {
		paths, err = b.client.FetchAll(ctx, pkgs)
	}
	v.Done(err, ctx.Err() != nil)
	if err != nil {
		return nil, err
	}

	var layers []*packageLayer
	if b.recipe.bootstrap {
		layers, err = b.bootstrap(ctx, sol.lock, paths)
	} else {
		layers, err = b.packageLayers(ctx, sol.lock, paths)
	}
	if err != nil {
		return nil, err
	}
	epoch := b.epoch(layers)
	if !b.recipe.bootstrap {
		res.Warnings = append(res.Warnings, conflicts(layers)...)
		v = b.rec.Start(fmt.Sprintf("[%s] generated files", b.recipe.Name))
		gen, err := b.generatedLayer(ctx, layers, epoch)
		v.Done(err, ctx.Err() != nil)
		if err != nil {
			return nil, err
		}
		layers = append(layers, gen)
	}

	v = b.rec.Start("exporting to image")
	cfg, err := b.config(layers, epoch)
	if err != nil {
		v.Done(err, false)
		return nil, err
	}
	var xl []export.Layer
	for _, l := range layers {
		blob := l.Layer.Blob
		xl = append(xl, export.Layer{DiffID: l.Layer.DiffID, Blob: &blob})
		res.Layers = append(res.Layers, LayerInfo{Package: l.Name, Version: l.Version, DiffID: l.Layer.DiffID, Blob: l.Layer.Blob, Size: l.Layer.Size, Cached: l.cached})
		res.Size += l.Layer.Size
		res.CompressedSize += l.Layer.Blob.Size
	}
	desc, err := export.Image(ctx, b.st, xl, cfg, export.Options{
		Compression: b.o.Compression,
		Annotations: map[string]string{
			"org.opencontainers.image.created": epoch.UTC().Format(time.RFC3339),
			AnnotationRecipe:                   b.recipe.Name,
			AnnotationSuite:                    b.suite.Name,
		},
	})
	if err != nil {
		v.Done(err, ctx.Err() != nil)
		return nil, err
	}
	res.Descriptor = desc
	v.Write([]byte(fmt.Sprintf("image %s\n", desc.Digest)))

	res.Names = b.o.Tags
	if len(res.Names) == 0 {
		res.Names = []string{DefaultName(b.recipe, b.suite, b.o)}
	}
	res.SBOM, err = sbomOf(layers, SBOMInfo{
		Image: desc, Name: res.Names[0], Recipe: b.recipe.Name, Suite: b.suite, Arch: b.arch, Created: epoch,
	})
	if err == nil && b.o.SBOMDir != "" {
		err = res.SBOM.WriteDir(b.o.SBOMDir)
	}
	if err == nil {
		err = b.deliver(ctx, desc, res)
	}
	v.Done(err, ctx.Err() != nil)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// The manifest annotations that say which recipe made a base image.
const (
	AnnotationRecipe = "dev.whittle.base.recipe"
	AnnotationSuite  = "dev.whittle.base.suite"
)

// DefaultName is the name an image gets without -t: distroless's, e.g.
// "distroless/static-debian12:latest", ":nonroot", ":debug" or
// ":debug-nonroot" (java gets its JRE version, "java17-debian12"), with
// the architecture appended for another architecture than the host's
// (":latest-arm64"), as distroless tags its per-architecture images; the
// debian recipe is "debian:<suite>"; a recipe file's image is
// "<name>-debian12:latest".
func DefaultName(r *Recipe, s Suite, o Options) string {
	suffix := ""
	if o.Arch != "" && o.Arch != HostArch() {
		suffix = "-" + o.Arch
	}
	if r.bootstrap && r.Name == "debian" {
		return "debian:" + s.Name + suffix
	}
	tag := "latest"
	switch {
	case o.Debug && o.NonRoot:
		tag = "debug-nonroot"
	case o.Debug:
		tag = "debug"
	case o.NonRoot:
		tag = "nonroot"
	}
	name := r.Name
	if name == "java" {
		name += s.Java
	}
	for _, b := range BuiltinNames() {
		if b == r.Name {
			return fmt.Sprintf("distroless/%s-debian%s:%s%s", name, s.Version, tag, suffix)
		}
	}
	return fmt.Sprintf("%s-debian%s:%s%s", name, s.Version, tag, suffix)
}

// resolve finds the package set.
func (b *builder) resolve(ctx context.Context) (*resolution, error) {
	cfg := debian.RepositoryConfig{Root: b.o.AptRoot, Dist: b.suite.Name, Mirror: b.o.Mirror, Keyring: b.o.Keyring}
	req := requests{packages: b.recipe.Packages, prune: b.recipe.Prune, bootstrap: b.recipe.bootstrap}
	if b.o.Locked {
		return resolveLocked(b.o.LockFile, b.arch, cfg, req)
	}
	return resolveIndex(ctx, b.client, b.st, b.arch, cfg, req, !b.o.NoCache, b.o.Explain != nil)
}

// epoch is the image's time: SOURCE_DATE_EPOCH, else the newest file of
// the packages.
func (b *builder) epoch(layers []*packageLayer) time.Time {
	if b.userEpoch != nil {
		return time.Unix(b.userEpoch.Unix(), 0).UTC()
	}
	var max int64
	for _, l := range layers {
		if l.Facts.MaxMTime > max {
			max = l.Facts.MaxMTime
		}
	}
	return time.Unix(max, 0).UTC()
}

// layerFormat changes whenever the layers made from a .deb would change,
// so that older cache records are not reused.
const layerFormat = "whittle distroless layer 2"

// packageLayers turns every locked package into a layer, in name order,
// several at once.
func (b *builder) packageLayers(ctx context.Context, lock *debian.Lock, paths []string) ([]*packageLayer, error) {
	out := make([]*packageLayer, len(lock.Packages))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.o.Jobs)
	for i, lp := range lock.Packages {
		g.Go(func() error {
			pl, err := b.packageLayer(gctx, lp, paths[i])
			if err != nil {
				return fmt.Errorf("making the layer of %s %s: %w", lp.Name, lp.Version, err)
			}
			out[i] = pl
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// packageLayer returns the layer of one package, from the store's cache
// when an earlier build made it from the same .deb with the same rules.
func (b *builder) packageLayer(ctx context.Context, lp debian.LockedPackage, deb string) (*packageLayer, error) {
	rules := rulesFor(lp.Name, b.recipe, b.merge)
	key := b.layerKey(lp)
	name := fmt.Sprintf("[%s] layer %s %s", b.recipe.Name, lp.Name, lp.Version)
	if !b.o.NoCache {
		if rec, err := b.st.Cache(key); err == nil {
			var pl packageLayer
			if json.Unmarshal(rec.Value, &pl) == nil && pl.SHA256 == lp.SHA256 {
				pl.cached, pl.locked = true, lp
				b.rec.Cached(name)
				return &pl, nil
			}
		}
	}
	v := b.rec.Start(name)
	pl, err := b.makePackageLayer(ctx, lp, deb, rules)
	v.Done(err, ctx.Err() != nil)
	if err != nil {
		return nil, err
	}
	if val, err := json.Marshal(pl); err == nil {
		_ = b.st.PutCache(key, &store.CacheRecord{Layers: []v1.Hash{pl.Layer.DiffID}, Blobs: []v1.Hash{pl.Layer.Blob.Digest}, Value: val})
	}
	return pl, nil
}

func (b *builder) makePackageLayer(ctx context.Context, lp debian.LockedPackage, deb string, rules shipRules) (*packageLayer, error) {
	tmp, err := b.st.TempDir("base-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dl, err := readDeb(ctx, deb, tmp, rules)
	if err != nil {
		return nil, err
	}
	defer dl.close()
	if dl.name != lp.Name {
		return nil, fmt.Errorf("the .deb says it is %s", dl.name)
	}
	sl, err := storeLayer(ctx, b.st, b.o.Compression, false, func(w io.Writer) error {
		return dl.tree.write(w, dl.spool, b.userEpoch)
	})
	if err != nil {
		return nil, err
	}
	return &packageLayer{Name: lp.Name, Version: lp.Version, Arch: lp.Architecture, SHA256: lp.SHA256, Layer: sl, Facts: dl.facts, locked: lp}, nil
}

// layerKey names the layer of lp under the build's rules.
func (b *builder) layerKey(lp debian.LockedPackage) v1.Hash {
	k := struct {
		Format      string              `json:"format"`
		SHA256      string              `json:"sha256"`
		Name        string              `json:"name"`
		Merged      bool                `json:"merged"`
		Arch        string              `json:"arch"`
		Only        []string            `json:"only,omitempty"`
		Epoch       int64               `json:"epoch,omitempty"`
		Compression archive.Compression `json:"compression"`
	}{layerFormat, lp.SHA256, lp.Name, b.merge != nil, b.arch, b.recipe.Only[lp.Name], 0, b.o.Compression}
	if b.userEpoch != nil {
		k.Epoch = b.userEpoch.Unix()
	}
	data, _ := json.Marshal(k)
	sum := sha256.Sum256(data)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// generatedLayer makes and stores the layer of generated files.
func (b *builder) generatedLayer(ctx context.Context, layers []*packageLayer, epoch time.Time) (*packageLayer, error) {
	t, err := generated(genInput{recipe: b.recipe, suite: b.suite, arch: b.arch, merge: b.merge, packages: layers, epoch: epoch})
	if err != nil {
		return nil, err
	}
	sl, err := storeLayer(ctx, b.st, b.o.Compression, false, func(w io.Writer) error {
		return t.write(w, bytes.NewReader(nil), &epoch)
	})
	if err != nil {
		return nil, err
	}
	return &packageLayer{Layer: sl}, nil
}

// conflicts reports files that more than one package ships: the upper
// layer's copy wins, where dpkg would have refused to install.
func conflicts(layers []*packageLayer) []string {
	owner := map[string]string{}
	var out []string
	for _, l := range layers {
		for _, f := range l.Facts.Paths {
			if f.Type == 'd' {
				continue
			}
			if prev, ok := owner[f.Path]; ok && prev != l.Name {
				out = append(out, fmt.Sprintf("/%s is in both %s and %s; %s's copy is used", f.Path, prev, l.Name, l.Name))
			}
			owner[f.Path] = l.Name
		}
	}
	return out
}

// deliver writes the image to its outputs (default: names in the store)
// and attaches the SBOM.
func (b *builder) deliver(ctx context.Context, desc v1.Descriptor, res *Result) error {
	outs := b.o.Outputs
	if len(outs) == 0 {
		outs = []output.Spec{{Type: output.TypeImage}}
	}
	// A base made for each architecture stays one name in the store, an
	// index of them, as a registry's distroless images are.
	oo := b.o.OutputOptions
	oo.KeepPlatforms = true
	inStore := false
	for _, spec := range outs {
		if err := output.Write(ctx, b.st, desc, res.Names, spec, oo); err != nil {
			return err
		}
		inStore = inStore || spec.Type == output.TypeImage
	}
	// Another architecture's base, named by default (":latest-arm64"),
	// also joins the host's name (":latest"), which then names an index of
	// every architecture made, as distroless's registry tags do; in the
	// store only (a push of one architecture to ":latest" would replace a
	// registry's index).
	if len(b.o.Tags) == 0 && inStore && b.arch != HostArch() {
		host := b.o
		host.Arch = ""
		n := DefaultName(b.recipe, b.suite, host)
		if err := b.st.TagPlatform(n, desc); err != nil {
			return fmt.Errorf("naming the image %s: %w", n, err)
		}
		res.Names = append(res.Names, n)
	}
	refs, err := Attach(ctx, b.st, desc, res.Names, res.SBOM)
	if err != nil {
		return err
	}
	res.Referrers = refs
	for _, spec := range outs {
		if spec.Type == output.TypeOCI && !spec.Bool("tar") && spec.Dest != "" && spec.Dest != "-" {
			if err := AttachToLayout(spec.Dest, desc, res.SBOM); err != nil {
				return err
			}
		}
	}
	return nil
}
