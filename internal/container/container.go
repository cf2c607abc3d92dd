// Package container runs an image's command in the sandbox RUN steps use,
// on a throw-away snapshot of its layers: `whittle run`, for smoke tests of
// built images.
package container

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/whittle-build/whittle/internal/passwd"
	"github.com/whittle-build/whittle/internal/sandbox"
	"github.com/whittle-build/whittle/internal/snapshot"
	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/userns"
)

// Options say what to run and how; zero values take the image's config.
type Options struct {
	// Args replace the image's CMD (docker run IMAGE ARGS...).
	Args []string
	// Entrypoint, when not nil, replaces the image's ENTRYPOINT.
	Entrypoint []string
	// Env entries are added to (or override) the image's.
	Env []string
	// User overrides the image's USER.
	User string
	// Workdir overrides the image's WORKDIR.
	Workdir string
	// Network is "host" (default) or "none".
	Network string
	// Volumes are host paths bound into the container (docker run -v).
	Volumes []Volume
	// Terminal allocates a pseudo-terminal.
	Terminal bool
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
}

// Volume is a host file or directory bound into the container.
type Volume struct {
	// Source is the host path, absolute; Target the absolute path inside.
	Source, Target string
	ReadOnly       bool
}

// ParseVolume reads docker run's -v HOST:CONTAINER[:ro|rw]. The host path
// must exist (docker would make an empty directory, which a smoke test
// never wants); a relative one is taken from the working directory.
func ParseVolume(s string) (Volume, error) {
	parts := strings.Split(s, ":")
	v := Volume{}
	switch {
	case len(parts) == 3 && (parts[2] == "ro" || parts[2] == "rw"):
		v.ReadOnly = parts[2] == "ro"
	case len(parts) != 2:
		return v, fmt.Errorf("-v %s: want HOST:CONTAINER[:ro|rw] (named volumes are not supported)", s)
	}
	if parts[0] == "" || !path.IsAbs(parts[1]) {
		return v, fmt.Errorf("-v %s: want HOST:CONTAINER[:ro|rw] with an absolute CONTAINER path", s)
	}
	src, err := filepath.Abs(parts[0])
	if err != nil {
		return v, fmt.Errorf("-v %s: %w", s, err)
	}
	if _, err := os.Stat(src); err != nil {
		return v, fmt.Errorf("-v %s: %w", s, err)
	}
	v.Source, v.Target = src, path.Clean(parts[1])
	return v, nil
}

// Run runs img (whose blobs are in st) with snap and waits. The process's
// changes are discarded. A non-zero exit is a *sandbox.ExitError.
func Run(ctx context.Context, st *store.Store, snap snapshot.Snapshotter, img v1.Image, o Options) error {
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading image config: %w", err)
	}
	c := cfg.Config
	entry := c.Entrypoint
	if o.Entrypoint != nil {
		entry = o.Entrypoint
	}
	cmd := c.Cmd
	if len(o.Args) > 0 || o.Entrypoint != nil {
		cmd = o.Args
	}
	args := append(append([]string{}, entry...), cmd...)
	if len(args) == 0 {
		return fmt.Errorf("the image has no ENTRYPOINT or CMD: give a command to run")
	}
	lowers, err := st.UnpackImage(ctx, img)
	if err != nil {
		return err
	}
	active, err := snap.Prepare(ctx, lowers)
	if err != nil {
		return err
	}
	defer active.Release()

	user := c.User
	if o.User != "" {
		user = o.User
	}
	ids, err := passwd.Lookup(active.Root(), user)
	if err != nil {
		return err
	}
	cwd := c.WorkingDir
	if o.Workdir != "" {
		cwd = o.Workdir
	}
	var mounts []specs.Mount
	for _, v := range o.Volumes {
		opts := []string{"rbind"}
		if v.ReadOnly {
			opts = append(opts, "ro")
		}
		mounts = append(mounts, specs.Mount{Destination: v.Target, Type: "bind", Source: v.Source, Options: opts})
	}
	spec, err := sandbox.NewSpec(active.Root(), sandbox.Options{
		Args: args, Env: mergeEnv(c.Env, o.Env), Cwd: cwd,
		UID: ids.UID, GID: ids.GID, AdditionalGIDs: ids.Groups,
		Network: o.Network, Terminal: o.Terminal, Mounts: mounts,
		ParentGIDMappings: userns.Current().SpecGIDMappings(),
	})
	if err != nil {
		return err
	}
	return sandbox.Run(ctx, spec, sandbox.Stdio{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr})
}

// mergeEnv overrides base entries with extra ones of the same name.
func mergeEnv(base, extra []string) []string {
	out := append([]string{}, base...)
	for _, e := range extra {
		k, _, _ := strings.Cut(e, "=")
		replaced := false
		for i, b := range out {
			if bk, _, _ := strings.Cut(b, "="); bk == k {
				out[i], replaced = e, true
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}
