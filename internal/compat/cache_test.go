package compat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// cacheDockerfile is what every cache scenario builds first. The NONCE
// build arg, new in every run, keeps BuildKit's cache of earlier runs out:
// the RUN reading it comes before every step the scenarios look at.
const cacheDockerfile = `FROM busybox
ARG NONCE
RUN echo "$NONCE" > /nonce
LABEL version=1
COPY a /a
EXPOSE 80
ENV MODE=one
RUN cat /a > /a2 && echo "$MODE" > /mode
WORKDIR /work
COPY b /work/b
`

// cacheScenario is one change between two builds; the steps each builder
// runs again must be the same.
type cacheScenario struct {
	name string
	// edit changes the context directory (its Dockerfile included).
	edit func(t *testing.T, dir string)
	// args are the second build's extra build args.
	args map[string]string
}

func cacheScenarios() []cacheScenario {
	replace := func(old, new string) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, "Dockerfile")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(old)) {
				t.Fatalf("the Dockerfile has no %q", old)
			}
			writeFile(t, p, bytes.Replace(b, []byte(old), []byte(new), 1))
		}
	}
	content := func(name, body string) func(*testing.T, string) {
		return func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, name), []byte(body)) }
	}
	return []cacheScenario{
		{name: "nothing", edit: func(*testing.T, string) {}},
		{name: "label", edit: replace("LABEL version=1", "LABEL version=2")},
		{name: "expose", edit: replace("EXPOSE 80", "EXPOSE 81")},
		{name: "env", edit: replace("ENV MODE=one", "ENV MODE=two")},
		{name: "comment-line", edit: replace("FROM busybox\n", "# a comment\nFROM busybox\n")},
		{name: "workdir", edit: replace("WORKDIR /work", "WORKDIR /work2")},
		{name: "first-file", edit: content("a", "a2\n")},
		{name: "last-file", edit: content("b", "b2\n")},
		{name: "mode", edit: func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "a"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "mtime", edit: func(t *testing.T, dir string) {
			later := contextTime.Add(time.Hour)
			if err := os.Chtimes(filepath.Join(dir, "a"), later, later); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "undeclared-build-arg", args: map[string]string{"OTHER": "x"}},
		{name: "new-arg-before-copy", edit: replace("COPY a /a\n", "ARG EXTRA=1\nCOPY a /a\n")},
	}
}

// runCacheScenarios builds cacheDockerfile with whittle and BuildKit, makes
// a scenario's change, builds again, and compares the steps each builder
// ran the second time (the rest it found in its cache): whittle's cache
// must be neither weaker nor stronger than BuildKit's.
func runCacheScenarios(t *testing.T, fx *fixtures, whittle builder, peers []builder) {
	var bk builder
	for _, p := range peers {
		if p.name() == "buildkit" {
			bk = p
		}
	}
	if bk == nil {
		t.Skip("BuildKit is not there to compare with")
	}
	fx.need(t, "busybox")
	for _, sc := range cacheScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ran := map[string][]string{}
			for _, b := range []builder{whittle, bk} {
				dir := t.TempDir()
				writeFile(t, filepath.Join(dir, "Dockerfile"), []byte(cacheDockerfile))
				writeFile(t, filepath.Join(dir, "a"), []byte("a\n"))
				writeFile(t, filepath.Join(dir, "b"), []byte("b\n"))
				for _, n := range []string{"a", "b", "Dockerfile"} {
					if err := os.Chtimes(filepath.Join(dir, n), contextTime, contextTime); err != nil {
						t.Fatal(err)
					}
				}
				args := map[string]string{"NONCE": fmt.Sprintf("%s-%d-%d", sc.name, os.Getpid(), time.Now().UnixNano())}
				build := func(log *bytes.Buffer) {
					t.Helper()
					if _, err := b.build(t.Context(), buildSpec{
						id:         fmt.Sprintf("cache-%s-%d", sc.name, time.Now().UnixNano()),
						contextDir: dir,
						dockerfile: filepath.Join(dir, "Dockerfile"),
						buildArgs:  args,
						out:        t.TempDir(),
						log:        log,
					}); err != nil {
						t.Fatalf("%s: %v", b.name(), err)
					}
				}
				build(&bytes.Buffer{})
				if sc.edit != nil {
					sc.edit(t, dir)
				}
				for k, v := range sc.args {
					args[k] = v
				}
				var log bytes.Buffer
				build(&log)
				ran[b.name()] = executedSteps(log.String())
			}
			if w, k := ran["whittle"], ran["buildkit"]; !slices.Equal(w, k) {
				t.Errorf("after the change, whittle ran %q, BuildKit %q", w, k)
			}
		})
	}
}

// vertexLine is a step's first line in plain progress: "#4 [2/5] COPY a
// /a", its name after the number.
var vertexLine = regexp.MustCompile(`^#(\d+) (\[[^\]]*\d+/\d+\] (.+))$`)

// executedSteps lists, sorted, the names of the steps that a plain
// progress log shows as run rather than cached (FROM left out): the names
// as progress shows them, the stage and the step's number included, as
// both builders must.
func executedSteps(log string) []string {
	names := map[string]string{}
	cached := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		line := sc.Text()
		if m := vertexLine.FindStringSubmatch(line); m != nil && !strings.HasPrefix(m[3], "FROM ") {
			names[m[1]] = m[2]
			continue
		}
		if id, rest, ok := strings.Cut(strings.TrimPrefix(line, "#"), " "); ok && rest == "CACHED" {
			cached[id] = true
		}
	}
	var out []string
	for id, n := range names {
		if !cached[id] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
