package frontend

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// buildGraph finds what each stage's commands read from other stages,
// images and build contexts, and rejects cycles.
func (l *lowering) buildGraph() error {
	for _, s := range l.stages {
		if s.named != nil {
			continue // replaced by a build context: its commands never run
		}
		for _, ic := range s.src.Commands {
			cmd, err := l.toCommand(ic)
			if err != nil {
				return at(l.file, ic.Location(), err)
			}
			s.commands = append(s.commands, cmd)
			for _, src := range cmd.sources {
				if src != nil {
					s.addDep(src, cmd)
				}
			}
		}
	}
	return l.checkCycles()
}

// toCommand finds the sources of one instruction: COPY --from and the from=
// of RUN --mount, by stage name, stage index (COPY only), else as an image or
// build context.
func (l *lowering) toCommand(ic instructions.Command) (command, error) {
	cmd := command{Command: ic}
	switch c := ic.(type) {
	case *instructions.CopyCommand:
		if c.From == "" {
			break
		}
		res, err := l.lex.ProcessWordWithMatches(c.From, shell.EnvsFromSlice(nil))
		if err != nil {
			return cmd, err
		}
		if res.Result != c.From {
			return cmd, errors.New("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")
		}
		var src *stage
		if i, err := strconv.Atoi(c.From); err == nil {
			if src, err = l.stageByIndex(i); err != nil {
				return cmd, err
			}
		} else if s, ok := l.byName[strings.ToLower(c.From)]; ok {
			src = s
		} else {
			src = l.source(c.From, ic)
		}
		cmd.sources = []*stage{src}
	case *instructions.RunCommand:
		mounts := instructions.GetMounts(c)
		cmd.sources = make([]*stage, len(mounts))
		for i, m := range mounts {
			if m.From == "" {
				continue
			}
			if s, ok := l.byName[strings.ToLower(m.From)]; ok {
				cmd.sources[i] = s
			} else {
				cmd.sources[i] = l.source(m.From, ic)
			}
		}
	}
	return cmd, nil
}

// checkCycles rejects stages that read from themselves through COPY --from
// or mounts, naming the instructions on the cycle.
func (l *lowering) checkCycles() error {
	visited := map[*stage]bool{}
	onPath := map[*stage]bool{}
	var visit func(s *stage, path []command) []command
	visit = func(s *stage, path []command) []command {
		if visited[s] {
			return nil
		}
		visited[s] = true
		onPath[s] = true
		for _, d := range s.deps {
			next := append(path[:len(path):len(path)], s.depCmds[d])
			if onPath[d] {
				return next
			}
			if c := visit(d, next); c != nil {
				return c
			}
		}
		onPath[s] = false
		return nil
	}
	for _, s := range l.stages {
		if cycle := visit(s, nil); cycle != nil {
			return &Error{
				Location: location(l.file, cycle[0].Location()),
				Err:      fmt.Errorf("circular dependency detected on stage: %s", s.display),
			}
		}
	}
	return nil
}

// reachable returns the stages and sources target needs, through bases and
// dependencies.
func reachable(target *stage) map[*stage]bool {
	out := map[*stage]bool{}
	var add func(*stage)
	add = func(s *stage) {
		if out[s] {
			return
		}
		out[s] = true
		if s.base != nil {
			add(s.base)
		}
		for _, d := range s.deps {
			add(d)
		}
	}
	add(target)
	return out
}
