package frontend

import (
	"slices"

	"github.com/whittle-build/whittle/internal/plan"
)

// output assembles the plan from the dispatched stages the target needs.
func (l *lowering) output(reach map[*stage]bool, target *stage) *plan.Plan {
	p := &plan.Plan{Platform: formatPlatform(l.plats.target), Warnings: l.warns.list, Violations: l.warns.violations,
		OneStage: len(l.stages) == 1}
	for _, s := range l.stages {
		if !reach[s] {
			continue
		}
		out := s.out
		out.Platform = formatPlatform(l.platformOf(s))
		out.Ops = s.state.ops
		switch {
		case s.base != nil:
			out.Base.Stage = s.base.out
		case s.image != nil:
			out.Base.Image = s.image
		case s.context != "":
			out.Base.Context = s.context
		}
		var deps []*plan.Stage
		add := func(d *stage) {
			if d == nil || d.source || d == s || slices.Contains(deps, d.out) {
				return
			}
			deps = append(deps, d.out)
		}
		add(s.base)
		for _, d := range s.deps {
			add(d)
		}
		slices.SortFunc(deps, func(a, b *plan.Stage) int { return a.Index - b.Index })
		out.Deps = deps
		p.Stages = append(p.Stages, out)
	}
	p.Target = target.out
	return p
}
