package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// modulePath is the module whose root RepoPath looks for.
const modulePath = "github.com/whittle-build/whittle"

// RepoPath returns the absolute path of elems under the root of the whittle
// checkout (the directory of its go.mod), found upwards from the test's
// working directory: RepoPath(t, "examples", "go") is the Go example.
func RepoPath(t testing.TB, elems ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module "+modulePath+"\n")) {
			return filepath.Join(append([]string{dir}, elems...)...)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod of %s above the working directory", modulePath)
		}
		dir = parent
	}
}
