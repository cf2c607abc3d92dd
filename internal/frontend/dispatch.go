package frontend

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/util/system"

	"github.com/whittle-build/whittle/internal/plan"
)

// dispatchState is a stage's state between instructions: the image config
// being built and the build-time state (environment with build args, working
// directory, user) that BuildKit keeps in its llb.State.
type dispatchState struct {
	config v1.Config
	author string
	// env is the build-time environment: the config's Env plus ARG values.
	env  *envList
	dir  string
	user string
	// buildArgs are the ARGs declared so far, in the base stage first.
	buildArgs  []instructions.KeyValuePairOptional
	workdirSet bool

	cmd, entrypoint, healthcheck usedOnce
	ops                          []*plan.Op
}

// dispatchAll lowers the reachable stages in Dockerfile order.
func (l *lowering) dispatchAll(reach map[*stage]bool) error {
	for _, s := range l.stages {
		if reach[s] {
			s.out = &plan.Stage{Index: s.index, Name: s.name, Location: location(l.file, s.src.Location)}
		}
	}
	for _, s := range l.stages {
		if !reach[s] {
			continue
		}
		if err := l.dispatchStage(s); err != nil {
			return err
		}
	}
	return nil
}

// dispatchStage sets up a stage's state from its base and runs its commands.
func (l *lowering) dispatchStage(s *stage) error {
	s.dispatched = true
	if s.named != nil {
		// Replaced by a build context: the context is the stage's result.
		// BuildKit keeps an empty config for a directory context here, and
		// the image's config (without adding PATH) for an image.
		st := &s.state
		st.env, st.dir = &envList{}, "/"
		if s.image != nil {
			st.config = cloneConfig(s.image.Config.Config)
			st.author = s.image.Config.Author
			for _, kv := range st.config.Env {
				k, v, _ := strings.Cut(kv, "=")
				st.env = st.env.set(k, v)
			}
			if wd := st.config.WorkingDir; wd != "" {
				st.dir = path.Join("/", wd)
			}
			st.user = st.config.User
		}
		return nil
	}
	st := &s.state
	switch {
	case s.base != nil:
		b := s.base.state
		st.config = cloneConfig(b.config)
		st.config.OnBuild = nil
		st.author = b.author
		st.env = b.env
		st.dir, st.user = b.dir, b.user
		st.buildArgs = slices.Clone(b.buildArgs)
		st.workdirSet = b.workdirSet
		if s.base.platform != nil && s.platform == nil {
			s.platform = s.base.platform
		}
	case s.image != nil:
		st.config = cloneConfig(s.image.Config.Config)
		st.config.OnBuild = nil
		st.author = s.image.Config.Author
		st.env = &envList{}
		st.dir = "/"
	default:
		st.config = emptyConfig()
		st.env = &envList{}
		st.dir = "/"
	}
	// BuildKit makes sure PATH is set, then loads the config's Env into the
	// build-time environment (which moves those keys last).
	if _, ok := shell.EnvsFromSlice(st.config.Env).Get("PATH"); !ok {
		st.config.Env = append(st.config.Env, "PATH="+system.DefaultPathEnvUnix)
	}
	for _, kv := range st.config.Env {
		k, v, _ := strings.Cut(kv, "=")
		st.env = st.env.set(k, v)
	}
	if wd := st.config.WorkingDir; wd != "" {
		norm, err := system.NormalizeWorkdir(wd, wd, "linux")
		if err != nil {
			return at(l.file, s.src.Location, fmt.Errorf("normalizing workdir: %w", err))
		}
		st.config.WorkingDir, st.dir = norm, norm
	}
	if u := st.config.User; u != "" {
		st.user = u
	}
	for _, cmd := range s.commands {
		if err := l.dispatch(s, cmd); err != nil {
			return at(l.file, cmd.Location(), err)
		}
	}
	return nil
}

