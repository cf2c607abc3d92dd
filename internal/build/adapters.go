package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/whittle-build/whittle/internal/plan"
	"github.com/whittle-build/whittle/internal/resolve"
	"github.com/whittle-build/whittle/internal/sandbox"
	"github.com/whittle-build/whittle/internal/snapshot"
	"github.com/whittle-build/whittle/internal/step"
	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/userns"
)

// sandboxRunner runs RUN steps with package sandbox.
type sandboxRunner struct{}

func (sandboxRunner) Run(ctx context.Context, p *step.Process) error {
	var mounts []specs.Mount
	for _, m := range p.Mounts {
		sm := specs.Mount{Destination: m.Target, Type: m.Type, Source: m.Source, Options: append([]string(nil), m.Options...)}
		if m.Type == "bind" {
			sm.Options = append(sm.Options, "rbind")
		}
		if m.ReadOnly {
			sm.Options = append(sm.Options, "ro")
		}
		mounts = append(mounts, sm)
	}
	if len(p.Settings.Hosts) > 0 {
		// BuildKit writes a hosts file for each step that has extra hosts;
		// like sandbox.Run's own, it goes beside the root filesystem. A
		// RUN --mount at /etc/hosts, later in the list, wins.
		hosts, cleanup, err := sandbox.WriteHostsFile(filepath.Dir(p.Rootfs), "", step.HostLines(p.Settings.Hosts))
		if err != nil {
			return err
		}
		defer cleanup()
		mounts = append([]specs.Mount{sandbox.HostsMount(hosts)}, mounts...)
	}
	spec, err := sandbox.NewSpec(p.Rootfs, sandbox.Options{
		Args: p.Args, Env: p.Env, Cwd: p.Cwd,
		UID: p.UID, GID: p.GID, AdditionalGIDs: p.Groups,
		Network: p.Network, Mounts: mounts, Privileged: p.Privileged,
		ShmSize: p.Settings.ShmSize, Rlimits: rlimits(p.Settings.Ulimits),
		ParentGIDMappings: userns.Current().SpecGIDMappings(),
	})
	if err != nil {
		return err
	}
	err = sandbox.Run(ctx, spec, sandbox.Stdio{Stdin: p.Stdin, Stdout: p.Stdout, Stderr: p.Stderr})
	var ee *sandbox.ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			return fmt.Errorf("%w: %w", ee.Err, &step.ExitError{Code: ee.Code})
		}
		return &step.ExitError{Code: ee.Code}
	}
	return err
}

// storeImages gives the solver images that the resolver put in the store.
type storeImages struct {
	st *store.Store
	r  *resolve.Resolver
}

func (s storeImages) Image(ctx context.Context, ref *plan.ImageRef) (v1.Image, error) {
	if d, err := s.st.Lookup(ref.Digest.String()); err == nil {
		return s.st.Image(d)
	}
	// Gone from the store since the plan was made: resolved again, for
	// the platform the plan resolved it for.
	got, err := s.r.ResolveImage(ctx, ref.Ref, ref.Platform)
	if err != nil {
		return nil, err
	}
	if got.Digest != ref.Digest {
		return nil, fmt.Errorf("image %s changed while building: now %s, planned %s", ref.Ref, got.Digest, ref.Digest)
	}
	d, err := s.st.Lookup(got.Digest.String())
	if err != nil {
		return nil, err
	}
	return s.st.Image(d)
}

// newSnapshotter picks overlayfs when the kernel supports it in the store's
// filesystem, else the copying snapshotter (WHITTLE_SNAPSHOTTER=copy forces
// copies).
func newSnapshotter(st *store.Store) (snapshot.Snapshotter, error) {
	dir, err := st.TempDir("snapshots-")
	if err != nil {
		return nil, err
	}
	if os.Getenv("WHITTLE_SNAPSHOTTER") == "copy" {
		return snapshot.NewCopy(dir)
	}
	return snapshot.New(dir, st.OverlayStamp())
}

// rlimits are --ulimit values as runtime-spec rlimits.
func rlimits(us []step.Ulimit) []specs.POSIXRlimit {
	var out []specs.POSIXRlimit
	for _, u := range us {
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Soft: u.Soft, Hard: u.Hard})
	}
	return out
}
