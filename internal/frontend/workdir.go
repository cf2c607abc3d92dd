package frontend

import (
	"fmt"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/util/system"

	"github.com/whittle-build/whittle/internal/plan"
)

// dispatchWorkdir sets WORKDIR, relative to the previous one. Any directory
// but "/" is created with its parents, owned by the USER at this point, as
// dockerfile2llb does.
func (l *lowering) dispatchWorkdir(s *stage, c *instructions.WorkdirCommand, cmd command, lint *linter.Linter) error {
	st := &s.state
	if !st.workdirSet && !system.IsAbs(c.Path, "linux") {
		lint.Run(&linter.RuleWorkdirRelativePath, c.Location(), linter.RuleWorkdirRelativePath.Format(c.Path))
	}
	st.workdirSet = true
	wd, err := system.NormalizeWorkdir(st.config.WorkingDir, c.Path, "linux")
	if err != nil {
		return fmt.Errorf("normalizing workdir: %w", err)
	}
	st.config.WorkingDir = wd
	st.dir = wd
	if wd == "/" {
		l.op(s, cmd, plan.KindConfig, "WORKDIR "+wd)
		return nil
	}
	op := l.op(s, cmd, plan.KindMkdir, "WORKDIR "+wd)
	op.Mkdir = &plan.Mkdir{Path: wd, User: st.config.User}
	return nil
}
