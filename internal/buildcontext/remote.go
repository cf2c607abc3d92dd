package buildcontext

import (
	"context"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
)

// Remote is a build context that is not a local directory, made into one:
// standard input ("-"), an http(s) URL or a Git URL, as docker build takes
// them.
type Remote struct {
	// Root is the directory the context was unpacked or checked out into;
	// the caller removes it when the build is done.
	Root string
	// Dir is the context directory: Root, or the Git URL's SUBDIR in it.
	Dir string
	// Dockerfile is the -f file inside Dir; "" when -f named none.
	Dockerfile string
	// DockerfileData is the Dockerfile when the input was one (with an
	// empty context) instead of an archive.
	DockerfileData []byte
	// Source names where the context came from, for messages: "standard
	// input" or the URL without credentials.
	Source string
}

// RemoteOptions are what FetchRemote reads with.
type RemoteOptions struct {
	// Stdin is standard input, for a context of "-".
	Stdin io.Reader
	// TempDir makes the directory the context goes into.
	TempDir func(prefix string) (string, error)
	// Download opens what an http(s) URL holds.
	Download func(ctx context.Context, url string) (io.ReadCloser, error)
}

// IsRemote says whether a context argument is "-", an http(s) URL or a Git
// URL rather than a directory.
func IsRemote(arg string) bool {
	return arg == "-" || IsHTTPURL(arg) || IsGitURL(arg)
}

// IsHTTPURL says whether s is an http(s) URL of a file, not of a Git
// repository (IsGitURL): what ADD downloads and a context may be.
func IsHTTPURL(s string) bool {
	return (strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) && !IsGitURL(s)
}

// FetchRemote makes the remote context arg (see IsRemote) a directory:
// standard input or a downloaded file read as FromReader does (a tar is the
// context, anything else the Dockerfile), a Git URL checked out as FromGit
// does. file is the -f argument ("" for none; "-" means the Dockerfile
// comes from elsewhere, so the input must be a context): a path inside the
// context. On error, r.Root (when set) is still the caller's to remove.
func FetchRemote(ctx context.Context, arg, file string, o RemoteOptions) (r *Remote, err error) {
	r = &Remote{}
	inside := func() {
		if file != "" && file != "-" {
			r.Dockerfile = filepath.Join(r.Dir, filepath.FromSlash(path.Clean("/"+file)))
		}
	}
	if g, ok := ParseGitURL(arg); ok {
		if r.Root, err = o.TempDir("git-"); err != nil {
			return r, err
		}
		if r.Dir, err = FromGit(ctx, g, r.Root, ""); err != nil {
			return r, err
		}
		r.Source = g.String()
		inside()
		return r, nil
	}
	src := o.Stdin
	r.Source = "standard input"
	if arg != "-" {
		rc, err := o.Download(ctx, arg)
		if err != nil {
			return r, err
		}
		defer rc.Close()
		src, r.Source = rc, arg
	}
	if r.Root, err = o.TempDir("context-"); err != nil {
		return r, err
	}
	r.Dir = r.Root
	if r.DockerfileData, err = FromReader(ctx, src, r.Dir, r.Source); err != nil {
		return r, err
	}
	switch {
	case r.DockerfileData != nil && file == "-":
		return r, fmt.Errorf("-f - with %s: it holds a Dockerfile, not a build context", r.Source)
	case r.DockerfileData != nil && file != "":
		return r, fmt.Errorf("-f %s: %s held a Dockerfile, not a build context to find %s in", file, r.Source, file)
	}
	inside()
	return r, nil
}
