package frontend

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/buildkit/util/suggest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/whittle-build/whittle/internal/plan"
)

// imageKey identifies one resolver call.
type imageKey struct{ ref, platform string }

// imageResult is the answer to one resolver call.
type imageResult struct {
	ref *plan.ImageRef
	err error
}

// resolveReachable resolves the images the target needs and runs the
// ONBUILD triggers of their stages, repeating while triggers add
// dependencies. It returns the stages and sources the target needs.
func (l *lowering) resolveReachable(ctx context.Context, target *stage) (map[*stage]bool, error) {
	if err := l.validateRefs(); err != nil {
		return nil, err
	}
	for {
		reach := reachable(target)
		if err := l.resolveImages(ctx, reach); err != nil {
			return nil, err
		}
		added, err := l.initOnBuild(reach)
		if err != nil {
			return nil, err
		}
		if !added {
			return reach, nil
		}
	}
}

// ordered returns the stages and then the sources, in a fixed order.
func (l *lowering) ordered() []*stage {
	out := append([]*stage(nil), l.stages...)
	for _, s := range l.stages {
		for _, d := range s.deps {
			if d.source && !contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

func contains(list []*stage, s *stage) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// validateRefs checks every image reference of every stage, needed or not,
// as BuildKit does: a malformed reference is a Dockerfile error even in a
// stage the target does not need.
func (l *lowering) validateRefs() error {
	for _, s := range l.ordered() {
		if s.base != nil || s.named != nil || s.baseName == scratchName {
			continue
		}
		if _, ok := l.contexts.lookup(s.baseName); ok {
			continue
		}
		if err := validRef(s.baseName); err != nil {
			return at(l.file, s.src.Location, err)
		}
	}
	return nil
}

// imageFor says what s starts from when it is neither a stage-based stage
// nor scratch: an image (returned as its key) or a build-context directory.
func (l *lowering) imageFor(s *stage) (key imageKey, dir *buildContext, scratch bool) {
	bc := s.named
	if bc == nil {
		if s.baseName == scratchName {
			return key, nil, true
		}
		bc, _ = l.contexts.lookup(s.baseName)
	}
	platform := formatPlatform(l.platformOf(s))
	switch {
	case bc == nil:
		return imageKey{s.baseName, platform}, nil, false
	case bc.kind == contextDir:
		return key, bc, false
	case bc.kind == contextImage && bc.ref == scratchName:
		return key, nil, true
	default:
		return imageKey{bc.ref, platform}, nil, false
	}
}

// resolveImages calls the resolver for every image the reachable stages and
// sources need and has not asked for yet, concurrently, once per
// (reference, platform).
func (l *lowering) resolveImages(ctx context.Context, reach map[*stage]bool) error {
	var pending []imageKey
	seen := map[imageKey]bool{}
	var todo []*stage
	for _, s := range l.ordered() {
		if !reach[s] || s.resolved || s.base != nil {
			continue
		}
		todo = append(todo, s)
		key, _, scratch := l.imageFor(s)
		if key.ref == "" || scratch {
			continue
		}
		if _, done := l.images[key]; !done && !seen[key] {
			seen[key] = true
			pending = append(pending, key)
		}
	}
	if len(pending) > 0 && l.opts.Resolver == nil {
		return &Error{Location: location(l.file, nil), Err: fmt.Errorf("image %q is needed but no image resolver was given", pending[0].ref)}
	}
	// Every call runs to its end, so the error reported is the first
	// stage's, whatever the timing.
	results := make([]imageResult, len(pending))
	var g errgroup.Group
	g.SetLimit(8)
	for i, key := range pending {
		g.Go(func() error {
			ref, err := l.opts.Resolver.ResolveImage(ctx, key.ref, key.platform)
			if err == nil && (ref == nil || ref.Config == nil) {
				err = errors.New("the resolver returned no image config")
			}
			results[i] = imageResult{ref: ref, err: err}
			return nil
		})
	}
	_ = g.Wait() // the calls report through results
	for i, key := range pending {
		l.images[key] = &results[i]
	}
	for _, s := range todo {
		if err := l.assignBase(s); err != nil {
			return err
		}
	}
	return nil
}

// assignBase records what s starts from once its image is resolved.
func (l *lowering) assignBase(s *stage) error {
	key, dir, scratch := l.imageFor(s)
	s.resolved = true
	switch {
	case scratch:
		return nil
	case dir != nil:
		s.context = dir.name
		return nil
	}
	r := l.images[key]
	if r.err != nil {
		err := suggest.WrapError(fmt.Errorf("resolving image %q for %s: %w", key.ref, key.platform, r.err), key.ref, l.stageNames(), true)
		return &Error{Location: location(l.file, s.src.Location), Err: err}
	}
	ref := *r.ref
	ref.Ref = key.ref
	if ref.Platform == "" {
		ref.Platform = key.platform
	}
	s.image = &ref
	want := l.platformOf(s)
	got := ocispecs.Platform{OS: ref.Config.OS, Architecture: ref.Config.Architecture, Variant: ref.Config.Variant}
	validateBaseImagePlatform(key.ref, want, got, s.src.Location, l.lint)
	return nil
}

// stageNames are the named stages, for "did you mean" suggestions.
func (l *lowering) stageNames() []string {
	var names []string
	for _, s := range l.stages {
		if s.name != "" {
			names = append(names, s.name)
		}
	}
	return names
}
