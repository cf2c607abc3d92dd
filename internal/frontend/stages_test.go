package frontend_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/frontend"
	"github.com/whittle-build/whittle/internal/plan"
)

// stageNames lists the plan's stages the way progress output names them.
func stageNames(p *plan.Plan) []string {
	var out []string
	for _, s := range p.Stages {
		out = append(out, s.String())
	}
	return out
}

func depNames(s *plan.Stage) []string {
	var out []string
	for _, d := range s.Deps {
		out = append(out, d.String())
	}
	return out
}

const multiStage = `ARG GO=1.23
FROM golang:${GO} AS build
WORKDIR /src
RUN go build -o /out/app
FROM doesnotexist AS broken
RUN false
FROM build AS test
RUN go test
FROM scratch
COPY --from=build /out/app /app
`

func TestTargetsAndPruning(t *testing.T) {
	tests := []struct {
		name       string
		target     string
		wantStages []string
		wantTarget string
		wantCalls  []string
	}{
		{name: "last stage", wantStages: []string{"build", "stage-3"}, wantTarget: "stage-3", wantCalls: []string{"golang:1.23 linux/amd64"}},
		{name: "named target", target: "TEST", wantStages: []string{"build", "test"}, wantTarget: "test", wantCalls: []string{"golang:1.23 linux/amd64"}},
		{name: "first stage", target: "build", wantStages: []string{"build"}, wantTarget: "build", wantCalls: []string{"golang:1.23 linux/amd64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newResolver()
			p := lower(t, multiStage, frontend.Options{Target: tt.target, Resolver: r})
			if diff := cmp.Diff(tt.wantStages, stageNames(p)); diff != "" {
				t.Errorf("stages (-want +got):\n%s", diff)
			}
			if p.Target.String() != tt.wantTarget {
				t.Errorf("target %s, want %s", p.Target, tt.wantTarget)
			}
			// The unused stage's image is never resolved, so it cannot fail.
			if diff := cmp.Diff(tt.wantCalls, r.sortedCalls()); diff != "" {
				t.Errorf("resolver calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStageFields(t *testing.T) {
	p := lower(t, multiStage, frontend.Options{Target: "test"})
	build, test := p.Stages[0], p.Stages[1]
	if build.Index != 0 || build.Name != "build" || build.Location != (plan.Location{File: "Dockerfile", Line: 2, EndLine: 2}) {
		t.Errorf("build stage = index %d name %q at %v", build.Index, build.Name, build.Location)
	}
	if build.Base.Image == nil || build.Base.Image.Ref != "golang:1.23" || build.Base.Image.Platform != "linux/amd64" || build.Base.Image.Digest.Hex == "" {
		t.Errorf("build base = %+v, want golang:1.23 resolved", build.Base.Image)
	}
	if test.Index != 2 || test.Base.Stage != build || test.Base.Scratch() {
		t.Errorf("test stage = index %d base %+v, want index 2 on build", test.Index, test.Base)
	}
	if diff := cmp.Diff([]string{"build"}, depNames(test)); diff != "" {
		t.Errorf("test deps (-want +got):\n%s", diff)
	}
	// A stage built on another inherits its WORKDIR.
	if got := runs(test)[0].Cwd; got != "/src" {
		t.Errorf("test RUN cwd %q, want /src", got)
	}
	if p.Platform != "linux/amd64" || test.Platform != "linux/amd64" {
		t.Errorf("platforms %q %q, want linux/amd64", p.Platform, test.Platform)
	}
	op := runs(test)[0]
	if op.Args[2] != "go test" {
		t.Errorf("test RUN %v", op.Args)
	}
	loc := test.Ops[0].Location
	if loc != (plan.Location{File: "Dockerfile", Line: 8, EndLine: 8}) || test.Ops[0].Instruction != "RUN go test" {
		t.Errorf("op at %v %q", loc, test.Ops[0].Instruction)
	}
}

func TestDeps(t *testing.T) {
	df := `FROM scratch AS a
FROM scratch AS b
FROM scratch AS c
FROM a AS d
COPY --from=c / /
RUN --mount=from=b,target=/b true
COPY --from=1 / /again
FROM d
`
	p := lower(t, df, frontend.Options{})
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "stage-4"}, stageNames(p)); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
	d := p.Stages[3]
	if diff := cmp.Diff([]string{"a", "b", "c"}, depNames(d)); diff != "" {
		t.Errorf("deps of d (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"d"}, depNames(p.Target)); diff != "" {
		t.Errorf("deps of target (-want +got):\n%s", diff)
	}
	for _, s := range p.Stages[:3] {
		if !s.Base.Scratch() || len(s.Ops) != 0 || len(s.Deps) != 0 {
			t.Errorf("stage %s: base %+v ops %d deps %d", s, s.Base, len(s.Ops), len(s.Deps))
		}
	}
}

// countingResolver counts calls and how many run at once.
type countingResolver struct {
	inner         *fakeResolver
	calls         atomic.Int32
	running, peak atomic.Int32
}

func (c *countingResolver) ResolveImage(ctx context.Context, ref, platform string) (*plan.ImageRef, error) {
	c.calls.Add(1)
	n := c.running.Add(1)
	defer c.running.Add(-1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	return c.inner.ResolveImage(ctx, ref, platform)
}

// Each (reference, platform) is resolved once, and distinct ones at the same
// time.
func TestResolveOnceConcurrently(t *testing.T) {
	df := `FROM busybox AS a
FROM busybox AS b
FROM golang:1.23 AS c
FROM --platform=linux/arm64 busybox AS d
FROM scratch
COPY --from=a / /a
COPY --from=b / /b
COPY --from=c / /c
COPY --from=d / /d
COPY --from=busybox / /e
RUN --mount=from=golang:1.23,target=/g true
`
	r := &countingResolver{inner: newResolver()}
	lower(t, df, frontend.Options{Resolver: r})
	if got := r.calls.Load(); got != 3 {
		t.Errorf("%d resolver calls, want 3 (busybox amd64, busybox arm64, golang)", got)
	}
	if got := r.peak.Load(); got < 2 {
		t.Errorf("at most %d resolver calls ran at once, want them concurrent", got)
	}
	if diff := cmp.Diff([]string{"busybox linux/amd64", "busybox linux/arm64", "golang:1.23 linux/amd64"}, r.inner.sortedCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestPlatforms(t *testing.T) {
	df := `FROM --platform=$BUILDPLATFORM busybox AS b
ARG TARGETOS TARGETARCH TARGETPLATFORM BUILDPLATFORM TARGETVARIANT
RUN echo
FROM busybox
ARG TARGETSTAGE BUILDARCH
COPY --from=b /x /x
RUN echo
`
	r := newResolver()
	p := lower(t, df, frontend.Options{Platform: "linux/arm", Resolver: r})
	if p.Platform != "linux/arm/v7" {
		t.Errorf("plan platform %q, want linux/arm/v7", p.Platform)
	}
	if p.Stages[0].Platform != "linux/amd64" || p.Stages[1].Platform != "linux/arm/v7" {
		t.Errorf("stage platforms %q %q", p.Stages[0].Platform, p.Stages[1].Platform)
	}
	if diff := cmp.Diff([]string{"busybox linux/amd64", "busybox linux/arm/v7"}, r.sortedCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	want := []string{defaultPath, "TARGETOS=linux", "TARGETARCH=arm", "TARGETPLATFORM=linux/arm/v7", "BUILDPLATFORM=linux/amd64", "TARGETVARIANT=v7"}
	if diff := cmp.Diff(want, runs(p.Stages[0])[0].Env); diff != "" {
		t.Errorf("build-platform stage env (-want +got):\n%s", diff)
	}
	want = []string{defaultPath, "TARGETSTAGE=default", "BUILDARCH=amd64"}
	if diff := cmp.Diff(want, runs(p.Target)[0].Env); diff != "" {
		t.Errorf("target stage env (-want +got):\n%s", diff)
	}
	// A base stage's platform carries over to stages built on it.
	p = lower(t, "FROM --platform=linux/arm64 scratch AS a\nFROM a\n", frontend.Options{Platform: "linux/amd64"})
	if p.Target.Platform != "linux/arm64" {
		t.Errorf("stage on an arm64 stage builds for %q", p.Target.Platform)
	}
}

func TestOnBuild(t *testing.T) {
	// Triggers of the base image run first and may add dependencies.
	r := newResolver()
	p := lower(t, "FROM busybox AS helper\nRUN touch /x\nFROM onbuildimg\nRUN echo after\n", frontend.Options{Resolver: r})
	if diff := cmp.Diff([]string{"helper", "stage-1"}, stageNames(p)); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"helper"}, depNames(p.Target)); diff != "" {
		t.Errorf("deps (-want +got):\n%s", diff)
	}
	var got []string
	for _, op := range p.Target.Ops {
		got = append(got, op.Instruction+" @"+op.Location.String())
	}
	want := []string{"ONBUILD RUN echo triggered /bin @Dockerfile:3", "ONBUILD ENV FROMTRIGGER=1 @Dockerfile:3",
		"ONBUILD COPY --from=helper /x /y @Dockerfile:3", "RUN echo after @Dockerfile:4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}
	if got := runs(p.Target)[0].Args[2]; got != "echo triggered $PATH" {
		t.Errorf("trigger RUN %q", got)
	}
	// ONBUILD in a stage is stored in its config (no history line) and runs
	// in stages built on it.
	p = lower(t, "FROM busybox AS base\nONBUILD RUN echo hi\nFROM base\n", frontend.Options{})
	base := p.Stages[0]
	if op := base.Ops[0]; op.CreatedBy != "" || op.Kind != plan.KindConfig || !cmp.Equal(op.Config.OnBuild, []string{"RUN echo hi"}) {
		t.Errorf("ONBUILD op = %+v", op)
	}
	if len(p.Target.Ops) != 1 || p.Target.Ops[0].Run == nil || p.Target.Ops[0].Config.OnBuild != nil {
		t.Errorf("child ops %+v, want the trigger's RUN and no inherited OnBuild", p.Target.Ops)
	}
}

func TestBuildContextBases(t *testing.T) {
	df := `FROM alpine AS a
RUN echo a
FROM build AS build
RUN never
FROM scratch
COPY --from=a / /a
COPY --from=build / /b
`
	r := newResolver()
	r.images["busybox:1.36"] = image("amd64", v1.Config{Env: []string{"PATH=/bin"}})
	p := lower(t, df, frontend.Options{Resolver: r, BuildContexts: map[string]string{
		"docker.io/library/alpine:latest": "docker-image://busybox:1.36",
		"build":                           "/tmp/prebuilt",
	}})
	a, build := p.Stages[0], p.Stages[1]
	if a.Base.Image == nil || a.Base.Image.Ref != "busybox:1.36" {
		t.Errorf("FROM alpine base = %+v, want busybox:1.36 from the build context", a.Base)
	}
	if build.Base.Context != "build" || build.Base.Scratch() || len(build.Ops) != 0 {
		t.Errorf("replaced stage base %+v with %d ops, want the build context and no ops", build.Base, len(build.Ops))
	}
	if diff := cmp.Diff([]string{"busybox:1.36 linux/amd64"}, r.sortedCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	// Stages built on a replaced stage start from the context's state: a
	// directory gives "/" and the default PATH, an image its config.
	p = lower(t, "FROM x AS dir\nFROM y AS img\nFROM dir\nRUN ls\nFROM img\nRUN pwd\n", frontend.Options{
		Target:        "",
		BuildContexts: map[string]string{"dir": "./vendor", "img": "docker-image://labelled"},
	})
	if diff := cmp.Diff([]string{"img", "stage-3"}, stageNames(p)); diff != "" || p.Stages[0].Base.Image == nil || len(p.Stages[0].Ops) != 0 {
		t.Fatalf("stages %v, base %+v", stageNames(p), p.Stages[0].Base)
	}
	if got := runs(p.Target)[0]; got.Cwd != "/srv" || got.User != "www" || !cmp.Equal(got.Env, []string{"PATH=/bin", "A=base"}) {
		t.Errorf("RUN on an image context: cwd %q user %q env %q", got.Cwd, got.User, got.Env)
	}
	p = lower(t, "FROM x AS dir\nFROM dir\nRUN ls\n", frontend.Options{BuildContexts: map[string]string{"dir": "./vendor"}})
	if p.Stages[0].Base.Context != "dir" {
		t.Errorf("dir stage base %+v", p.Stages[0].Base)
	}
	if got := runs(p.Target)[0]; got.Cwd != "/" || !cmp.Equal(got.Env, []string{defaultPath}) {
		t.Errorf("RUN on a directory context: cwd %q env %q", got.Cwd, got.Env)
	}

	// oci-layout values go to the resolver whole.
	r = newResolver()
	r.images["oci-layout:///tmp/layout:v1"] = image("amd64", v1.Config{})
	p = lower(t, "FROM base\n", frontend.Options{Resolver: r, BuildContexts: map[string]string{"base": "oci-layout:///tmp/layout:v1"}})
	if p.Target.Base.Image == nil || p.Target.Base.Image.Ref != "oci-layout:///tmp/layout:v1" {
		t.Errorf("oci-layout base = %+v", p.Target.Base)
	}
}
