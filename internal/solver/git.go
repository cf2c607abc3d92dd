package solver

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/whittle-build/whittle/internal/buildcontext"
	"github.com/whittle-build/whittle/internal/plan"
	"github.com/whittle-build/whittle/internal/step"
)

// gitSource reads an ADD source that names a Git repository; ADD
// --keep-git-dir wins over the URL's keep-git-dir.
func gitSource(c *plan.Copy, src string) (buildcontext.GitRef, error) {
	g, ok := buildcontext.ParseGitURL(src)
	if !ok {
		return g, fmt.Errorf("ADD %s: not a Git repository URL", src)
	}
	if c.KeepGitDir {
		g.KeepGitDir = true
	}
	return g, nil
}

// gitCommit returns the commit g's ref names now.
func (s *Solver) gitCommit(ctx context.Context, g buildcontext.GitRef) (string, error) {
	return s.gits.get(g.Repo+"#"+g.Ref, func() (string, error) { return buildcontext.ResolveGit(ctx, g) })
}

// gitInput identifies what ADD of a Git repository puts in the layer, as
// BuildKit's Git source keys it: the repository, the commit, the
// subdirectory and whether .git is kept.
func (s *Solver) gitInput(ctx context.Context, c *plan.Copy, src string) (string, error) {
	g, err := gitSource(c, src)
	if err != nil {
		return "", err
	}
	commit, err := s.gitCommit(ctx, g)
	if err != nil {
		return "", err
	}
	if c.Checksum != "" && !strings.HasPrefix(commit, c.Checksum) {
		// ADD --checksum of a Git source is the commit it must be.
		return "", fmt.Errorf("ADD --checksum=%s %s: the ref is at commit %s", c.Checksum, g, commit)
	}
	return fmt.Sprintf("git %q %s %q keep-git-dir=%v", g.String(), commit, g.Subdir, g.KeepGitDir), nil
}

// copyGit adds the checkout of a Git repository (its SUBDIR) to rootfs as
// ADD does: the tree's contents into the destination directory, owned by
// root unless --chown.
func (s *Solver) copyGit(ctx context.Context, rootfs string, c *plan.Copy, src string, o step.CopyOptions) error {
	g, err := gitSource(c, src)
	if err != nil {
		return err
	}
	commit, err := s.gitCommit(ctx, g)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(o.Scratch, "git-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tree, err := buildcontext.FromGit(ctx, g, dir, commit)
	if err != nil {
		return fmt.Errorf("ADD %s: %w", g, err)
	}
	one := *c
	one.Sources = []string{"."}
	one.Add = false
	one.From = plan.Source{}
	return step.Copy(ctx, rootfs, &one, step.Source{Root: tree}, o)
}
