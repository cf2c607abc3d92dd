package frontend_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/frontend"
	"github.com/whittle-build/whittle/internal/plan"
)

// fakeResolver serves image configs from a map keyed by reference as
// written, and records every call.
type fakeResolver struct {
	images map[string]*v1.ConfigFile

	mu    sync.Mutex
	calls []string
}

var _ frontend.ImageResolver = (*fakeResolver)(nil)

func (f *fakeResolver) ResolveImage(ctx context.Context, ref, platform string) (*plan.ImageRef, error) {
	f.mu.Lock()
	f.calls = append(f.calls, ref+" "+platform)
	f.mu.Unlock()
	cf, ok := f.images[ref]
	if !ok {
		return nil, fmt.Errorf("%s: not found", ref)
	}
	sum := sha256.Sum256([]byte(ref + platform))
	return &plan.ImageRef{
		Ref:      ref,
		Platform: platform,
		Digest:   v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		Config:   cf,
	}, nil
}

// sortedCalls returns the calls in a fixed order.
func (f *fakeResolver) sortedCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(slices.Values(f.calls))
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// image makes a config file for the fake resolver.
func image(arch string, c v1.Config) *v1.ConfigFile {
	return &v1.ConfigFile{
		Architecture: arch,
		OS:           "linux",
		Config:       c,
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}}},
		History:      []v1.History{{CreatedBy: "/bin/sh -c #(nop) ADD file:abc in / "}},
	}
}

// newResolver returns a resolver that knows the images the tests use.
func newResolver() *fakeResolver {
	noenv := image("amd64", v1.Config{Env: []string{"HOME=/home/app"}, User: "app", Cmd: []string{"serve"}, Entrypoint: []string{"/entry"}})
	noenv.Author = "someone"
	return &fakeResolver{images: map[string]*v1.ConfigFile{
		"busybox":     image("amd64", v1.Config{Env: []string{defaultPath}, Cmd: []string{"sh"}}),
		"golang:1.23": image("amd64", v1.Config{Env: []string{"PATH=/go/bin:/usr/local/go/bin:/usr/bin:/bin", "GOLANG_VERSION=1.23.4", "GOPATH=/go"}, WorkingDir: "/go"}),
		"noenv":       noenv,
		"onbuildimg":  image("amd64", v1.Config{Env: []string{"PATH=/bin"}, OnBuild: []string{"RUN echo triggered $PATH", "ENV FROMTRIGGER=1", "COPY --from=helper /x /y"}}),
		"armimg":      image("arm64", v1.Config{Env: []string{"PATH=/bin"}}),
		"labelled":    image("amd64", v1.Config{Env: []string{"PATH=/bin", "A=base"}, Labels: map[string]string{"base": "yes"}, WorkingDir: "/srv", User: "www"}),
	}}
}

// lower lowers df for the tests, failing the test on an error.
func lower(t *testing.T, df string, opts frontend.Options) *plan.Plan {
	t.Helper()
	if opts.Resolver == nil {
		opts.Resolver = newResolver()
	}
	if opts.BuildPlatform == "" {
		opts.BuildPlatform = "linux/amd64"
	}
	p, err := frontend.Lower(context.Background(), []byte(df), opts)
	if err != nil {
		t.Fatalf("Lower: %v", err)
	}
	return p
}

// history returns the created_by lines a stage adds, in order, as the
// solver writes them (ops without a line add none).
func history(s *plan.Stage) []string {
	var out []string
	for _, op := range s.Ops {
		if op.CreatedBy != "" {
			out = append(out, op.CreatedBy)
		}
	}
	return out
}

// runs returns a stage's RUN ops.
func runs(s *plan.Stage) []*plan.Run {
	var out []*plan.Run
	for _, op := range s.Ops {
		if op.Run != nil {
			out = append(out, op.Run)
		}
	}
	return out
}

// copies returns a stage's COPY and ADD ops.
func copies(s *plan.Stage) []*plan.Copy {
	var out []*plan.Copy
	for _, op := range s.Ops {
		if op.Copy != nil {
			out = append(out, op.Copy)
		}
	}
	return out
}

// resolverFunc is a resolver that only returns an error.
type resolverFunc func(ctx context.Context, ref, platform string) error

func (f resolverFunc) ResolveImage(ctx context.Context, ref, platform string) (*plan.ImageRef, error) {
	return nil, f(ctx, ref, platform)
}
