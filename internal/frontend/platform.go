package frontend

import (
	"fmt"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// buildPlatforms holds the target and build platforms of one Lower call.
type buildPlatforms struct {
	target ocispecs.Platform
	build  ocispecs.Platform
	// implicit is true when no target platform was given: the target is
	// then the build platform.
	implicit bool
}

func newPlatforms(target, build string) (buildPlatforms, error) {
	var p buildPlatforms
	p.build = platforms.DefaultSpec()
	if build != "" {
		b, err := platforms.Parse(build)
		if err != nil {
			return p, fmt.Errorf("parsing build platform %q: %w", build, err)
		}
		p.build = b
	}
	p.build = platforms.Normalize(p.build)
	if target == "" {
		p.target = p.build
		p.implicit = true
		return p, nil
	}
	t, err := platforms.Parse(target)
	if err != nil {
		return p, fmt.Errorf("parsing platform %q: %w", target, err)
	}
	p.target = platforms.Normalize(t)
	return p, nil
}

// formatPlatform writes p the way the plan and resolvers see it.
func formatPlatform(p ocispecs.Platform) string {
	return platforms.FormatAll(platforms.Normalize(p))
}

// stagePlatform evaluates FROM --platform with the global arguments.
func (l *lowering) stagePlatform(st instructions.Stage, lint *linter.Linter) (ocispecs.Platform, error) {
	res, err := l.lex.ProcessWordWithMatches(st.Platform, l.global)
	reportUnusedFromArgs(l.fromArgKeys(), res.Unmatched, st.Location, lint)
	reportRedundantTargetPlatform(st.Platform, res, st.Location, l.global, lint)
	reportConstPlatformDisallowed(st.Name, res, st.Location, lint)
	if err != nil {
		return ocispecs.Platform{}, at(l.file, st.Location, fmt.Errorf("failed to process arguments for platform %s: %w", res.Result, err))
	}
	if res.Result == "" {
		err := fmt.Errorf("empty platform value from expression %s", st.Platform)
		return ocispecs.Platform{}, at(l.file, st.Location, wrapSuggestAny(err, res.Unmatched, l.global.Keys()))
	}
	p, err := platforms.Parse(res.Result)
	if err != nil {
		err = wrapSuggestAny(err, res.Unmatched, l.global.Keys())
		return ocispecs.Platform{}, at(l.file, st.Location, fmt.Errorf("failed to parse platform %s: %w", st.Platform, err))
	}
	return platforms.Normalize(p), nil
}

// platformOf returns the platform a stage builds for.
func (l *lowering) platformOf(s *stage) ocispecs.Platform {
	if s.platform != nil {
		return *s.platform
	}
	return l.plats.target
}
