package build

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/whittle-build/whittle/internal/output"
	"github.com/whittle-build/whittle/internal/testutil"
)

// TestInterop checks images whittle writes with tools that are not whittle:
// skopeo reads the store itself (an OCI layout) and the oci and docker
// outputs, and copies from the store (verifying every blob); umoci unpacks
// the OCI output into a runtime bundle, and runc runs it. The tools are
// skipped when absent, a failure when CI=true.
func TestInterop(t *testing.T) {
	e := newEnv(t)
	skopeo := testutil.Tool(t, "skopeo")
	umoci := testutil.Tool(t, "umoci")
	runc := testutil.Tool(t, "runc")

	work := t.TempDir()
	ociDir := filepath.Join(work, "oci")
	dockerTar := filepath.Join(work, "image.tar")
	epoch := time.Unix(1700000000, 0).UTC()
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox AS build
RUN echo 'hello from runc' > /msg

FROM busybox
COPY --from=build /msg /srv/msg
ENV GREETING=interop
WORKDIR /srv
CMD ["sh", "-c", "cat msg; echo $GREETING; pwd"]
`,
	})
	var outs []output.Spec
	for _, s := range []string{"type=image", "type=oci,dest=" + ociDir, "type=docker,dest=" + dockerTar} {
		spec, err := output.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, spec)
	}
	img, _ := e.mustBuild(dir, Options{Tags: []string{"interop:1"}, Epoch: &epoch, Outputs: outs})
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	layers := layerCount(t, img)

	run := func(name string, args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.Bytes())
		}
		return out
	}
	type inspect struct {
		Digest       string
		Architecture string
		Os           string
		Layers       []string
		Env          []string
	}
	check := func(what string, raw []byte, wantDigest bool) {
		t.Helper()
		var got inspect
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("%s: skopeo inspect output: %v\n%s", what, err, raw)
		}
		if wantDigest && got.Digest != digest.String() {
			t.Errorf("%s: skopeo sees digest %s, whittle built %s", what, got.Digest, digest)
		}
		if len(got.Layers) != layers {
			t.Errorf("%s: skopeo sees %d layers, want %d", what, len(got.Layers), layers)
		}
		if got.Os != "linux" || got.Architecture == "" {
			t.Errorf("%s: skopeo sees platform %s/%s", what, got.Os, got.Architecture)
		}
		if !contains(got.Env, "GREETING=interop") {
			t.Errorf("%s: skopeo sees Env %v", what, got.Env)
		}
	}

	t.Run("skopeo reads the store", func(t *testing.T) {
		check("oci:STORE:interop:1", run(skopeo, "inspect", "oci:"+e.st.Root()+":interop:1"), true)
		// A copy out of the store reads and verifies every blob.
		copied := filepath.Join(work, "copied")
		run(skopeo, "copy", "--quiet", "oci:"+e.st.Root()+":interop:1", "oci:"+copied+":copy")
		check("copy of the store's image", run(skopeo, "inspect", "oci:"+copied+":copy"), true)
	})
	t.Run("skopeo reads type=oci", func(t *testing.T) {
		// BuildKit names the entry by its tag in ref.name.
		check("oci:DIR:1", run(skopeo, "inspect", "oci:"+ociDir+":1"), true)
	})
	t.Run("skopeo reads type=docker", func(t *testing.T) {
		// A docker archive holds no manifest: skopeo makes its own, so
		// only the contents are compared.
		check("docker-archive", run(skopeo, "inspect", "docker-archive:"+dockerTar), false)
		raw := run(skopeo, "inspect", "--config", "docker-archive:"+dockerTar)
		var cfg struct {
			Config struct{ Cmd []string }
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		if want := []string{"sh", "-c", "cat msg; echo $GREETING; pwd"}; strings.Join(cfg.Config.Cmd, "|") != strings.Join(want, "|") {
			t.Errorf("docker-archive Cmd = %q, want %q", cfg.Config.Cmd, want)
		}
	})
	t.Run("umoci unpacks and runc runs", func(t *testing.T) {
		bundle := filepath.Join(work, "bundle")
		run(umoci, "unpack", "--image", ociDir+":1", bundle)
		cfgPath := filepath.Join(bundle, "config.json")
		raw, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		var spec map[string]any
		if err := json.Unmarshal(raw, &spec); err != nil {
			t.Fatal(err)
		}
		proc, ok := spec["process"].(map[string]any)
		if !ok {
			t.Fatalf("umoci's config.json has no process: %s", raw)
		}
		proc["terminal"] = false // umoci assumes a terminal; the test has none
		if raw, err = json.Marshal(spec); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		id := "whittle-interop-" + filepath.Base(work)
		out := run(runc, "--root", filepath.Join(work, "runc-state"), "run", "--bundle", bundle, id)
		if want := "hello from runc\ninterop\n/srv\n"; string(out) != want {
			t.Errorf("runc run printed %q, want %q", out, want)
		}
	})
}
