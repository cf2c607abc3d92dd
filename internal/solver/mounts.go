package solver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/cachemount"
	"github.com/whittle-build/whittle/internal/plan"
	"github.com/whittle-build/whittle/internal/secrets"
	"github.com/whittle-build/whittle/internal/step"
)

// Secrets gives RUN --mount=type=secret the build's secrets.
type Secrets interface {
	// Secret returns the bytes of the secret id, or an error wrapping
	// secrets.ErrNotFound when the build has no such secret.
	Secret(id string) ([]byte, error)
}

// Default permissions of what a mount exposes, as BuildKit's.
const (
	secretMode  = 0o400
	sshMode     = 0o600
	defaultUser = 0
)

// mountInput is what a bind mount shows or a cache mount is seeded from.
type mountInput struct {
	// state is a stage's result, an image, or a view of a build context.
	state *State
	// hostDir is a build context directory a bind mount may show as it is
	// (see hostView).
	hostDir string
	// context names the build context a cache mount is seeded from.
	context *string
}

// mountSources returns, by mount index, what r's bind mounts and seeded
// cache mounts read: a stage's result, an image, or a build context,
// shown directly when that is what a copy would look like, else through
// a view made (or found in the cache) here. It runs before the RUN takes
// an execution slot, since a context view is a step that needs one.
func (s *Solver) mountSources(ctx context.Context, r *plan.Run, runs map[*plan.Stage]*stageRun) (map[int]mountInput, error) {
	out := map[int]mountInput{}
	for i, m := range r.Mounts {
		if m.Type != plan.MountBind && m.Type != plan.MountCache {
			continue
		}
		var (
			in  mountInput
			err error
		)
		switch m.From.Kind {
		case plan.SourceNone:
			continue
		case plan.SourceStage:
			in.state, err = wait(ctx, runs, m.From.Stage)
		case plan.SourceImage:
			in.state, err = s.imageState(ctx, m.From.Image, m.From.Image.Platform)
		case plan.SourceContext:
			switch {
			case m.Type == plan.MountCache:
				// Seeded once, when the cache directory is made.
				name := m.From.Context
				in.context = &name
			default:
				if in.hostDir, err = s.hostView(m.From.Context, mountSource(m), !m.ReadOnly); err == nil && in.hostDir == "" {
					in.state, err = s.contextView(ctx, m.From.Context, mountSource(m))
				}
			}
		default:
			err = fmt.Errorf("unknown source %q", m.From.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("--mount=type=%s,target=%s: %w", m.Type, m.Target, err)
		}
		out[i] = in
	}
	return out, nil
}

// mountSource is the path a mount reads inside its source, "." for the root.
func mountSource(m plan.Mount) string {
	if m.Source == "" || m.Source == "/" {
		return "."
	}
	return m.Source
}

// runMounts is what a RUN's mounts hold while it runs.
type runMounts struct {
	mounts []step.Mount
	env    []string
	// dir holds secret files and agent sockets; "" until needed.
	dir       string
	removeDir func() error
	scratch   string
	releases  []func() error
}

// release undoes everything prepareMounts did, last first.
func (rm *runMounts) release() error {
	var errs []error
	for i := len(rm.releases) - 1; i >= 0; i-- {
		errs = append(errs, rm.releases[i]())
	}
	rm.releases = nil
	if rm.dir != "" {
		errs = append(errs, rm.removeDir())
		rm.dir = ""
	}
	return errors.Join(errs...)
}

// privateDir returns the directory for secret files and agent sockets.
func (rm *runMounts) privateDir() (string, error) {
	if rm.dir == "" {
		d, remove, err := secrets.TempDir(rm.scratch)
		if err != nil {
			return "", err
		}
		rm.dir, rm.removeDir = d, remove
	}
	return rm.dir, nil
}

// prepareMounts makes the mounts of r ready: views of their sources,
// cache directories (locked as their sharing says), secret files and env
// variables, forwarded ssh agents. With freshCaches the cache directories
// are emptied first, once per build (cachemount's AcquireFresh). The caller runs the
// process and then calls release, also on error.
func (s *Solver) prepareMounts(ctx context.Context, r *plan.Run, srcs map[int]mountInput, scratch string, freshCaches bool) (*runMounts, error) {
	rm := &runMounts{scratch: scratch}
	sshTarget := ""
	for i, m := range r.Mounts {
		var err error
		switch m.Type {
		case plan.MountBind:
			err = s.bindMount(ctx, rm, m, srcs[i])
		case plan.MountCache:
			err = s.cacheMount(ctx, rm, m, srcs[i], freshCaches)
		case plan.MountTmpfs:
			opts := []string{"nosuid"}
			if m.Size > 0 {
				opts = append(opts, fmt.Sprintf("size=%d", m.Size))
			}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			rm.mounts = append(rm.mounts, step.Mount{Type: "tmpfs", Source: "tmpfs", Target: m.Target, Options: opts})
		case plan.MountSecret:
			err = s.secretMount(rm, m)
		case plan.MountSSH:
			if sshTarget == "" {
				sshTarget = m.Target
			}
			err = s.sshMount(rm, m, i)
		default:
			err = fmt.Errorf("unknown mount type %q", m.Type)
		}
		if err != nil {
			rm.release()
			return nil, fmt.Errorf("--mount=type=%s,target=%s: %w", m.Type, mountTarget(m), err)
		}
	}
	// As BuildKit: the first ssh mount is the process's agent unless the
	// instruction sets SSH_AUTH_SOCK itself.
	if sshTarget != "" && !hasEnv(r.Env, "SSH_AUTH_SOCK") {
		rm.env = append(rm.env, "SSH_AUTH_SOCK="+sshTarget)
	}
	// Parents before children, as BuildKit sorts mounts by target.
	sort.SliceStable(rm.mounts, func(a, b int) bool { return rm.mounts[a].Target < rm.mounts[b].Target })
	return rm, nil
}

func mountTarget(m plan.Mount) string {
	if m.Target == "" && m.Env != "" {
		return "(env " + m.Env + ")"
	}
	return m.Target
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if len(e) > len(key) && e[:len(key)] == key && e[len(key)] == '=' {
			return true
		}
	}
	return false
}

