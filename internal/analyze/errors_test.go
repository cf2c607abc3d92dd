package analyze

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Analyze(ctx, demoImage(t), "", Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestBrokenLayers(t *testing.T) {
	good := tarOf(t, sized("/a", 5000), sized("/b", 10))
	for name, blob := range map[string][]byte{
		"truncated tar":  good[:700],
		"bad gzip":       {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3},
		"not a tar file": bytes.Repeat([]byte("not a tar "), 100),
	} {
		t.Run(name, func(t *testing.T) {
			for _, readCompressed := range []bool{false, true} {
				img, err := mutate.AppendLayers(empty.Image, static.NewLayer(good, types.OCIUncompressedLayer), static.NewLayer(blob, types.OCILayer))
				if err != nil {
					t.Fatal(err)
				}
				_, err = Analyze(context.Background(), img, "", Options{ReadCompressed: readCompressed})
				if err == nil || !strings.Contains(err.Error(), "layer 1") {
					t.Errorf("ReadCompressed %v: err = %v, want an error naming layer 1", readCompressed, err)
				}
			}
		})
	}
}

// TestMalformedEntries checks entries that extraction tools reject or
// treat specially: they are reported as notes, never a panic.
func TestMalformedEntries(t *testing.T) {
	img := imageOf(t, v1.Config{User: "1"},
		[]tf{sized("/file", 10), hardlink("/dangling", "/nowhere"), symlink("/loop", "loop"), sized("/loop/x", 3), sized("/file/child", 4)},
	)
	r, err := Analyze(context.Background(), img, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Notes) < 3 {
		t.Errorf("notes = %q, want one per malformed entry", r.Notes)
	}
	if r.TotalFileBytes+r.WastedBytes != r.LayerFileBytes {
		t.Errorf("totals do not add up: %+v", r)
	}
}

// TestImports keeps analyze away from the execution packages (DESIGN.md:
// analyze knows nothing about building).
func TestImports(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go tool to list imports")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if rest, ok := strings.CutPrefix(dep, "github.com/whittle-build/whittle/"); ok && rest != "internal/analyze" {
			t.Errorf("analyze imports %s; it must stay independent of the rest of whittle", rest)
		}
		for _, banned := range []string{"github.com/moby/buildkit/", "github.com/opencontainers/runtime-spec"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("analyze imports %s", dep)
			}
		}
	}
}
