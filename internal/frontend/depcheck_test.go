package frontend_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The frontend is pure: it must not link whittle's execution packages, nor
// BuildKit's LLB client or solver (it uses BuildKit's grammar only).
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/whittle-build/whittle/internal/frontend").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const own = "github.com/whittle-build/whittle/"
	allowed := map[string]bool{own + "internal/frontend": true, own + "internal/plan": true}
	forbidden := []string{
		"github.com/moby/buildkit/client",
		"github.com/moby/buildkit/solver",
		"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb",
		"google.golang.org/grpc",
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, own) && !allowed[pkg] {
			t.Errorf("frontend imports %s; only the plan package is allowed (no solver, sandbox, snapshot, store, archive)", pkg)
		}
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("frontend imports %s", pkg)
			}
		}
	}
}
