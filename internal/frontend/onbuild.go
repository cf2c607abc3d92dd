package frontend

import (
	"errors"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// initOnBuild prepends the ONBUILD triggers a stage inherits to its
// commands: those in its base image's config, or the ONBUILD instructions of
// its base stage. It reports whether a trigger added a dependency (a
// COPY --from or mount), which may need more images.
func (l *lowering) initOnBuild(reach map[*stage]bool) (bool, error) {
	added := false
	for _, s := range l.stages {
		if !reach[s] || s.onBuildDone || s.named != nil {
			continue
		}
		s.onBuildDone = true
		var triggers []string
		switch {
		case s.base != nil:
			for _, c := range s.base.src.Commands {
				if ob, ok := c.(*instructions.OnbuildCommand); ok {
					triggers = append(triggers, ob.Expression)
				}
			}
		case s.image != nil:
			triggers = append(triggers, s.image.Config.Config.OnBuild...)
		}
		if len(triggers) == 0 {
			continue
		}
		cmds := make([]command, 0, len(triggers))
		for _, t := range triggers {
			cmd, err := l.parseTrigger(s, t)
			if err != nil {
				return false, err
			}
			for _, src := range cmd.sources {
				if src != nil {
					added = true
					s.addDep(src, cmd)
				}
			}
			cmds = append(cmds, cmd)
		}
		s.commands = append(cmds, s.commands...)
	}
	if added {
		return true, l.checkCycles()
	}
	return false, nil
}

// parseTrigger parses one ONBUILD trigger. Its location is the FROM line of
// the stage that runs it.
func (l *lowering) parseTrigger(s *stage, trigger string) (command, error) {
	fail := func(err error) (command, error) {
		if le := (*parser.LocationError)(nil); errors.As(err, &le) {
			err = le.Unwrap()
		}
		return command{}, at(l.file, s.src.Location, err)
	}
	res, err := parser.Parse(strings.NewReader(trigger))
	if err != nil {
		return fail(err)
	}
	if len(res.AST.Children) != 1 {
		return fail(errors.New("onbuild trigger should be a single expression"))
	}
	node := res.AST.Children[0]
	node.StartLine, node.EndLine = lineRange(s.src.Location)
	ic, err := instructions.ParseCommand(node)
	if err != nil {
		return fail(err)
	}
	cmd, err := l.toCommand(ic)
	if err != nil {
		return fail(err)
	}
	cmd.onBuild = true
	return cmd, nil
}

// lineRange returns the first and last line of ranges.
func lineRange(ranges []parser.Range) (int, int) {
	if len(ranges) == 0 {
		return 0, 0
	}
	start, end := ranges[0].Start.Line, ranges[0].End.Line
	for _, r := range ranges {
		start = min(start, r.Start.Line)
		end = max(end, r.End.Line)
	}
	return start, end
}
