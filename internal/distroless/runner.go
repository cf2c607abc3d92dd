package distroless

import (
	"context"
	"errors"
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/whittle-build/whittle/internal/sandbox"
)

// Runner runs a command as root in a root filesystem, without network: the
// debian recipe's dpkg. Bind mounts are read-only.
type Runner interface {
	Run(ctx context.Context, rootfs string, args, env []string, binds []Bind, stdout, stderr io.Writer) error
}

// Bind is a read-only bind mount of the host directory Source at Target.
type Bind struct {
	Source, Target string
}

// SandboxRunner runs commands in whittle's sandbox (package sandbox): new
// mount, PID, IPC, UTS and network namespaces, Docker's default
// capabilities. The calling process must be root, in a private mount
// namespace (mountns.Ensure).
type SandboxRunner struct{}

var _ Runner = SandboxRunner{}

// Run implements Runner.
func (SandboxRunner) Run(ctx context.Context, rootfs string, args, env []string, binds []Bind, stdout, stderr io.Writer) error {
	var mounts []specs.Mount
	for _, b := range binds {
		mounts = append(mounts, specs.Mount{Destination: b.Target, Type: "bind", Source: b.Source, Options: []string{"rbind", "ro"}})
	}
	spec, err := sandbox.NewSpec(rootfs, sandbox.Options{Args: args, Env: env, Network: sandbox.NetworkNone, Mounts: mounts})
	if err != nil {
		return err
	}
	err = sandbox.Run(ctx, spec, sandbox.Stdio{Stdout: stdout, Stderr: stderr})
	var ee *sandbox.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("%s exited with status %d: %w", args[0], ee.Code, err)
	}
	return err
}
