package frontend_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/frontend"
	"github.com/whittle-build/whittle/internal/plan"
)

// anyResolver resolves every reference; images whose name mentions
// "onbuild" carry ONBUILD triggers, so the fuzzer reaches them.
type anyResolver struct{}

func (anyResolver) ResolveImage(ctx context.Context, ref, platform string) (*plan.ImageRef, error) {
	if strings.Contains(ref, "missing") {
		return nil, errors.New("not found")
	}
	cf := image("amd64", v1.Config{Env: []string{"PATH=/bin", "HOME=/root"}, WorkingDir: "/w", User: "u"})
	if strings.Contains(ref, "onbuild") {
		cf.Config.OnBuild = []string{"RUN echo $HOME", "COPY --from=0 / /", "ENV X=1", "ONBUILD RUN x"}
	}
	return &plan.ImageRef{Ref: ref, Platform: platform, Config: cf}, nil
}

// FuzzLower checks that no input makes Lower panic, that every failure is a
// located *frontend.Error, and that every plan is well formed.
func FuzzLower(f *testing.F) {
	f.Add([]byte("FROM busybox\nRUN echo hi\n"), "")
	f.Fuzz(func(t *testing.T, df []byte, target string) {
		p, err := frontend.Lower(context.Background(), df, frontend.Options{
			Target:        target,
			BuildArgs:     map[string]string{"A": "1", "TAG": "latest"},
			BuildPlatform: "linux/amd64",
			BuildContexts: map[string]string{"ctx": "/dir", "img": "docker-image://onbuild"},
			Resolver:      anyResolver{},
		})
		if err != nil {
			var fe *frontend.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %q is not a *frontend.Error", err, err)
			}
			return
		}
		checkPlan(t, p)
	})
}

// checkPlan checks a plan's invariants: the target is one of the stages,
// stages are in Dockerfile order, dependencies come earlier, and every op
// has exactly the payload its kind needs.
func checkPlan(t *testing.T, p *plan.Plan) {
	t.Helper()
	in := map[*plan.Stage]bool{}
	prev := -1
	for _, s := range p.Stages {
		if s.Index <= prev {
			t.Fatalf("stage %s index %d after %d", s, s.Index, prev)
		}
		prev = s.Index
		for _, d := range s.Deps {
			if !in[d] {
				t.Fatalf("stage %s depends on %s, which is not an earlier stage of the plan", s, d)
			}
		}
		if b := s.Base.Stage; b != nil && !in[b] {
			t.Fatalf("stage %s built on %s, which is not an earlier stage", s, b)
		}
		for _, op := range s.Ops {
			n := 0
			for _, set := range []bool{op.Run != nil, op.Copy != nil, op.Mkdir != nil} {
				if set {
					n++
				}
			}
			want := 1
			if op.Kind == plan.KindConfig {
				want = 0
			}
			if n != want || op.Location.Line == 0 {
				t.Fatalf("op %q of kind %s: %d payloads, line %d", op.Instruction, op.Kind, n, op.Location.Line)
			}
			if op.Run != nil && (len(op.Run.Args) == 0 || !strings.HasPrefix(op.Run.Cwd, "/")) {
				t.Fatalf("RUN %q: args %q cwd %q", op.Instruction, op.Run.Args, op.Run.Cwd)
			}
		}
		in[s] = true
	}
	if !in[p.Target] {
		t.Fatalf("target %v is not among the stages", p.Target)
	}
}