// view returns a directory with the files of state: a read-only mount may
// see the stored snapshot of a one-layer state directly; anything else
// gets a snapshot of its own, so that writes (rw) are discarded.
func (s *Solver) view(ctx context.Context, rm *runMounts, state *State, writable bool) (string, error) {
	lowers, err := s.lowers(ctx, state)
	if err != nil {
		return "", err
	}
	if !writable && len(lowers) == 1 {
		return lowers[0], nil
	}
	active, err := s.o.Snapshotter.Prepare(ctx, lowers)
	if err != nil {
		return "", err
	}
	rm.releases = append(rm.releases, active.Release)
	return active.Root(), nil
}

// bindMount mounts a path of a stage, an image or a build context.
func (s *Solver) bindMount(ctx context.Context, rm *runMounts, m plan.Mount, src mountInput) error {
	var p string
	switch {
	case src.hostDir != "":
		p = src.hostDir
	case src.state != nil:
		root, err := s.view(ctx, rm, src.state, !m.ReadOnly)
		if err != nil {
			return err
		}
		if p, err = securejoin.SecureJoin(root, mountSource(m)); err != nil {
			return err
		}
	default:
		return errors.New("the mount has no source")
	}
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("source %s: %w", path.Join("/", m.Source), errNotExist(err))
	}
	rm.mounts = append(rm.mounts, step.Mount{Type: "bind", Source: p, Target: m.Target, ReadOnly: m.ReadOnly})
	return nil
}

func errNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("no such file or directory")
	}
	return err
}

// cacheKey is a cache mount's identity: its id and what seeds it. A
// different seed (another from=, source= or permissions) is another cache,
// as in BuildKit, where the seed is the cache's parent snapshot.
func cacheKey(m plan.Mount, seed string) string {
	k := struct {
		ID     string  `json:"id"`
		Seed   string  `json:"seed,omitempty"`
		Source string  `json:"source,omitempty"`
		UID    *int    `json:"uid,omitempty"`
		GID    *int    `json:"gid,omitempty"`
		Mode   *uint32 `json:"mode,omitempty"`
	}{ID: m.ID, Seed: seed, Source: m.Source, UID: m.UID, GID: m.GID, Mode: m.Mode}
	b, _ := json.Marshal(k)
	return string(b)
}

// seedID names what seeds a cache mount, machine-independently: the
// seed's step key, or the build context's name (its content does not
// matter once the cache exists, as in BuildKit, where a cache mount's
// contents are never part of a key).
func seedID(src mountInput) string {
	switch {
	case src.state != nil:
		return src.state.Key.String()
	case src.context != nil:
		return "context:" + *src.context
	}
	return ""
}

