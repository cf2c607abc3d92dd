package frontend

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/sys/signal"

	"github.com/whittle-build/whittle/internal/plan"
)

// This file lowers the instructions that change only the image config. Each
// writes the history line BuildKit writes.

func (l *lowering) dispatchEnv(s *stage, c *instructions.EnvCommand, cmd command, lint *linter.Linter) error {
	st := &s.state
	msg := "ENV"
	st.config.Env = slices.Clone(st.config.Env)
	for _, e := range c.Env {
		if e.NoDelim {
			lint.Run(&linter.RuleLegacyKeyValueFormat, c.Location(), linter.RuleLegacyKeyValueFormat.Format(c.Name()))
		}
		validateNoSecretKey("ENV", e.Key, c.Location(), lint)
		msg += " " + e.String()
		st.env = st.env.set(e.Key, e.Value)
		st.config.Env = addEnv(st.config.Env, e.Key, e.Value)
	}
	l.op(s, cmd, plan.KindConfig, msg)
	return nil
}

func (l *lowering) dispatchLabel(s *stage, c *instructions.LabelCommand, cmd command, lint *linter.Linter) error {
	st := &s.state
	msg := "LABEL"
	labels := make(map[string]string, len(st.config.Labels)+len(c.Labels))
	maps.Copy(labels, st.config.Labels)
	st.config.Labels = labels
	for _, kv := range c.Labels {
		if kv.NoDelim {
			lint.Run(&linter.RuleLegacyKeyValueFormat, c.Location(), linter.RuleLegacyKeyValueFormat.Format(c.Name()))
		}
		st.config.Labels[kv.Key] = kv.Value
		msg += " " + kv.String()
	}
	l.op(s, cmd, plan.KindConfig, msg)
	return nil
}

// withShell prepends the stage's SHELL (default /bin/sh -c) to a shell-form
// command line, joined into one argument.
func withShell(c v1.Config, args []string) []string {
	sh := []string{"/bin/sh", "-c"}
	if len(c.Shell) > 0 {
		sh = slices.Clone(c.Shell)
	}
	return append(sh, strings.Join(args, " "))
}

func (l *lowering) dispatchCmd(s *stage, c *instructions.CmdCommand, cmd command, lint *linter.Linter) error {
	st := &s.state
	st.cmd.mark(c, lint)
	args := slices.Clone(c.CmdLine)
	if c.PrependShell {
		if len(st.config.Shell) == 0 {
			lint.Run(&linter.RuleJSONArgsRecommended, c.Location(), linter.RuleJSONArgsRecommended.Format(c.Name()))
		}
		args = withShell(st.config, args)
	}
	st.config.Cmd = args
	st.config.ArgsEscaped = true
	l.op(s, cmd, plan.KindConfig, fmt.Sprintf("CMD %q", args))
	return nil
}

// dispatchEntrypoint sets ENTRYPOINT; a CMD inherited from the base (not set
// earlier in this stage) is reset, as BuildKit does.
func (l *lowering) dispatchEntrypoint(s *stage, c *instructions.EntrypointCommand, cmd command, lint *linter.Linter) error {
	st := &s.state
	st.entrypoint.mark(c, lint)
	args := slices.Clone(c.CmdLine)
	if c.PrependShell {
		if len(st.config.Shell) == 0 {
			lint.Run(&linter.RuleJSONArgsRecommended, c.Location(), linter.RuleJSONArgsRecommended.Format(c.Name()))
		}
		args = withShell(st.config, args)
	}
	st.config.Entrypoint = args
	if !st.cmd.set {
		st.config.Cmd = nil
	}
	l.op(s, cmd, plan.KindConfig, fmt.Sprintf("ENTRYPOINT %q", args))
	return nil
}

// dispatchHealthcheck sets HEALTHCHECK. The history line prints BuildKit's
// config struct; --start-interval has no field in the image config v1.Config
// models and only shows there.
func (l *lowering) dispatchHealthcheck(s *stage, c *instructions.HealthCheckCommand, cmd command, lint *linter.Linter) error {
	st := &s.state
	st.healthcheck.mark(c, lint)
	h := c.Health
	st.config.Healthcheck = &v1.HealthConfig{
		Test:        slices.Clone(h.Test),
		Interval:    h.Interval,
		Timeout:     h.Timeout,
		StartPeriod: h.StartPeriod,
		Retries:     h.Retries,
	}
	l.op(s, cmd, plan.KindConfig, fmt.Sprintf("HEALTHCHECK %+v", *h))
	return nil
}

func (l *lowering) dispatchVolume(s *stage, c *instructions.VolumeCommand, cmd command) error {
	st := &s.state
	volumes := maps.Clone(st.config.Volumes)
	if volumes == nil {
		volumes = map[string]struct{}{}
	}
	for _, v := range c.Volumes {
		if v == "" {
			return errors.New("VOLUME specified can not be an empty string")
		}
		volumes[v] = struct{}{}
	}
	st.config.Volumes = volumes
	l.op(s, cmd, plan.KindConfig, fmt.Sprintf("VOLUME %v", c.Volumes))
	return nil
}

func (l *lowering) dispatchStopSignal(s *stage, c *instructions.StopSignalCommand, cmd command) error {
	if _, err := signal.ParseSignal(c.Signal); err != nil {
		return err
	}
	s.state.config.StopSignal = c.Signal
	l.op(s, cmd, plan.KindConfig, "STOPSIGNAL "+c.Signal)
	return nil
}

// dispatchArg declares build arguments in the stage: a --build-arg wins, then
// the default (expanded), then the global ARG of the same name. Declared
// values join the build-time environment, not the image config.
func (l *lowering) dispatchArg(s *stage, c *instructions.ArgCommand, cmd command, lint *linter.Linter) error {
	st := &s.state
	parts := make([]string, 0, len(c.Args))
	for _, arg := range c.Args {
		validateNoSecretKey("ARG", arg.Key, c.Location(), lint)
		l.consumed[arg.Key] = true
		given, hasValue := l.buildArgs[arg.Key]
		switch {
		case hasValue:
			arg.Value = &given
		case arg.Value != nil:
			v, unmatched, err := l.lex.ProcessWord(*arg.Value, st.env)
			reportUnmatchedVariables(c, st.buildArgs, st.env, unmatched, lint)
			if err != nil {
				return err
			}
			arg.Value = &v
		default:
			if v, ok := l.global.Get(arg.Key); ok {
				arg.Value = &v
			}
		}
		if arg.Value != nil && !sbomArg(arg.Key) {
			st.env = st.env.set(arg.Key, *arg.Value)
		}
		st.buildArgs = append(st.buildArgs, arg)
		part := arg.Key
		if arg.Value != nil {
			part += "=" + *arg.Value
		}
		parts = append(parts, part)
	}
	l.op(s, cmd, plan.KindConfig, "ARG "+strings.Join(parts, " "))
	return nil
}

// sbomArg reports BuildKit's SBOM switches, which are build args but never
// enter the environment.
func sbomArg(k string) bool {
	return k == "BUILDKIT_SBOM_SCAN_CONTEXT" || k == "BUILDKIT_SBOM_SCAN_STAGE"
}
