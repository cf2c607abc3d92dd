package frontend

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/whittle-build/whittle/internal/plan"
)

// runMounts lowers RUN --mount options, resolving from= to a stage, image or
// build context and relative targets against the working directory.
func (l *lowering) runMounts(s *stage, c *instructions.RunCommand, cmd command) ([]plan.Mount, error) {
	var out []plan.Mount
	sshIndex := 0
	for i, m := range instructions.GetMounts(c) {
		switch m.Type {
		case instructions.MountTypeSecret:
			pm, err := secretMount(m)
			if err != nil {
				return nil, err
			}
			out = append(out, pm)
			continue
		case instructions.MountTypeSSH:
			pm, err := sshMount(m, sshIndex)
			if err != nil {
				return nil, err
			}
			sshIndex++
			out = append(out, pm)
			continue
		}
		pm := plan.Mount{Type: plan.MountType(m.Type), ReadOnly: m.ReadOnly}
		switch {
		case m.Type == instructions.MountTypeTmpfs:
			pm.Size = m.SizeLimit
		case m.From != "":
			var src *stage
			if i < len(cmd.sources) {
				src = cmd.sources[i]
			}
			if src == nil {
				return nil, fmt.Errorf("no source recorded for mount from %q", m.From)
			}
			if !src.source && !src.dispatched {
				return nil, fmt.Errorf("cannot mount from stage %q to %q, stage needs to be defined before current command", m.From, m.Target)
			}
			pm.From = l.sourceOf(src)
		case m.Type == instructions.MountTypeBind:
			pm.From = plan.Source{Kind: plan.SourceContext}
		}
		if m.Type == instructions.MountTypeCache {
			pm.ID = m.CacheID
			if pm.ID == "" {
				pm.ID = path.Clean(m.Target)
			}
			pm.Sharing = string(m.CacheSharing)
			if pm.Sharing == "" {
				pm.Sharing = string(instructions.MountSharingShared)
			}
		}
		target := m.Target
		if !filepath.IsAbs(filepath.Clean(target)) {
			target = filepath.Join("/", s.state.dir, target)
		}
		if target == "/" {
			return nil, fmt.Errorf("invalid mount target %q", target)
		}
		pm.Target = target
		if src := path.Join("/", m.Source); src != "/" {
			pm.Source = src
		}
		pm.Mode, pm.UID, pm.GID = fileInfo(m)
		out = append(out, pm)
	}
	return out, nil
}

// secretMount lowers type=secret: the id defaults to the source, then to the
// target's base name; the target to /run/secrets/<id> unless env= is given.
func secretMount(m *instructions.Mount) (plan.Mount, error) {
	id := m.CacheID
	if m.Source != "" {
		id = m.Source
	}
	if id == "" {
		if m.Target == "" {
			return plan.Mount{}, errors.New("one of source, target required")
		}
		id = path.Base(m.Target)
	}
	pm := plan.Mount{Type: plan.MountSecret, ID: id, Target: m.Target, Required: m.Required, ReadOnly: true}
	if m.Env != nil {
		pm.Env = *m.Env
	} else if pm.Target == "" {
		pm.Target = "/run/secrets/" + path.Base(id)
	}
	pm.Mode, pm.UID, pm.GID = fileInfo(m)
	return pm, nil
}

// sshMount lowers type=ssh: the id defaults to "default" and the socket to
// /run/buildkit/ssh_agent.<n>, n counting the RUN's ssh mounts.
func sshMount(m *instructions.Mount, n int) (plan.Mount, error) {
	if m.Source != "" {
		return plan.Mount{}, errors.New("ssh does not support source")
	}
	pm := plan.Mount{Type: plan.MountSSH, ID: m.CacheID, Target: m.Target, Required: m.Required, ReadOnly: true}
	if pm.ID == "" {
		pm.ID = "default"
	}
	if pm.Target == "" {
		pm.Target = fmt.Sprintf("/run/buildkit/ssh_agent.%d", n)
	}
	pm.Mode, pm.UID, pm.GID = fileInfo(m)
	return pm, nil
}

// fileInfo converts the mode, uid and gid options.
func fileInfo(m *instructions.Mount) (*uint32, *int, *int) {
	var mode *uint32
	var uid, gid *int
	if m.Mode != nil {
		v := uint32(*m.Mode)
		mode = &v
	}
	if m.UID != nil {
		v := int(*m.UID)
		uid = &v
	}
	if m.GID != nil {
		v := int(*m.GID)
		gid = &v
	}
	return mode, uid, gid
}
