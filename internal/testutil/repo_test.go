package testutil

import (
	"os"
	"testing"
)

func TestRepoPath(t *testing.T) {
	for _, p := range [][]string{{"go.mod"}, {"examples", "go", "Dockerfile"}, {".ci", "run"}} {
		path := RepoPath(t, p...)
		if _, err := os.Stat(path); err != nil {
			t.Errorf("RepoPath(%q) = %s: %v", p, path, err)
		}
	}
}
