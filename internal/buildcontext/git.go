package buildcontext

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// GitRef is a Git repository as docker build takes it for a context:
// URL#REF:SUBDIR.
type GitRef struct {
	// Repo is what git fetches from.
	Repo string
	// Ref is a branch, tag or commit; "" is the remote's HEAD.
	Ref string
	// Subdir is the directory of the repository that is the context; ""
	// is its root.
	Subdir string
}

// IsGitURL says whether a context argument names a Git repository, by
// docker's rules: git:// or git@, or an http(s) URL whose path ends in
// .git (before an optional #REF:SUBDIR).
func IsGitURL(s string) bool {
	if strings.HasPrefix(s, "git://") || strings.HasPrefix(s, "git@") {
		return true
	}
	u, _, _ := strings.Cut(s, "#")
	return (strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) && strings.HasSuffix(u, ".git")
}

// ParseGitURL splits URL#REF:SUBDIR.
func ParseGitURL(s string) GitRef {
	repo, frag, _ := strings.Cut(s, "#")
	ref, sub, _ := strings.Cut(frag, ":")
	return GitRef{Repo: repo, Ref: ref, Subdir: sub}
}

// String is the reference without credentials, for messages.
func (g GitRef) String() string {
	s := g.Repo
	if u, err := url.Parse(g.Repo); err == nil && u.User != nil {
		u.User = nil
		s = u.String()
	}
	if g.Ref != "" || g.Subdir != "" {
		s += "#" + g.Ref
	}
	if g.Subdir != "" {
		s += ":" + g.Subdir
	}
	return s
}

// FromGit checks out g.Ref of the repository into dir with the git
// command, at depth 1 when the server allows it, with its submodules and
// without .git (as BuildKit's Git source), and returns the context
// directory: g.Subdir, resolved inside dir.
func FromGit(ctx context.Context, g GitRef, dir string) (string, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return "", fmt.Errorf("%s: a Git context needs the git command: %w", g, err)
	}
	git := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		// Never wait for a password on a terminal.
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
		out, err := cmd.CombinedOutput()
		if err != nil {
			lines := strings.Split(strings.TrimSpace(string(bytes.ReplaceAll(out, []byte(g.Repo), []byte(g.String())))), "\n")
			return fmt.Errorf("git %s: %w: %s", args[0], err, strings.Join(lines[max(0, len(lines)-3):], "; "))
		}
		return nil
	}
	ref := g.Ref
	if ref == "" {
		ref = "HEAD"
	}
	err := git("init", "-q")
	if err == nil {
		err = git("remote", "add", "origin", g.Repo)
	}
	if err == nil {
		if err = git("fetch", "-q", "--depth", "1", "--no-tags", "origin", ref); err == nil {
			err = git("checkout", "-q", "FETCH_HEAD")
		} else if err = git("fetch", "-q", "--tags", "origin"); err == nil {
			// A commit the server will not serve by itself (no
			// allowReachableSHA1InWant), or a server without shallow
			// fetches: everything, then the ref.
			if git("checkout", "-q", ref) != nil {
				err = fmt.Errorf("no branch, tag or commit %q in the repository", ref)
			}
		}
	}
	if err == nil {
		err = git("submodule", "-q", "update", "--init", "--recursive", "--depth", "1")
	}
	if err != nil {
		return "", fmt.Errorf("fetching the build context %s: %w", g, err)
	}
	if err := os.RemoveAll(filepath.Join(dir, ".git")); err != nil {
		return "", err
	}
	sub, err := securejoin.SecureJoin(dir, g.Subdir)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%s: the repository has no directory %s", g, g.Subdir)
	}
	return sub, nil
}
