package frontend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/whittle-build/whittle/internal/plan"
)

// Options are the inputs of Lower besides the Dockerfile itself.
type Options struct {
	// Filename is the Dockerfile's path as the user gave it; it names the file
	// in errors, warnings and locations. Default "Dockerfile".
	Filename string
	// Target is the stage to build, by name (case-insensitive); "" builds the
	// last stage.
	Target string
	// BuildArgs are the --build-arg values.
	BuildArgs map[string]string
	// Platform is the target platform ("linux/arm64"). "" means the build
	// platform, as BuildKit does when no --platform is given.
	Platform string
	// BuildPlatform is the platform the build runs on. "" means the host's.
	BuildPlatform string
	// BuildContexts are the --build-context NAME=VALUE pairs. VALUE is a
	// directory, docker-image://REF or oci-layout://DIR[:TAG|@DIGEST]. A name
	// replaces the image or stage of that name in FROM, COPY --from and
	// RUN --mount from=.
	BuildContexts map[string]string
	// Resolver resolves the images the target needs. It may be nil when the
	// Dockerfile names no image (only scratch and stages).
	Resolver ImageResolver
}

// ImageResolver turns an image reference into a digest and config (metadata
// only, no layers).
//
// ref is the reference as written in the Dockerfile after variable expansion
// ("golang:1.23"), or for a --build-context the part after docker-image://,
// or the whole oci-layout://DIR[:TAG|@DIGEST] value. platform is normalized
// ("linux/amd64", "linux/arm/v7"). Lower calls it once per distinct
// (reference, platform), possibly from several goroutines at once.
type ImageResolver interface {
	ResolveImage(ctx context.Context, ref, platform string) (*plan.ImageRef, error)
}

// Lower parses dockerfile and lowers the stages that opts.Target needs into a
// plan. Errors name the file and line ("Dockerfile:7: unknown instruction:
// RUNN (did you mean RUN?)") and unwrap to *Error.
func Lower(ctx context.Context, dockerfile []byte, opts Options) (*plan.Plan, error) {
	if opts.Filename == "" {
		opts.Filename = "Dockerfile"
	}
	file := opts.Filename
	if len(dockerfile) == 0 {
		return nil, &Error{Location: plan.Location{File: file}, Err: errors.New("the Dockerfile cannot be empty")}
	}
	plats, err := newPlatforms(opts.Platform, opts.BuildPlatform)
	if err != nil {
		return nil, &Error{Location: plan.Location{File: file}, Err: err}
	}
	ctxs, err := parseBuildContexts(opts.BuildContexts)
	if err != nil {
		return nil, &Error{Location: plan.Location{File: file}, Err: err}
	}

	warns := newWarnings(file)
	lint, err := warns.linter(dockerfile)
	if err != nil {
		return nil, &Error{Location: plan.Location{File: file}, Err: err}
	}

	ast, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, fromBuildKit(file, err)
	}
	warns.continuationWarnings(ast, lint)

	parsed, metaArgs, err := instructions.Parse(ast.AST, lint)
	if err != nil {
		return nil, fromBuildKit(file, err)
	}
	if len(parsed) == 0 {
		return nil, &Error{Location: plan.Location{File: file}, Err: errors.New("dockerfile contains no stages to build")}
	}
	validateStageNames(parsed, lint)
	validateCommandCasing(parsed, lint)

	targetName := opts.Target
	if targetName == "" {
		targetName = parsed[len(parsed)-1].Name
	}
	lx := shell.NewLex(ast.EscapeToken)
	defaults := defaultArgs(plats, opts.BuildArgs, targetName)
	validateBaseImagesWithDefaultArgs(parsed, lx, defaults, metaArgs, lint)
	global, declared, err := buildMetaArgs(defaults, lx, metaArgs, opts.BuildArgs)
	if err != nil {
		return nil, fromBuildKit(file, err)
	}

	l := &lowering{
		file:      file,
		opts:      opts,
		plats:     plats,
		contexts:  ctxs,
		lex:       lx,
		global:    global,
		metaArgs:  declared,
		buildArgs: opts.BuildArgs,
		proxyEnv:  proxyEnv(opts.BuildArgs),
		lint:      lint,
		warns:     warns,
		images:    map[imageKey]*imageResult{},
		consumed:  map[string]bool{},
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			l.consumed[kv.Key] = true
		}
	}
	return l.lower(ctx, parsed)
}

// lower runs the phases of BuildKit's converter in its order: stages and
// their bases, the target, the dependency graph, image resolution and
// ONBUILD triggers of the reachable stages, then dispatch.
func (l *lowering) lower(ctx context.Context, parsed []instructions.Stage) (*plan.Plan, error) {
	if err := l.addStages(parsed); err != nil {
		return nil, err
	}
	target, err := l.findTarget()
	if err != nil {
		return nil, err
	}
	if err := l.buildGraph(); err != nil {
		return nil, err
	}
	reachable, err := l.resolveReachable(ctx, target)
	if err != nil {
		return nil, err
	}
	if err := l.dispatchAll(reachable); err != nil {
		return nil, err
	}
	if err := l.lint.Error(); err != nil {
		// # check=error=true: the violations are the error's detail.
		err = fmt.Errorf("%w\n%s", err, strings.Join(l.warns.violations, "\n"))
		return nil, &Error{Location: plan.Location{File: l.file}, Err: err}
	}
	l.warnUnconsumedArgs()
	return l.output(reachable, target), nil
}

// lowering is the state of one Lower call.
type lowering struct {
	file      string
	opts      Options
	plats     buildPlatforms
	contexts  buildContexts
	lex       *shell.Lex
	global    *envList
	metaArgs  map[string]struct{}
	buildArgs map[string]string
	proxyEnv  []string
	lint      *linter.Linter
	warns     *warnings

	stages []*stage
	byName map[string]*stage
	// sources are COPY --from and RUN --mount from= values that are not
	// stages: images and build contexts, keyed by the value as written.
	sources map[string]*stage
	images  map[imageKey]*imageResult
	// consumed are the build args some ARG instruction declared.
	consumed map[string]bool
}
