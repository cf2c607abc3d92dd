package testutil

import (
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GitServer serves the Git repositories under root over Git's smart HTTP
// protocol (git http-backend) on 127.0.0.1 until the test ends, and
// returns its URL. Without git the test is skipped (failed when CI=true).
func GitServer(t testing.TB, root string) string {
	t.Helper()
	Tool(t, "git")
	h, err := GitHandler(root)
	if err != nil {
		t.Fatalf("finding git http-backend: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// GitHandler serves the Git repositories under root over smart HTTP (git
// http-backend as CGI), for servers a test starts itself.
func GitHandler(root string) (http.Handler, error) {
	exe, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, err
	}
	return &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(exe)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
		// Refused requests (buildah's probes) are the client's business.
		Stderr: io.Discard,
	}, nil
}

// Git runs git in dir with a fixed author and committer and returns its
// trimmed output, failing the test on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(Tool(t, "git"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=whittle", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=whittle", "GIT_COMMITTER_EMAIL=test@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// GitCommit writes files (slash-separated name → content) into the work
// tree dir, first making dir a repository on branch main if it is not one,
// commits everything there is with message msg, and returns the commit.
func GitCommit(t testing.TB, dir string, files map[string]string, msg string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		Git(t, dir, "init", "-q", "-b", "main")
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	Git(t, dir, "add", "-A")
	Git(t, dir, "commit", "-q", "-m", msg)
	return Git(t, dir, "rev-parse", "HEAD")
}
