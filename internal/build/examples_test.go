package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/whittle-build/whittle/internal/analyze"
	"github.com/whittle-build/whittle/internal/container"
	"github.com/whittle-build/whittle/internal/testutil"
)

// TestExamples builds examples/go and examples/python, the multi-stage
// Dockerfile and the single-stage Dockerfile.single, against the bases
// .ci/fixtures makes (tagged with the names the Dockerfiles use; the
// distroless ones are stand-ins with the same packages unpacked, no shell),
// then runs each final image in the sandbox: its self-test passes, and the
// service started from the image's own command answers on 127.0.0.1. The
// multi-stage images keep neither the toolchain nor a shell.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the examples (two Go compiles, Debian bases of 800 MB): not with -short")
	}
	e := newEnv(t)
	for _, b := range []struct{ variant, name string }{
		{"golang", "golang:bookworm"},
		{"python", "python:bookworm"},
		{"static-extract", "gcr.io/distroless/static-debian12"},
		{"python3-extract", "gcr.io/distroless/python3-debian12"},
	} {
		desc, err := e.st.WriteImage(context.Background(), testutil.DebianImage(t, b.variant))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.Tag(b.name, desc); err != nil {
			t.Fatal(err)
		}
	}
	epoch := time.Unix(1700000000, 0).UTC()

	for _, tc := range []struct {
		example, dockerfile string
		// selftest replaces the image's CMD to run the self-test; serve
		// (given a port) to serve on 127.0.0.1.
		selftest []string
		serve    func(port int) []string
		greeting string
		// distroless images have neither toolchain nor shell.
		distroless bool
		absent     []string
	}{
		{
			example: "go", dockerfile: "Dockerfile",
			selftest:   []string{"-selftest"},
			serve:      func(port int) []string { return []string{"-addr", fmt.Sprintf("127.0.0.1:%d", port)} },
			greeting:   "hello from whittle (go)\n",
			distroless: true,
			absent:     []string{"/usr/bin/go", "/usr/lib/go", "/src"},
		},
		{
			example: "go", dockerfile: "Dockerfile.single",
			selftest: []string{"hello", "-selftest"},
			serve:    func(port int) []string { return []string{"hello", "-addr", fmt.Sprintf("127.0.0.1:%d", port)} },
			greeting: "hello from whittle (go)\n",
		},
		{
			example: "python", dockerfile: "Dockerfile",
			selftest:   []string{"--selftest"},
			serve:      func(port int) []string { return []string{"--port", fmt.Sprint(port)} },
			greeting:   "hello from whittle (python)\n",
			distroless: true,
			absent:     []string{"/usr/bin/pip3", "/usr/bin/apt-get"},
		},
		{
			example: "python", dockerfile: "Dockerfile.single",
			selftest: []string{"python3", "/app/server.py", "--selftest"},
			serve:    func(port int) []string { return []string{"python3", "/app/server.py", "--port", fmt.Sprint(port)} },
			greeting: "hello from whittle (python)\n",
		},
	} {
		t.Run(tc.example+"/"+tc.dockerfile, func(t *testing.T) {
			dir := testutil.RepoPath(t, "examples", tc.example)
			begin := time.Now()
			img, _ := e.mustBuild(dir, Options{
				Dockerfile: filepath.Join(dir, tc.dockerfile),
				Tags:       []string{"example-" + tc.example + ":" + strings.ToLower(tc.dockerfile)},
				Epoch:      &epoch,
			})
			t.Logf("built in %v, %s compressed", time.Since(begin).Round(time.Millisecond), imageSize(t, img))
			checkAnalyzeAccuracy(t, img)

			if tc.distroless {
				fs := filesystem(t, img)
				for _, p := range append([]string{"/bin/sh", "/usr/bin/sh", "/bin/bash"}, tc.absent...) {
					if _, ok := fs[p]; ok {
						t.Errorf("the multi-stage image has %s", p)
					}
				}
				if u := config(t, img).User; u != "65532:65532" {
					t.Errorf("User = %q, want 65532:65532 (nonroot)", u)
				}
			}

			out, err := e.runImage(context.Background(), img, tc.selftest)
			if err != nil || !strings.Contains(out, "selftest: ok") {
				t.Errorf("self-test: %v\n%s", err, out)
			}

			port := testutil.FreePort(t)
			ctx, cancel := context.WithCancel(context.Background())
			var (
				wg     sync.WaitGroup
				runErr error
				runOut string
			)
			wg.Add(1)
			go func() {
				defer wg.Done()
				runOut, runErr = e.runImage(ctx, img, tc.serve(port))
			}()
			body, err := testutil.GetOK(fmt.Sprintf("http://127.0.0.1:%d/", port), 30*time.Second)
			cancel()
			wg.Wait()
			if err != nil {
				t.Errorf("the service did not answer: %v\nits output:\n%s (%v)", err, runOut, runErr)
			} else if body != tc.greeting {
				t.Errorf("GET / = %q, want %q", body, tc.greeting)
			}
			if !errors.Is(runErr, context.Canceled) {
				t.Errorf("the service ended with %v before it was stopped\n%s", runErr, runOut)
			}
		})
	}
}

// runImage runs img from the store with args replacing its CMD (the
// ENTRYPOINT stays), on the host network, and returns its output.
func (e *env) runImage(ctx context.Context, img v1.Image, args []string) (string, error) {
	snap, err := newSnapshotter(e.st)
	if err != nil {
		return "", err
	}
	var out syncBuffer
	err = container.Run(ctx, e.st, snap, img, container.Options{Args: args, Stdout: &out, Stderr: &out})
	return out.String(), err
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// imageSize is the sum of img's compressed layer sizes, for logs.
func imageSize(t *testing.T, img v1.Image) string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, l := range m.Layers {
		n += l.Size
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// checkAnalyzeAccuracy compares whittle analyze's total and wasted bytes
// with a count made from scratch: the regular-file bytes of every layer,
// and those of the flattened filesystem (hard links once); what the layers
// hold beyond the final filesystem is what a squash would reclaim.
func checkAnalyzeAccuracy(t *testing.T, img v1.Image) {
	t.Helper()
	rep, err := analyze.Analyze(context.Background(), img, "", analyze.Options{ReadCompressed: true})
	if err != nil {
		t.Fatal(err)
	}
	var layerBytes int64
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		layerBytes += regularBytes(t, rc)
		rc.Close()
	}
	rc := mutate.Extract(img)
	total := regularBytes(t, rc)
	rc.Close()
	if rep.TotalFileBytes != total || rep.WastedBytes != layerBytes-total {
		t.Errorf("analyze: totalFileBytes %d, wastedBytes %d; counted from scratch: %d and %d",
			rep.TotalFileBytes, rep.WastedBytes, total, layerBytes-total)
	}
	t.Logf("analyze: totalFileBytes %d, wastedBytes %d (counted from scratch: %d, %d)",
		rep.TotalFileBytes, rep.WastedBytes, total, layerBytes-total)
}

// regularBytes sums the sizes of the regular files of a tar stream.
func regularBytes(t *testing.T, r io.Reader) int64 {
	t.Helper()
	var n int64
	testutil.EachTarEntry(t, r, func(h *tar.Header, _ io.Reader) {
		if h.Typeflag == tar.TypeReg {
			n += h.Size
		}
	})
	return n
}
