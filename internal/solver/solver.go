package solver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/buildcontext"
	"github.com/whittle-build/whittle/internal/cachemount"
	"github.com/whittle-build/whittle/internal/download"
	"github.com/whittle-build/whittle/internal/export"
	"github.com/whittle-build/whittle/internal/plan"
	"github.com/whittle-build/whittle/internal/progress"
	"github.com/whittle-build/whittle/internal/snapshot"
	"github.com/whittle-build/whittle/internal/sshforward"
	"github.com/whittle-build/whittle/internal/step"
	"github.com/whittle-build/whittle/internal/store"
)

// Images gives the solver the images a plan names (bases, COPY --from
// images); they are in the store once returned.
type Images interface {
	Image(ctx context.Context, ref *plan.ImageRef) (v1.Image, error)
}

// CacheSource supplies cache records that the store lacks, such as a shared
// cache (--cache-from). Import writes the record for key, with the layers
// it needs, into the store; an error means the source has no usable record.
type CacheSource interface {
	Import(ctx context.Context, key v1.Hash) error
}

// Options configure a Solver. Store, Snapshotter, Sandbox and Images are required.
type Options struct {
	Store       *store.Store
	Snapshotter snapshot.Snapshotter
	Sandbox     step.Sandbox
	Images      Images
	// Contexts are the build contexts by name; "" is the main one.
	Contexts map[string]*buildcontext.Context
	// Progress receives step events. Default: discard.
	Progress *progress.Recorder
	// NoCache runs every operation, without looking up the cache (results
	// are still recorded). Default false.
	NoCache bool
	// NoCacheStages run the operations of these stages (AS names, matched
	// without regard to case) and of everything built on them, without
	// looking up the cache (--no-cache-filter).
	NoCacheStages []string
	// CacheFrom is asked for records the store lacks. Default none.
	CacheFrom CacheSource
	// Jobs bounds how many operations execute at once. Default GOMAXPROCS.
	Jobs int
	// Epoch is SOURCE_DATE_EPOCH: history and layer times are clamped to it.
	Epoch *time.Time
	// Compression, when set, compresses the layers of the stages the target
	// image is made of as they are made (one pass over each layer instead
	// of two). Default none: layers are compressed at export.
	Compression archive.Compression
	// Network is the default network of RUN: "host" (default) or "none".
	Network string
	// RunSettings are the build's --add-host, --shm-size and --ulimit for
	// every RUN; they are part of every RUN's cache key.
	RunSettings step.Settings
	// Secrets are what RUN --mount=type=secret reads. Default none: a
	// required secret is an error, an optional one is left out.
	Secrets Secrets
	// SSH are the agents RUN --mount=type=ssh forwards. Default none.
	SSH *sshforward.Agents
	// PlatformNames puts platforms in progress names, as BuildKit names
	// the steps of a multi-platform build: "[linux/arm64 build 2/4]" for a
	// stage built for the plan's platform, "[linux/amd64->arm64 build 2/4]"
	// for one FROM --platform=$BUILDPLATFORM. Default false: "[build 2/4]".
	PlatformNames bool
	// HTTPClient downloads ADD <url> sources. Default: the default
	// transport (proxies from the environment).
	HTTPClient *http.Client
	// now returns the current time; a test seam.
	now func() time.Time
}

// Solver runs plans.
type Solver struct {
	o    Options
	jobs chan struct{}
	// cacheDirs are the store's RUN --mount=type=cache directories.
	cacheDirs *cachemount.Dirs
	// downloads fetches ADD URLs; urls and gits remember what ADD's URLs
	// and Git refs resolved to in this build.
	downloads *download.Fetcher
	urls      memo[*download.File]
	gits      memo[string]
	// freshCaches are the cache mounts this build has made anew for
	// steps run with the cache ignored (each once, at its first use).
	freshCaches memo[struct{}]
}

