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
	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
)

// GitRef is a Git repository as docker build takes it for a context or
// ADD: URL#REF:SUBDIR (or BuildKit's ?ref=&subdir=&keep-git-dir= query).
type GitRef struct {
	// Repo is what git fetches from.
	Repo string
	// Ref is a branch, tag or commit; "" is the remote's HEAD.
	Ref string
	// Subdir is the directory of the repository that is the context; ""
	// is its root.
	Subdir string
	// KeepGitDir keeps .git in the checkout (ADD --keep-git-dir).
	KeepGitDir bool
}

// IsGitURL says whether s names a Git repository by BuildKit's rules
// (dfgitutil): git@host:path, git://, ssh://, or an http(s) URL whose path
// ends in .git. The deprecated "github.com/org/repo" form, which a local
// directory could have, is not one.
func IsGitURL(s string) bool {
	ref, isGit, err := dfgitutil.ParseGitRef(s)
	return err == nil && isGit && !ref.IndistinguishableFromLocal
}

// ParseGitURL reads s as IsGitURL does; ok is false when it is not one.
func ParseGitURL(s string) (g GitRef, ok bool) {
	ref, isGit, err := dfgitutil.ParseGitRef(s)
	if err != nil || !isGit || ref.IndistinguishableFromLocal {
		return GitRef{}, false
	}
	g = GitRef{Repo: ref.Remote, Ref: ref.Ref, Subdir: ref.SubDir}
	if ref.KeepGitDir != nil {
		g.KeepGitDir = *ref.KeepGitDir
	}
	return g, true
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

// git runs the git command in dir for g and returns its output; errors
// carry the last lines git printed, with g's credentials taken out. It
// never waits for a password on a terminal.
func (g GitRef) git(ctx context.Context, dir string, args ...string) (string, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return "", fmt.Errorf("%s: Git sources need the git command: %w", g, err)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := bytes.ReplaceAll(append(stderr.Bytes(), out...), []byte(g.Repo), []byte(g.String()))
		lines := strings.Split(strings.TrimSpace(string(msg)), "\n")
		return "", fmt.Errorf("git %s: %w: %s", args[0], err, strings.Join(lines[max(0, len(lines)-3):], "; "))
	}
	return string(out), nil
}

// ResolveGit returns the commit g.Ref names on the server now (git
// ls-remote; a full commit id is its own answer): what a step that adds
// the repository is keyed by, as BuildKit keys its Git source.
func ResolveGit(ctx context.Context, g GitRef) (string, error) {
	if isCommit(g.Ref) {
		return g.Ref, nil
	}
	out, err := g.git(ctx, "", "ls-remote", g.Repo)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", g, err)
	}
	refs := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if sha, name, ok := strings.Cut(strings.TrimSpace(line), "\t"); ok {
			refs[name] = sha
		}
	}
	want := []string{"HEAD"}
	if g.Ref != "" {
		// A tag's commit (^{}) before the tag object.
		want = []string{"refs/heads/" + g.Ref, "refs/tags/" + g.Ref + "^{}", "refs/tags/" + g.Ref, g.Ref}
	}
	for _, w := range want {
		if sha, ok := refs[w]; ok {
			return sha, nil
		}
	}
	return "", fmt.Errorf("resolving %s: no branch, tag or commit %q in the repository", g, g.Ref)
}

// isCommit says whether ref is a full commit id (SHA-1 or SHA-256).
func isCommit(ref string) bool {
	return (len(ref) == 40 || len(ref) == 64) && strings.Trim(ref, "0123456789abcdef") == ""
}

// FromGit checks out g.Ref of the repository into dir with the git
// command, at depth 1 when the server allows it, with its submodules and
// without .git unless g.KeepGitDir (as BuildKit's Git source), and returns
// the context directory: g.Subdir, resolved inside dir. A non-empty commit
// must be what the ref checks out (ResolveGit's answer): a ref that moved
// in between is an error, not another tree.
func FromGit(ctx context.Context, g GitRef, dir, commit string) (string, error) {
	git := func(args ...string) error {
		_, err := g.git(ctx, dir, args...)
		return err
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
	if err == nil && commit != "" {
		var head string
		if head, err = g.git(ctx, dir, "rev-parse", "HEAD"); err == nil && strings.TrimSpace(head) != commit {
			err = fmt.Errorf("%s moved from %.12s to %.12s during the build: build again", ref, commit, strings.TrimSpace(head))
		}
	}
	if err == nil {
		err = git("submodule", "-q", "update", "--init", "--recursive", "--depth", "1")
	}
	if err != nil {
		return "", fmt.Errorf("fetching the build context %s: %w", g, err)
	}
	if !g.KeepGitDir {
		if err := os.RemoveAll(filepath.Join(dir, ".git")); err != nil {
			return "", err
		}
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
