package frontend

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/util/suggest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/whittle-build/whittle/internal/plan"
)

const scratchName = "scratch"

// stage is one FROM section while it is lowered (BuildKit's dispatchState),
// or a source that is not a stage: an image or build context named by
// COPY --from or RUN --mount from= (source is then true).
type stage struct {
	index int
	src   instructions.Stage
	// name is the stage's AS name, lower-cased; display is the name used in
	// messages ("stage-2" for unnamed stages).
	name, display string
	// baseName is the FROM argument after expansion.
	baseName string
	platform *ocispecs.Platform
	base     *stage
	// source marks an image or context that is not a stage.
	source bool
	// named is the --build-context that replaces this stage or source.
	named *buildContext

	// image is the resolved base image; context the base build context.
	image   *plan.ImageRef
	context string

	commands []command
	// deps are the stages and sources the commands use, in first-use order.
	deps []*stage
	// depCmds are the commands that use each dep, for cycle errors.
	depCmds map[*stage]command

	resolved    bool
	onBuildDone bool
	dispatched  bool

	state dispatchState
	out   *plan.Stage
}

// command is an instruction with the stages or sources it reads.
type command struct {
	instructions.Command
	// sources has one entry per COPY --from or per RUN --mount (nil when a
	// mount has no from).
	sources []*stage
	// onBuild marks an ONBUILD trigger run in the stage that inherits it.
	onBuild bool
}

// addDep records that cmd of s reads from d.
func (s *stage) addDep(d *stage, cmd command) {
	if _, ok := s.depCmds[d]; ok {
		return
	}
	if s.depCmds == nil {
		s.depCmds = map[*stage]command{}
	}
	s.depCmds[d] = cmd
	s.deps = append(s.deps, d)
}

// addStages expands each FROM line with the global arguments, links stages
// built on earlier stages, and applies --build-context replacements.
func (l *lowering) addStages(parsed []instructions.Stage) error {
	l.byName = map[string]*stage{}
	l.sources = map[string]*stage{}
	for i, st := range parsed {
		lint := l.lint.WithMergedConfigFromComments(st.Comments)
		res, err := l.lex.ProcessWordWithMatches(st.BaseName, l.global)
		reportUnusedFromArgs(l.fromArgKeys(), res.Unmatched, st.Location, lint)
		if err != nil {
			return at(l.file, st.Location, err)
		}
		if res.Result == "" {
			return at(l.file, st.Location, fmt.Errorf("base name (%s) should not be blank", st.BaseName))
		}
		s := &stage{index: i, src: st, name: st.Name, display: st.Name, baseName: res.Result}
		if s.display == "" {
			s.display = fmt.Sprintf("stage-%d", i)
		}
		if st.Platform != "" {
			p, err := l.stagePlatform(st, lint)
			if err != nil {
				return err
			}
			s.platform = &p
		}
		if st.Name != "" {
			if bc, ok := l.contexts.lookup(st.Name); ok {
				s.named = bc
			}
		}
		if s.named == nil {
			if b, ok := l.byName[s.baseName]; ok {
				s.base = b
			}
		}
		l.stages = append(l.stages, s)
		if st.Name != "" {
			l.byName[strings.ToLower(st.Name)] = s
		}
	}
	return nil
}

// findTarget returns the stage to build.
func (l *lowering) findTarget() (*stage, error) {
	if l.opts.Target == "" {
		return l.stages[len(l.stages)-1], nil
	}
	if s, ok := l.byName[strings.ToLower(l.opts.Target)]; ok {
		return s, nil
	}
	var names []string
	for _, s := range l.stages {
		if s.name != "" {
			names = append(names, s.name)
		}
	}
	err := suggest.WrapError(fmt.Errorf("target stage %q could not be found", l.opts.Target), l.opts.Target, names, true)
	return nil, &Error{Location: location(l.file, nil), Err: err}
}

// stageByIndex returns the stage COPY --from=<index> names.
func (l *lowering) stageByIndex(i int) (*stage, error) {
	if i < 0 || i >= len(l.stages) {
		return nil, fmt.Errorf("invalid stage index %d", i)
	}
	return l.stages[i], nil
}

// source returns the image or build context named by COPY --from or
// RUN --mount from= when no stage has that name; one per distinct name.
func (l *lowering) source(name string, cmd instructions.Command) *stage {
	if s, ok := l.sources[name]; ok {
		return s
	}
	s := &stage{index: -1, source: true, baseName: name, display: name,
		src: instructions.Stage{BaseName: name, Location: cmd.Location()}}
	if bc, ok := l.contexts.lookup(name); ok {
		s.named = bc
	}
	l.sources[name] = s
	return s
}

// validRef checks an image reference the way BuildKit does before resolving.
func validRef(ref string) error {
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		return fmt.Errorf("failed to parse stage name %q: %w", ref, err)
	}
	return nil
}