// cacheMount mounts a persistent cache directory of the store.
func (s *Solver) cacheMount(ctx context.Context, rm *runMounts, m plan.Mount, src mountInput, fresh bool) error {
	init := func(dir string) error {
		var from step.Source
		switch {
		case src.state != nil:
			root, err := s.view(ctx, rm, src.state, false)
			if err != nil {
				return err
			}
			from = step.Source{Root: root, KeepOwner: true}
		case src.context != nil:
			bc, ok := s.o.Contexts[*src.context]
			if !ok {
				return fmt.Errorf("build context %q is not defined", *src.context)
			}
			// As from a context view: root-owned, .dockerignore applied.
			from = step.Source{Root: bc.Root(), Excluded: bc.Excluded, Exceptions: bc.Exceptions()}
		}
		if from.Root != "" {
			cp := &plan.Copy{Sources: []string{mountSource(m)}, Dest: "/"}
			if err := step.Copy(ctx, dir, cp, from, step.CopyOptions{Epoch: s.o.Epoch, Scratch: rm.scratch}); err != nil {
				return fmt.Errorf("seeding from %s: %w", path.Join("/", m.Source), err)
			}
		}
		if m.UID != nil || m.GID != nil {
			uid, gid := defaultUser, defaultUser
			if m.UID != nil {
				uid = *m.UID
			}
			if m.GID != nil {
				gid = *m.GID
			}
			// Unprivileged, other ids cannot be given (nor, in a single-id
			// user namespace, represented): the directory stays the user's.
			if err := os.Lchown(dir, uid, gid); err != nil && os.Geteuid() == 0 {
				return err
			}
		}
		// A new directory is 0755 (cachemount makes it so) unless mode= says.
		if m.Mode != nil {
			return os.Chmod(dir, archive.FileMode(*m.Mode))
		}
		return nil
	}
	key, sharing := cacheKey(m, seedID(src)), cachemount.Sharing(m.Sharing)
	if fresh {
		// Made anew once per build, at its first use: the later steps of a
		// build that ignores the cache see what the earlier ones left there,
		// as in BuildKit.
		_, err := s.freshCaches.get(key, func() (struct{}, error) {
			cm, err := s.cacheDirs.AcquireFresh(ctx, key, sharing, init)
			if err != nil {
				return struct{}{}, err
			}
			return struct{}{}, cm.Release()
		})
		if err != nil {
			return err
		}
	}
	cm, err := s.cacheDirs.Acquire(ctx, key, sharing, init)
	if err != nil {
		return err
	}
	rm.releases = append(rm.releases, cm.Release)
	rm.mounts = append(rm.mounts, step.Mount{Type: "bind", Source: cm.Dir, Target: m.Target, ReadOnly: m.ReadOnly})
	return nil
}

// secretMount exposes a secret as a read-only file on a memory filesystem
// and/or an environment variable. A secret the build lacks is an error
// when required, else the mount is left out, as BuildKit does.
func (s *Solver) secretMount(rm *runMounts, m plan.Mount) error {
	var data []byte
	var err error
	if s.o.Secrets == nil {
		err = fmt.Errorf("secret %q: %w", m.ID, secrets.ErrNotFound)
	} else {
		data, err = s.o.Secrets.Secret(m.ID)
	}
	if errors.Is(err, secrets.ErrNotFound) {
		if m.Required {
			return fmt.Errorf("secret %s is required but was not given (whittle build --secret id=%s,src=FILE or id=%s,env=VAR)", m.ID, m.ID, m.ID)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if m.Target != "" {
		dir, err := rm.privateDir()
		if err != nil {
			return err
		}
		uid, gid, mode := ids(m, secretMode)
		p, err := secrets.WriteFile(dir, fmt.Sprintf("secret-%d", len(rm.mounts)), data, uid, gid, mode)
		if err != nil {
			return err
		}
		rm.mounts = append(rm.mounts, step.Mount{Type: "bind", Source: p, Target: m.Target, ReadOnly: true})
	}
	if m.Env != "" {
		rm.env = append(rm.env, m.Env+"="+string(data))
	}
	return nil
}

// sshMount forwards an ssh agent through a new socket at the target. An
// agent the build lacks is an error when required, else left out.
func (s *Solver) sshMount(rm *runMounts, m plan.Mount, i int) error {
	if !s.o.SSH.Has(m.ID) {
		if m.Required {
			return fmt.Errorf("ssh agent %s is required but was not given (whittle build --ssh %s)", m.ID, m.ID)
		}
		return nil
	}
	dir, err := rm.privateDir()
	if err != nil {
		return err
	}
	uid, gid, mode := ids(m, sshMode)
	fw, err := s.o.SSH.Forward(m.ID, dir, fmt.Sprintf("ssh-%d", i), uid, gid, mode)
	if err != nil {
		return err
	}
	rm.releases = append(rm.releases, fw.Close)
	rm.mounts = append(rm.mounts, step.Mount{Type: "bind", Source: fw.Path, Target: m.Target})
	return nil
}

// ids returns a mount's owner and mode, with defaults.
func ids(m plan.Mount, mode os.FileMode) (int, int, os.FileMode) {
	uid, gid := defaultUser, defaultUser
	if m.UID != nil {
		uid = *m.UID
	}
	if m.GID != nil {
		gid = *m.GID
	}
	if m.Mode != nil {
		mode = archive.FileMode(*m.Mode)
	}
	return uid, gid, mode
}
