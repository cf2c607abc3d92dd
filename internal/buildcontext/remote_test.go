package buildcontext

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/testutil"
)

func TestFetchRemote(t *testing.T) {
	tgz := tarOf(t, archive.Gzip, [][2]string{{"Dockerfile", "FROM a\n"}, {"sub/", ""}, {"sub/Other", "FROM b\n"}})
	files := map[string][]byte{"https://files.example/ctx.tgz": tgz, "https://files.example/Dockerfile": []byte("FROM c\n")}
	o := func(stdin []byte) RemoteOptions {
		return RemoteOptions{
			Stdin:   bytes.NewReader(stdin),
			TempDir: func(prefix string) (string, error) { return os.MkdirTemp(t.TempDir(), prefix) },
			Download: func(_ context.Context, url string) (io.ReadCloser, error) {
				b, ok := files[url]
				if !ok {
					return nil, errors.New("404 Not Found")
				}
				return io.NopCloser(bytes.NewReader(b)), nil
			},
		}
	}
	for _, tc := range []struct {
		name, arg, file string
		stdin           []byte
		dockerfile      string // want: the -f path relative to Dir, or "data:" + the Dockerfile read
		source, err     string
	}{
		{name: "stdin tar", arg: "-", stdin: tgz, source: "standard input"},
		{name: "stdin tar, -f", arg: "-", file: "sub/Other", stdin: tgz, dockerfile: "sub/Other", source: "standard input"},
		{name: "stdin Dockerfile", arg: "-", stdin: []byte("FROM x\n"), dockerfile: "data:FROM x\n", source: "standard input"},
		{name: "stdin Dockerfile, -f", arg: "-", file: "Other", stdin: []byte("FROM x\n"), err: "-f Other: standard input held a Dockerfile, not a build context to find Other in"},
		{name: "URL tar, -f climbing out", arg: "https://files.example/ctx.tgz", file: "../../sub/Other", dockerfile: "sub/Other", source: "https://files.example/ctx.tgz"},
		{name: "URL Dockerfile", arg: "https://files.example/Dockerfile", dockerfile: "data:FROM c\n", source: "https://files.example/Dockerfile"},
		{name: "URL Dockerfile, -f -", arg: "https://files.example/Dockerfile", file: "-", err: "-f - with https://files.example/Dockerfile: it holds a Dockerfile, not a build context"},
		{name: "URL missing", arg: "https://files.example/nothere.tgz", err: "404 Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !IsRemote(tc.arg) {
				t.Fatalf("IsRemote(%q) = false", tc.arg)
			}
			r, err := FetchRemote(t.Context(), tc.arg, tc.file, o(tc.stdin))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Source != tc.source || r.Dir != r.Root {
				t.Errorf("source %q (want %q), dir %s, root %s", r.Source, tc.source, r.Dir, r.Root)
			}
			switch {
			case strings.HasPrefix(tc.dockerfile, "data:"):
				if string(r.DockerfileData) != strings.TrimPrefix(tc.dockerfile, "data:") || r.Dockerfile != "" {
					t.Errorf("Dockerfile %q, data %q", r.Dockerfile, r.DockerfileData)
				}
			case tc.dockerfile != "":
				if r.Dockerfile != filepath.Join(r.Dir, tc.dockerfile) {
					t.Errorf("Dockerfile %s, want %s in %s", r.Dockerfile, tc.dockerfile, r.Dir)
				}
			default:
				if r.Dockerfile != "" || r.DockerfileData != nil {
					t.Errorf("Dockerfile %q, data %q; want neither", r.Dockerfile, r.DockerfileData)
				}
				if _, err := os.Stat(filepath.Join(r.Dir, "sub", "Other")); err != nil {
					t.Errorf("the context was not unpacked: %v", err)
				}
			}
		})
	}
	// A Git URL: checked out into Root, the context is its SUBDIR.
	root := t.TempDir()
	makeRepo(t, root)
	url := testutil.GitServer(t, root) + "/app.git#main:sub"
	if !IsRemote(url) || IsRemote("ctx") || IsRemote("./-") {
		t.Errorf("IsRemote: git %v, ctx %v, ./- %v", IsRemote(url), IsRemote("ctx"), IsRemote("./-"))
	}
	r, err := FetchRemote(t.Context(), url, "Dockerfile", o(nil))
	if err != nil {
		t.Fatal(err)
	}
	if r.Dir != filepath.Join(r.Root, "sub") || r.Dockerfile != filepath.Join(r.Root, "sub", "Dockerfile") || !strings.HasSuffix(r.Source, "/app.git#main:sub") {
		t.Errorf("git: %+v", r)
	}
}