// dispatch expands one instruction's variables and lowers it.
func (l *lowering) dispatch(s *stage, cmd command) error {
	lint := l.lint.WithMergedConfigFromComments(cmd.Comments())
	st := &s.state
	// ARG values are expanded by dispatchArg, where an unused default must
	// not fail.
	if ex, ok := cmd.Command.(instructions.SupportsSingleWordExpansion); ok {
		if _, isArg := cmd.Command.(*instructions.ArgCommand); !isArg {
			err := ex.Expand(func(word string) (string, error) {
				w, unmatched, err := l.lex.ProcessWord(word, st.env)
				reportUnmatchedVariables(cmd, st.buildArgs, st.env, unmatched, lint)
				return w, err
			})
			if err != nil {
				return err
			}
		}
	}
	if ex, ok := cmd.Command.(instructions.SupportsSingleWordExpansionRaw); ok {
		raw := shell.NewLex('\\')
		raw.SkipProcessQuotes = true
		err := ex.ExpandRaw(func(word string) (string, error) {
			w, unmatched, err := raw.ProcessWord(word, st.env)
			reportUnmatchedVariables(cmd, st.buildArgs, st.env, unmatched, lint)
			return w, err
		})
		if err != nil {
			return err
		}
	}

	switch c := cmd.Command.(type) {
	case *instructions.RunCommand:
		return l.dispatchRun(s, c, cmd)
	case *instructions.CopyCommand:
		return l.dispatchCopy(s, copyFromCopy(c), cmd, lint)
	case *instructions.AddCommand:
		return l.dispatchCopy(s, copyFromAdd(c), cmd, lint)
	case *instructions.WorkdirCommand:
		return l.dispatchWorkdir(s, c, cmd, lint)
	case *instructions.ArgCommand:
		return l.dispatchArg(s, c, cmd, lint)
	case *instructions.EnvCommand:
		return l.dispatchEnv(s, c, cmd, lint)
	case *instructions.LabelCommand:
		return l.dispatchLabel(s, c, cmd, lint)
	case *instructions.MaintainerCommand:
		st.author = c.Maintainer
		l.op(s, cmd, plan.KindConfig, "MAINTAINER "+c.Maintainer)
	case *instructions.OnbuildCommand:
		st.config.OnBuild = append(slices.Clone(st.config.OnBuild), c.Expression)
		l.op(s, cmd, plan.KindConfig, "") // BuildKit writes no history for ONBUILD
	case *instructions.CmdCommand:
		return l.dispatchCmd(s, c, cmd, lint)
	case *instructions.EntrypointCommand:
		return l.dispatchEntrypoint(s, c, cmd, lint)
	case *instructions.HealthCheckCommand:
		return l.dispatchHealthcheck(s, c, cmd, lint)
	case *instructions.ExposeCommand:
		return l.dispatchExpose(s, c, cmd, lint)
	case *instructions.UserCommand:
		st.user = c.User
		st.config.User = c.User
		l.op(s, cmd, plan.KindConfig, "USER "+c.User)
	case *instructions.VolumeCommand:
		return l.dispatchVolume(s, c, cmd)
	case *instructions.StopSignalCommand:
		return l.dispatchStopSignal(s, c, cmd)
	case *instructions.ShellCommand:
		st.config.Shell = slices.Clone(c.Shell)
		l.op(s, cmd, plan.KindConfig, fmt.Sprintf("SHELL %v", c.Shell))
	default:
		return fmt.Errorf("unsupported instruction %s", cmd.Name())
	}
	return nil
}

// op appends an operation with the stage's config as it is now. Ops share
// the config's slices and maps: instruction handlers replace a field with a
// changed copy and never change one in place, so one large field (EXPOSE of a
// port range) is not copied for every later op.
func (l *lowering) op(s *stage, cmd command, kind plan.Kind, createdBy string) *plan.Op {
	text := cmd.Name()
	if str, ok := cmd.Command.(fmt.Stringer); ok {
		text = str.String()
	}
	if cmd.onBuild {
		text = "ONBUILD " + text
	}
	o := &plan.Op{
		Kind:        kind,
		Location:    location(l.file, cmd.Location()),
		Instruction: text,
		CreatedBy:   createdBy,
		Config:      s.state.config, // shared: handlers copy a field before changing it
		Author:      s.state.author,
	}
	s.state.ops = append(s.state.ops, o)
	return o
}

// emptyConfig is the config of scratch and of build-context bases.
func emptyConfig() v1.Config {
	return v1.Config{WorkingDir: "/", Env: []string{"PATH=" + system.DefaultPathEnvUnix}}
}

// cloneConfig deep-copies a config so that ops never share slices or maps.
func cloneConfig(c v1.Config) v1.Config {
	out := c
	out.Cmd = slices.Clone(c.Cmd)
	out.Entrypoint = slices.Clone(c.Entrypoint)
	out.Env = slices.Clone(c.Env)
	out.OnBuild = slices.Clone(c.OnBuild)
	out.Shell = slices.Clone(c.Shell)
	out.Labels = maps.Clone(c.Labels)
	out.Volumes = maps.Clone(c.Volumes)
	out.ExposedPorts = maps.Clone(c.ExposedPorts)
	if c.Healthcheck != nil {
		hc := *c.Healthcheck
		hc.Test = slices.Clone(c.Healthcheck.Test)
		out.Healthcheck = &hc
	}
	return out
}