// New returns a Solver.
func New(o Options) (*Solver, error) {
	if o.Store == nil || o.Snapshotter == nil || o.Sandbox == nil || o.Images == nil {
		return nil, errors.New("solver: Store, Snapshotter, Sandbox and Images are required")
	}
	if o.Jobs <= 0 {
		o.Jobs = runtime.GOMAXPROCS(0)
	}
	if o.Progress == nil {
		o.Progress = progress.NewRecorder(nil)
	}
	if o.Network == "" {
		o.Network = "host"
	}
	if o.now == nil {
		o.now = time.Now
	}
	return &Solver{
		o:         o,
		jobs:      make(chan struct{}, o.Jobs),
		cacheDirs: cachemount.New(o.Store),
		downloads: download.New(o.Store, o.HTTPClient),
	}, nil
}

// Result is what Solve produced.
type Result struct {
	// Target is the target stage's final state, history normalized.
	Target *State
	// Stages are the final states of every stage built, by stage index.
	Stages map[int]*State
	// Keys are, by stage index, the cache keys of the steps that made each
	// stage's layers (a FROM stage's steps first), in order, whether they
	// ran or came from the cache: what a cache export names.
	Keys map[int][]v1.Hash
}

// stageRun is a stage being built; done closes when state or err is set.
type stageRun struct {
	stage *plan.Stage
	// label names the stage in progress names (stageName), which leave
	// out the stage of a Dockerfile of one stage; errLabel names it in
	// errors, which always say it.
	label, errLabel string
	// exported is set for the target stage and the stages it is built on
	// (FROM): their layers end up in the image.
	exported bool
	done     chan struct{}
	state    *State
	err      error
	keys     []v1.Hash
}

