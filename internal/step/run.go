package step

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/whittle-build/whittle/internal/passwd"
	"github.com/whittle-build/whittle/internal/plan"
)

// Sandbox runs a process in an isolated root filesystem.
type Sandbox interface {
	Run(ctx context.Context, p *Process) error
}

// Process is what a Sandbox runs.
type Process struct {
	Rootfs   string
	Args     []string
	Env      []string
	Cwd      string
	UID, GID uint32
	Groups   []uint32
	// Network is "host" or "none".
	Network string
	// Mounts are extra mounts (RUN --mount), in order.
	Mounts []Mount
	// Settings are the build's --add-host, --shm-size and --ulimit.
	Settings Settings
	// Privileged is RUN --security=insecure: every capability, the
	// host's devices, nothing masked.
	Privileged bool
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
}

// Mount is a bind or tmpfs mount into the process's root filesystem.
type Mount struct {
	// Type is "bind" or "tmpfs".
	Type string
	// Source is the host path of a bind mount.
	Source string
	// Target is the absolute path inside the root filesystem.
	Target   string
	ReadOnly bool
	// Options are extra mount options ("size=...", "mode=...").
	Options []string
}

// ExitError is a process that ran and failed.
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string { return fmt.Sprintf("exit code: %d", e.Code) }

// RunOptions tune Run.
type RunOptions struct {
	// Network is used when the instruction does not say: "host" (default) or "none".
	Network string
	// Mounts are the instruction's mounts, prepared by the caller.
	Mounts []Mount
	// Settings are the build's --add-host, --shm-size and --ulimit.
	Settings Settings
	// Env are extra KEY=VALUE variables for the process (secrets exposed
	// with env=, SSH_AUTH_SOCK), replacing the instruction's variables of
	// the same name. They are not part of the instruction: nothing records
	// them.
	Env    []string
	Stdin  io.Reader
	Output io.Writer
	// Scratch is a directory for files the process needs (heredoc
	// scripts); default the system's temporary directory.
	Scratch string
}

// Run runs r in rootfs through sb. A process that exits non-zero gives an
// error that says what ran and with which code, as BuildKit's does, and
// wraps an *ExitError.
func Run(ctx context.Context, rootfs string, r *plan.Run, sb Sandbox, o RunOptions) error {
	ids, err := passwd.Lookup(rootfs, r.User)
	if err != nil {
		return fmt.Errorf("USER %s: %w", r.User, err)
	}
	network := o.Network
	if r.Network != "" && r.Network != "default" {
		network = r.Network
	}
	if network == "" {
		network = "host"
	}
	cwd := r.Cwd
	if cwd == "" {
		cwd = "/"
	}
	// The working directory exists before the process starts, as with
	// BuildKit (owned by root when RUN has to create it).
	cp := &copier{rootfs: rootfs}
	if _, err := cp.mkdirAll(cwd); err != nil {
		return fmt.Errorf("creating working directory %s: %w", cwd, err)
	}
	mounts := append([]Mount(nil), o.Mounts...)
	for _, h := range r.Heredocs {
		// A heredoc script (RUN <<EOF starting with #!) is run from
		// /dev/pipes/<name>, read-only and executable, as BuildKit does.
		f, err := os.CreateTemp(o.Scratch, "heredoc-")
		if err != nil {
			return err
		}
		_, werr := f.WriteString(h.Content)
		cerr := f.Close()
		defer os.Remove(f.Name())
		if werr != nil || cerr != nil {
			return fmt.Errorf("writing heredoc %s: %v", h.Name, errors.Join(werr, cerr))
		}
		if err := os.Chmod(f.Name(), 0o755); err != nil {
			return err
		}
		mounts = append(mounts, Mount{Type: "bind", Source: f.Name(), Target: "/dev/pipes/" + h.Name, ReadOnly: true})
	}
	out := o.Output
	if out == nil {
		out = io.Discard
	}
	p := &Process{
		Rootfs: rootfs, Args: r.Args, Env: mergeEnv(append(slices.Clone(r.Env), r.ProxyEnv...), o.Env), Cwd: cwd,
		UID: ids.UID, GID: ids.GID, Groups: ids.Groups,
		Network: network, Mounts: mounts, Settings: o.Settings,
		Privileged: r.Security == plan.SecurityInsecure,
		Stdin:      o.Stdin, Stdout: out, Stderr: out,
	}
	if err := sb.Run(ctx, p); err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("process %q did not complete successfully: %w", strings.Join(r.Args, " "), err)
		}
		return fmt.Errorf("running %q: %w", strings.Join(r.Args, " "), err)
	}
	return nil
}

// mergeEnv returns env with the KEY=VALUE entries of extra added, each
// replacing an entry of env with the same key.
func mergeEnv(env, extra []string) []string {
	if len(extra) == 0 {
		return env
	}
	out := make([]string, 0, len(env)+len(extra))
	override := map[string]bool{}
	for _, e := range extra {
		k, _, _ := strings.Cut(e, "=")
		override[k] = true
	}
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); !override[k] {
			out = append(out, e)
		}
	}
	return append(out, extra...)
}
