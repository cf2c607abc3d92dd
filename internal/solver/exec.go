package solver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/whittle-build/whittle/internal/buildcontext"
	"github.com/whittle-build/whittle/internal/export"
	"github.com/whittle-build/whittle/internal/plan"
	"github.com/whittle-build/whittle/internal/progress"
	"github.com/whittle-build/whittle/internal/step"
	"github.com/whittle-build/whittle/internal/store"
)

func exportLayer(diffID v1.Hash, blob *v1.Descriptor) export.Layer {
	return export.Layer{DiffID: diffID, Blob: blob}
}

// layerOp runs (or finds in the cache) an operation that may change the
// filesystem.
func (s *Solver) layerOp(ctx context.Context, st *plan.Stage, op *plan.Op, state *State, runs map[*plan.Stage]*stageRun, name string) (*State, error) {
	inputs, err := s.inputs(ctx, op, runs)
	if err != nil {
		return nil, err
	}
	key := opKey(state.Key, op, inputs)
	ignoreCache := s.o.NoCache || s.noCacheStage(st)
	rerun := state.rerun || ignoreCache
	if !rerun {
		if rec, ok := s.cached(ctx, key); ok {
			if next, ok := state.withRecord(key, op, rec); ok {
				s.o.Progress.Cached(name)
				return next, nil
			}
		}
	}
	// What RUN's mounts read is made ready before the step takes an
	// execution slot: a build context view is a step of its own.
	var srcs map[int]mountInput
	if op.Run != nil {
		if srcs, err = s.mountSources(ctx, op.Run, runs); err != nil {
			return nil, err
		}
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	v := s.o.Progress.Start(name)
	next, err := s.execute(ctx, op, state, key, runs, execOpts{
		srcs:        srcs,
		out:         v,
		exported:    st != nil && runs[st] != nil && runs[st].exported,
		freshCaches: ignoreCache,
	})
	if err != nil && st != nil {
		err = foreignProgram(err, st.Platform)
	}
	v.Done(err, ctx.Err() != nil)
	if err != nil {
		return nil, err
	}
	rec := &store.CacheRecord{}
	for _, l := range next.Layers {
		rec.Layers = append(rec.Layers, l.DiffID)
	}
	if rec.Value, err = json.Marshal(next); err != nil {
		return nil, err
	}
	if err := s.o.Store.PutCache(key, rec); err != nil {
		return nil, err
	}
	next.rerun = rerun
	return next, nil
}

// foreignProgram adds what to do to the error of a step that could not
// execute a program (ENOEXEC) in a stage for another architecture than
// the host's: the kernel runs such programs only through an emulator
// registered with binfmt_misc.
func foreignProgram(err error, stagePlatform string) error {
	if !errors.Is(err, syscall.ENOEXEC) {
		return err
	}
	host := store.HostPlatform()
	p, perr := v1.ParsePlatform(stagePlatform)
	if perr != nil || stagePlatform == "" || store.Satisfies(*p, host) {
		return err
	}
	return fmt.Errorf("%w; the stage is for %s and this %s host cannot execute its programs: register an emulator for them with binfmt_misc (on Debian: apt-get install qemu-user-static), or build the stage FROM --platform=$BUILDPLATFORM and cross-compile for $TARGETPLATFORM", err, stagePlatform, host)
}

// noCacheStage says whether --no-cache-filter names st.
func (s *Solver) noCacheStage(st *plan.Stage) bool {
	if st == nil || st.Name == "" {
		return false
	}
	return slices.ContainsFunc(s.o.NoCacheStages, func(n string) bool { return strings.EqualFold(n, st.Name) })
}

func (s *Solver) cached(ctx context.Context, key v1.Hash) (*State, bool) {
	rec, err := s.o.Store.Cache(key)
	if err != nil && s.o.CacheFrom != nil && s.o.CacheFrom.Import(ctx, key) == nil {
		rec, err = s.o.Store.Cache(key)
	}
	if err != nil {
		return nil, false
	}
	var st State
	if err := json.Unmarshal(rec.Value, &st); err != nil || st.Key != key {
		return nil, false
	}
	return &st, true
}

// inputs returns digests of what op reads besides its parent state: the
// content of COPY and ADD sources (for a URL, what the server holds now),
// and of what RUN's bind mounts show and seeded cache mounts start from.
// Cache mount contents, secrets and ssh agents are never part of a key.
func (s *Solver) inputs(ctx context.Context, op *plan.Op, runs map[*plan.Stage]*stageRun) ([]string, error) {
	var out []string
	if c := op.Copy; c != nil {
		var local []string
		for _, src := range c.Sources {
			var d string
			var err error
			switch {
			case c.Add && buildcontext.IsGitURL(src):
				d, err = s.gitInput(ctx, c, src)
			case c.Add && buildcontext.IsHTTPURL(src):
				d, err = s.urlInput(ctx, src, c.Checksum)
			default:
				local = append(local, src)
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		if len(local) > 0 || len(c.Sources) == 0 {
			d, err := s.sourceDigest(ctx, c.From, local, c.Exclude, runs)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
	}
	if r := op.Run; r != nil {
		// The network a RUN gets is the build's default unless the
		// instruction says: a step run offline is not one run online.
		out = append(out, "network "+s.network(r))
		if k := s.o.RunSettings.Key(); k != "" {
			out = append(out, k)
		}
		for _, m := range r.Mounts {
			if (m.Type != plan.MountBind && m.Type != plan.MountCache) || m.From.Kind == plan.SourceNone {
				continue
			}
			d, err := s.sourceDigest(ctx, m.From, []string{mountSource(m)}, nil, runs)
			if err != nil {
				return nil, fmt.Errorf("--mount=type=%s,target=%s: %w", m.Type, m.Target, err)
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// network is the network RUN r gets: its --network, else the build's.
func (s *Solver) network(r *plan.Run) string {
	if r.Network != "" && r.Network != "default" {
		return r.Network
	}
	return s.o.Network
}

// sourceDigest identifies the content a COPY or mount reads from src.
func (s *Solver) sourceDigest(ctx context.Context, src plan.Source, sources, exclude []string, runs map[*plan.Stage]*stageRun) (string, error) {
	switch src.Kind {
	case plan.SourceContext:
		bc, ok := s.o.Contexts[src.Context]
		if !ok {
			return "", fmt.Errorf("build context %q is not defined", src.Context)
		}
		var rels []string
		for _, p := range sources {
			if buildcontext.IsGitURL(p) {
				return "", fmt.Errorf("COPY cannot fetch the Git repository %s: use ADD", p)
			}
			m, err := bc.Match(p)
			if err != nil {
				return "", fmt.Errorf("%w (check the path, the build context directory and .dockerignore)", err)
			}
			rels = append(rels, m...)
		}
		return bc.Checksum(ctx, rels, exclude)
	case plan.SourceStage:
		st, err := wait(ctx, runs, src.Stage)
		if err != nil {
			return "", err
		}
		return "stage:" + st.contentDigest(), nil
	case plan.SourceImage:
		return "image:" + src.Image.Digest.String(), nil
	}
	return "", nil
}

// execOpts says how execute carries out one operation.
type execOpts struct {
	// srcs is what RUN's mounts read (mountSources).
	srcs map[int]mountInput
	// out takes the step's output.
	out io.Writer
	// exported: the stage's layers are exported (see commitLayer).
	exported bool
	// freshCaches: the step runs with the cache ignored (--no-cache, or
	// its stage in --no-cache-filter), and so do its cache mounts, which
	// start empty, as in BuildKit.
	freshCaches bool
}

// execute carries out op on a snapshot of state and returns the new state.
func (s *Solver) execute(ctx context.Context, op *plan.Op, state *State, key v1.Hash, runs map[*plan.Stage]*stageRun, o execOpts) (*State, error) {
	lowers, err := s.lowers(ctx, state)
	if err != nil {
		return nil, err
	}
	if op.Copy != nil && op.Copy.Link {
		// COPY --link makes a layer that does not depend on what is below it.
		lowers = nil
	}
	active, err := s.o.Snapshotter.Prepare(ctx, lowers)
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			active.Release()
		}
	}()
	switch {
	case op.Run != nil:
		tail := &tailWriter{w: o.out}
		var scratch string
		if scratch, err = s.o.Store.TempDir("run-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(scratch)
		var rm *runMounts
		if rm, err = s.prepareMounts(ctx, op.Run, o.srcs, scratch, o.freshCaches); err != nil {
			return nil, err
		}
		err = step.Run(ctx, active.Root(), op.Run, s.o.Sandbox, step.RunOptions{Network: s.o.Network, Settings: s.o.RunSettings, Output: tail, Scratch: scratch, Mounts: rm.mounts, Env: rm.env})
		if rerr := rm.release(); rerr != nil && err == nil {
			err = fmt.Errorf("releasing mounts: %w", rerr)
		}
		var ee *step.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w%s", err, tail.String())
		}
	case op.Copy != nil:
		err = s.copy(ctx, active.Root(), op.Copy, runs)
	case op.Mkdir != nil:
		err = step.Mkdir(active.Root(), op.Mkdir, s.o.Epoch)
	default:
		err = fmt.Errorf("operation %s has nothing to do", op.Kind)
	}
	if err != nil {
		return nil, err
	}
	diffDir, err := active.Commit(ctx)
	committed = true
	if err != nil {
		return nil, err
	}
	layer, err := s.commitLayer(ctx, diffDir, o.exported)
	if err != nil {
		return nil, err
	}
	created := s.o.now().UTC()
	if s.o.Epoch != nil {
		created = *s.o.Epoch
	}
	return state.withLayer(key, op, created, layer), nil
}

// copy carries out a COPY or ADD into rootfs.
func (s *Solver) copy(ctx context.Context, rootfs string, c *plan.Copy, runs map[*plan.Stage]*stageRun) error {
	o := step.CopyOptions{Epoch: s.o.Epoch}
	scratch, err := s.o.Store.TempDir("copy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	o.Scratch = scratch
	var local []string
	for _, src := range c.Sources {
		if !c.Add || (!buildcontext.IsHTTPURL(src) && !buildcontext.IsGitURL(src)) {
			local = append(local, src)
		}
	}
	if len(local) < len(c.Sources) {
		// ADD of URLs and Git repositories: each is its own copy, after
		// the local sources.
		if len(c.Sources) > 1 && !strings.HasSuffix(c.Dest, "/") {
			return fmt.Errorf("when using ADD with more than one source file, the destination must be a directory and end with a /")
		}
		if len(local) > 0 {
			lc := *c
			lc.Sources = local
			if err := s.copy(ctx, rootfs, &lc, runs); err != nil {
				return err
			}
		}
		for _, src := range c.Sources {
			var err error
			switch {
			case buildcontext.IsGitURL(src):
				err = s.copyGit(ctx, rootfs, c, src, o)
			case buildcontext.IsHTTPURL(src):
				err = s.copyURL(ctx, rootfs, c, src, o)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	switch c.From.Kind {
	case plan.SourceContext:
		bc := s.o.Contexts[c.From.Context]
		return step.Copy(ctx, rootfs, c, step.Source{Root: bc.Root(), Excluded: bc.Excluded, Exceptions: bc.Exceptions()}, o)
	case plan.SourceStage, plan.SourceImage:
		var src *State
		if c.From.Kind == plan.SourceStage {
			if src, err = wait(ctx, runs, c.From.Stage); err != nil {
				return err
			}
		} else if src, err = s.imageState(ctx, c.From.Image, c.From.Image.Platform); err != nil {
			return err
		}
		lowers, err := s.lowers(ctx, src)
		if err != nil {
			return err
		}
		view, err := s.o.Snapshotter.Prepare(ctx, lowers)
		if err != nil {
			return err
		}
		defer view.Release()
		return step.Copy(ctx, rootfs, c, step.Source{Root: view.Root(), KeepOwner: true}, o)
	}
	return fmt.Errorf("COPY from %q: unknown source", c.From.Kind)
}

// lowers makes sure every layer of state is unpacked and returns their
// directories, top-most first, as overlay wants them.
func (s *Solver) lowers(ctx context.Context, state *State) ([]string, error) {
	dirs := make([]string, len(state.Layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for i, l := range state.Layers {
		g.Go(func() error {
			d, err := s.o.Store.UnpackBlob(gctx, l.DiffID, l.Blob)
			dirs[len(dirs)-1-i] = d
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return dirs, nil
}

// commitLayer turns a diff directory into a snapshot named by its diffID;
// nil when nothing changed.
func (s *Solver) commitLayer(ctx context.Context, diffDir string, exported bool) (*export.Layer, error) {
	entries, err := os.ReadDir(diffDir)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		os.RemoveAll(diffDir)
		return nil, nil
	}
	var diffID v1.Hash
	if s.o.Compression != "" && exported {
		// The layer will be exported: compress it now, in the same pass
		// that computes its diffID.
		diffID, _, err = export.CompressDir(ctx, s.o.Store, diffDir, export.Options{Compression: s.o.Compression, Epoch: s.o.Epoch})
		if err != nil {
			os.RemoveAll(diffDir)
			return nil, fmt.Errorf("reading the layer's changes: %w", err)
		}
	} else {
		h := sha256.New()
		if err := s.layerTar(ctx, h, diffDir); err != nil {
			os.RemoveAll(diffDir)
			return nil, fmt.Errorf("reading the layer's changes: %w", err)
		}
		diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	}
	if err := s.o.Store.CommitSnapshot(diffID, diffDir); err != nil {
		return nil, err
	}
	return &export.Layer{DiffID: diffID}, nil
}

// tailWriter passes output on and keeps its last lines for error messages.
type tailWriter struct {
	w     io.Writer
	lines []string
	part  string
}

const tailLines = 10

func (t *tailWriter) Write(p []byte) (int, error) {
	if t.w != nil {
		t.w.Write(p)
	}
	s := t.part + string(p)
	parts := strings.Split(s, "\n")
	t.part = parts[len(parts)-1]
	t.lines = append(t.lines, parts[:len(parts)-1]...)
	if len(t.lines) > tailLines {
		t.lines = t.lines[len(t.lines)-tailLines:]
	}
	return len(p), nil
}

// String is the kept output, formatted to follow an error message.
func (t *tailWriter) String() string {
	lines := t.lines
	if t.part != "" {
		lines = append(lines, t.part)
	}
	if len(lines) == 0 {
		return ""
	}
	return "\n------ last output ------\n" + strings.Join(lines, "\n") + "\n-------------------------"
}

var _ io.Writer = (*progress.Vertex)(nil)