// Solve builds the plan's stages, concurrently where they do not depend on
// each other, and returns the target stage's result. The first failure
// cancels the other stages.
func (s *Solver) Solve(ctx context.Context, p *plan.Plan) (*Result, error) {
	runs := map[*plan.Stage]*stageRun{}
	for _, st := range p.Stages {
		label, errLabel := st.String(), st.String()
		if p.OneStage {
			label = ""
		}
		if s.o.PlatformNames {
			prefix := platformName(st.Platform, p.Platform) + " "
			label, errLabel = strings.TrimSpace(prefix+label), prefix+errLabel
		}
		runs[st] = &stageRun{stage: st, label: label, errLabel: errLabel, done: make(chan struct{})}
	}
	for st := p.Target; st != nil; st = st.Base.Stage {
		if r, ok := runs[st]; ok {
			r.exported = true
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, st := range p.Stages {
		r := runs[st]
		g.Go(func() error {
			defer close(r.done)
			r.state, r.err = s.buildStage(gctx, r.stage, runs)
			return r.err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res := &Result{Stages: map[int]*State{}, Keys: map[int][]v1.Hash{}}
	for st, r := range runs {
		res.Stages[st.Index] = r.state
		res.Keys[st.Index] = r.keys
	}
	t := runs[p.Target].state.clone()
	if s.o.Epoch != nil {
		for i := range t.Config.History {
			t.Config.History[i].Created = v1.Time{Time: *s.o.Epoch}
		}
		t.Config.Created = v1.Time{Time: *s.o.Epoch}
	} else {
		normalizeHistory(&t.Config)
	}
	res.Target = t
	return res, nil
}

// wait returns the result of stage st, waiting for it.
func wait(ctx context.Context, runs map[*plan.Stage]*stageRun, st *plan.Stage) (*State, error) {
	r, ok := runs[st]
	if !ok {
		return nil, fmt.Errorf("stage %s is not part of the plan", st)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, fmt.Errorf("stage %s failed", st)
	}
	return r.state, nil
}

// stageName is how progress names a stage's vertices, like BuildKit's
// "[build 2/4]" (or, with PlatformNames, "[linux/arm64 build 2/4]"; in a
// Dockerfile of one stage "[2/4]"), the step's number padded to the width
// of the count ("[ 2/12]").
func stageName(label string, i, n int) string {
	prefix := ""
	if label != "" {
		prefix = label + " "
	}
	return fmt.Sprintf("[%s%*d/%d]", prefix, len(strconv.Itoa(n)), i, n)
}

// platformName is a stage's platform in progress names, and where it
// builds for when that differs, as BuildKit writes it: "linux/amd64",
// "linux/amd64->arm64", "linux/amd64->windows/amd64".
func platformName(stage, target string) string {
	if target == "" || stage == target {
		return stage
	}
	so, sa, _ := strings.Cut(stage, "/")
	to, ta, _ := strings.Cut(target, "/")
	if so == to && sa != ta {
		return stage + "->" + ta
	}
	return stage + "->" + target
}

func (s *Solver) buildStage(ctx context.Context, st *plan.Stage, runs map[*plan.Stage]*stageRun) (*State, error) {
	total := 1
	for _, op := range st.Ops {
		if op.Kind != plan.KindConfig {
			total++
		}
	}
	run := runs[st]
	state, err := s.start(ctx, st, runs, stageName(run.label, 1, total))
	if err != nil {
		return nil, err
	}
	if st.Base.Stage != nil {
		run.keys = append(run.keys, runs[st.Base.Stage].keys...)
	}
	n := 1
	for _, op := range st.Ops {
		if op.Kind == plan.KindConfig {
			state = state.withConfig(op, s.o.Epoch)
			continue
		}
		n++
		name := fmt.Sprintf("%s %s", stageName(run.label, n, total), op.Instruction)
		next, err := s.layerOp(ctx, st, op, state, runs, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", op.Location, stageName(run.errLabel, n, total), op.Instruction, err)
		}
		state = next
		run.keys = append(run.keys, next.Key)
	}
	return state, nil
}

// start returns the state a stage begins with.
func (s *Solver) start(ctx context.Context, st *plan.Stage, runs map[*plan.Stage]*stageRun, name string) (*State, error) {
	switch {
	case st.Base.Stage != nil:
		prev, err := wait(ctx, runs, st.Base.Stage)
		if err != nil {
			return nil, err
		}
		return prev.clone(), nil
	case st.Base.Image != nil:
		ref := st.Base.Image
		v := s.o.Progress.Start(fmt.Sprintf("%s FROM %s@%s", name, ref.Ref, ref.Digest))
		state, err := s.imageState(ctx, ref, st.Platform)
		v.Done(err, ctx.Err() != nil)
		if err != nil {
			return nil, fmt.Errorf("%s: FROM %s: %w", st.Location, ref.Ref, err)
		}
		return state, nil
	case st.Base.Context != "":
		return s.contextBase(ctx, st)
	}
	// scratch
	osName, arch, variant := splitPlatform(st.Platform)
	return &State{
		Key:    rootKey("scratch", v1.Hash{}, st.Platform, s.o.Epoch),
		Config: v1.ConfigFile{OS: osName, Architecture: arch, Variant: variant},
	}, nil
}

// imageState is the state of an image base.
func (s *Solver) imageState(ctx context.Context, ref *plan.ImageRef, platform string) (*State, error) {
	img, err := s.o.Images.Image(ctx, ref)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("image %s is inconsistent: %d layers but %d diffIDs", ref.Ref, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	st := &State{
		Key:    rootKey(ref.Ref, ref.Digest, platform, s.o.Epoch),
		Config: *cfg.DeepCopy(),
		Base:   &BaseInfo{Name: ref.Ref, Digest: ref.Digest, Layers: len(m.Layers)},
	}
	for i, l := range m.Layers {
		desc := l
		st.Layers = append(st.Layers, exportLayer(cfg.RootFS.DiffIDs[i], &desc))
		// Images put into the store by other tools (skopeo copy) have blobs
		// but no layer records: record them, so cache records built on
		// this base find their layers.
		if err := s.o.Store.AddLayerBlob(cfg.RootFS.DiffIDs[i], desc); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func splitPlatform(p string) (osName, arch, variant string) {
	parts := strings.SplitN(p, "/", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

// acquire takes an execution slot.
func (s *Solver) acquire(ctx context.Context) (func(), error) {
	select {
	case s.jobs <- struct{}{}:
		return func() { <-s.jobs }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// layerTar writes the layer in dir as a tar, with the solver's epoch.
func (s *Solver) layerTar(ctx context.Context, w io.Writer, dir string) error {
	return export.WriteSnapshot(ctx, w, s.o.Store, dir, s.o.Epoch)
}
