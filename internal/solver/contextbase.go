package solver

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/plan"
)

// exporterComment marks a history entry that no Dockerfile instruction
// made, as BuildKit's exporter marks the entries it adds.
const exporterComment = "buildkit.exporter.image.v0"

// contextDisplay names a build context in progress output.
func contextDisplay(name string) string {
	if name == "" {
		return "context"
	}
	return "context " + name
}

// contextView returns a state of one layer that holds src (a path of the
// build context name; "." for all of it) at its own path, with
// .dockerignore applied and every file owned by root, as BuildKit's local
// source gives a context to FROM and to RUN --mount=type=bind. It is a step
// like any other: cached by the content it copies, so an unchanged context
// costs a checksum and a lookup, and a bind mount never sees the host's
// owners or ignored files.
func (s *Solver) contextView(ctx context.Context, name, src string) (*State, error) {
	if _, ok := s.o.Contexts[name]; !ok {
		return nil, fmt.Errorf("build context %q is not defined", name)
	}
	op := &plan.Op{
		Kind:        plan.KindCopy,
		Instruction: fmt.Sprintf("load %s %s", contextDisplay(name), src),
		CreatedBy:   "local source for " + contextDisplay(name),
		Copy: &plan.Copy{
			From:    plan.Source{Kind: plan.SourceContext, Context: name},
			Sources: []string{src},
			Dest:    "/",
			Parents: true,
		},
	}
	base := &State{Key: rootKey("context-view", v1.Hash{}, "", s.o.Epoch)}
	return s.layerOp(ctx, nil, op, base, nil, "[internal] "+op.Instruction)
}

// contextBase is the state of a stage whose FROM names a build context
// directory: the context's files as one layer, and an empty config for the
// stage's platform, as BuildKit builds FROM a local context. The layer's
// history entry comes first (BuildKit's exporter appends such entries
// after the Dockerfile's: a deliberate difference, so that history and
// layers stay in order).
func (s *Solver) contextBase(ctx context.Context, st *plan.Stage) (*State, error) {
	view, err := s.contextView(ctx, st.Base.Context, ".")
	if err != nil {
		return nil, fmt.Errorf("%s: FROM %s: %w", st.Location, st.Base.Context, err)
	}
	n := view.clone()
	n.Key = rootKey("context:"+st.Base.Context, view.Key, st.Platform, s.o.Epoch)
	osName, arch, variant := splitPlatform(st.Platform)
	n.Config = v1.ConfigFile{OS: osName, Architecture: arch, Variant: variant, Created: view.Config.Created}
	for _, h := range view.Config.History {
		h.Comment = exporterComment
		n.Config.History = append(n.Config.History, h)
	}
	return n, nil
}

// hostView returns the host path of src in build context name when a
// read-only bind mount may show it as it is, because a view would look the
// same: every file under it is owned by root, none is hidden by
// .dockerignore, and all are plain files, directories and symlinks. ""
// means a view is needed, as it always is for a writable mount (whose
// writes must go nowhere). Builds from a root-owned checkout (CI,
// containers) so bind their context without copying it.
func (s *Solver) hostView(name, src string, writable bool) (string, error) {
	bc, ok := s.o.Contexts[name]
	if !ok {
		return "", fmt.Errorf("build context %q is not defined", name)
	}
	if writable {
		return "", nil
	}
	p, err := securejoin.SecureJoin(bc.Root(), src)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	direct := true
	err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(bc.Root(), q)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		plain := info.Mode().IsRegular() || info.IsDir() || info.Mode()&fs.ModeSymlink != 0
		if !ok || st.Uid != 0 || st.Gid != 0 || !plain || (rel != "." && bc.Excluded(filepath.ToSlash(rel))) {
			direct = false
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil || !direct {
		return "", err
	}
	return p, nil
}
