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
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

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
	if !s.o.NoCache {
		if cached, ok := s.cached(ctx, key); ok {
			s.o.Progress.Cached(name)
			return cached, nil
		}
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	v := s.o.Progress.Start(name)
	next, err := s.execute(ctx, op, state, key, runs, v)
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
	return next, nil
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

// inputs returns digests of what op reads besides its parent state.
func (s *Solver) inputs(ctx context.Context, op *plan.Op, runs map[*plan.Stage]*stageRun) ([]string, error) {
	var out []string
	if c := op.Copy; c != nil {
		d, err := s.sourceDigest(ctx, c.From, c.Sources, c.Exclude, runs)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if r := op.Run; r != nil {
		for _, m := range r.Mounts {
			if m.Type != plan.MountBind {
				continue
			}
			src := []string{m.Source}
			if m.Source == "" {
				src = []string{"."}
			}
			d, err := s.sourceDigest(ctx, m.From, src, nil, runs)
			if err != nil {
				return nil, fmt.Errorf("--mount=type=bind,target=%s: %w", m.Target, err)
			}
			out = append(out, d)
		}
	}
	return out, nil
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
			if isURL(p) {
				return "", fmt.Errorf("ADD from a URL (%s) is not supported by this version of whittle", p)
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
		return "stage:" + st.Key.String(), nil
	case plan.SourceImage:
		return "image:" + src.Image.Digest.String(), nil
	}
	return "", nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "git@")
}

// execute carries out op on a snapshot of state and returns the new state.
func (s *Solver) execute(ctx context.Context, op *plan.Op, state *State, key v1.Hash, runs map[*plan.Stage]*stageRun, out io.Writer) (*State, error) {
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
		tail := &tailWriter{w: out}
		var scratch string
		if scratch, err = s.o.Store.TempDir("run-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(scratch)
		err = step.Run(ctx, active.Root(), op.Run, s.o.Sandbox, step.RunOptions{Network: s.o.Network, Output: tail, Scratch: scratch})
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
	layer, err := s.commitLayer(ctx, diffDir)
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
	switch c.From.Kind {
	case plan.SourceContext:
		bc := s.o.Contexts[c.From.Context]
		return step.Copy(ctx, rootfs, c, step.Source{Root: bc.Root(), Excluded: bc.Excluded}, o)
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
func (s *Solver) commitLayer(ctx context.Context, diffDir string) (*export.Layer, error) {
	entries, err := os.ReadDir(diffDir)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		os.RemoveAll(diffDir)
		return nil, nil
	}
	h := sha256.New()
	if err := s.layerTar(ctx, h, diffDir); err != nil {
		os.RemoveAll(diffDir)
		return nil, fmt.Errorf("reading the layer's changes: %w", err)
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
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
