package build

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/output"
	"github.com/whittle-build/whittle/internal/remotecache"
	"github.com/whittle-build/whittle/internal/testutil"
)

// crossDockerfile builds on the build platform and ships the result on
// scratch for each target platform: docker buildx's cross-compilation
// pattern, which needs no emulator.
const crossDockerfile = `FROM --platform=$BUILDPLATFORM busybox AS build
RUN echo shared > /shared
ARG TARGETPLATFORM TARGETARCH BUILDPLATFORM
RUN echo "$TARGETARCH $TARGETPLATFORM on $BUILDPLATFORM" > /arch
FROM scratch
COPY --from=build /arch /shared /
`

// platformImages yields the entries of the index desc (failing the test
// when it is not one) and their images.
func (e *env) platformImages(desc v1.Descriptor) iter.Seq2[v1.Descriptor, v1.Image] {
	t := e.t
	t.Helper()
	if !desc.MediaType.IsIndex() {
		t.Fatalf("result %s is a %s, want an index", desc.Digest, desc.MediaType)
	}
	idx, err := e.st.Index(desc)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return func(yield func(v1.Descriptor, v1.Image) bool) {
		for _, d := range im.Manifests {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if !yield(d, img) {
				return
			}
		}
	}
}

// TestMultiPlatform: --platform with two platforms builds each and
// delivers an image index of them; steps the platforms share run once.
func TestMultiPlatform(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the busybox fixture is for the host; the test names linux/amd64 as the build platform")
	}
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": crossDockerfile})
	lay := filepath.Join(t.TempDir(), "oci")
	meta := filepath.Join(t.TempDir(), "metadata.json")
	evs := &events{}
	res, err := Build(context.Background(), e.st, Options{
		ContextDir:          dir,
		Platforms:           []string{"linux/amd64,linux/arm64", "linux/arm64", "linux/arm64/v8"},
		Outputs:             []output.Spec{{Type: output.TypeOCI, Dest: lay}},
		Tags:                []string{"cross:1"},
		MetadataFile:        meta,
		Progress:            evs,
		Annotations:         map[string]string{"all": "every manifest"},
		PlatformAnnotations: map[string]map[string]string{"linux/arm64/v8": {"arm": "only arm64's"}},
		IndexAnnotations:    map[string]string{"org.opencontainers.image.description": "the index"},
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, evs.output())
	}
	want := map[string]string{"linux/amd64": "amd64 linux/amd64 on linux/amd64\n", "linux/arm64": "arm64 linux/arm64 on linux/amd64\n"}
	var plats []string
	for d, img := range e.platformImages(res.Descriptor) {
		plats = append(plats, d.Platform.String())
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		wantArm := ""
		if d.Platform.Architecture == "arm64" {
			wantArm = "only arm64's"
		}
		if m.Annotations["all"] != "every manifest" || m.Annotations["arm"] != wantArm {
			t.Errorf("%s: manifest annotations %v", d.Platform, m.Annotations)
		}
		fs := filesystem(t, img)
		if got := fs["/arch"].content; got != want[d.Platform.String()] {
			t.Errorf("%s: /arch %q, want %q", d.Platform, got, want[d.Platform.String()])
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.OS+"/"+cfg.Architecture != d.Platform.String() {
			t.Errorf("%s: config says %s/%s", d.Platform, cfg.OS, cfg.Architecture)
		}
	}
	if !slices.Equal(plats, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("index platforms %v, want linux/amd64 and linux/arm64 once each", plats)
	}
	if idx, err := e.st.Index(res.Descriptor); err != nil {
		t.Fatal(err)
	} else if im, err := idx.IndexManifest(); err != nil || im.Annotations["org.opencontainers.image.description"] != "the index" {
		t.Errorf("index annotations %v (%v)", im.Annotations, err)
	}
	// The step that does not read TARGET* ran once; the one that does, twice,
	// each named with its platform and, as BuildKit names it, its values.
	if got := evs.executed("RUN echo shared"); len(got) != 1 {
		t.Errorf("the shared step ran %d times: %q", len(got), got)
	}
	amd := evs.executed(`RUN echo "amd64 linux/amd64 on linux/amd64"`)
	arm := evs.executed(`RUN echo "arm64 linux/arm64 on linux/amd64"`)
	if len(amd) != 1 || len(arm) != 1 || !strings.HasPrefix(amd[0], "[linux/amd64 build ") || !strings.HasPrefix(arm[0], "[linux/amd64->arm64 build ") {
		t.Errorf("the per-platform step ran as %q and %q", amd, arm)
	}
	// The layout holds the index under the tag.
	b, err := os.ReadFile(filepath.Join(lay, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var top v1.IndexManifest
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].Digest != res.Descriptor.Digest || top.Manifests[0].Annotations[output.ContainerdNameAnnotation] != "docker.io/library/cross:1" {
		t.Errorf("OCI layout index.json: %+v", top.Manifests)
	}
	// --metadata-file names the index, with no config digest (as buildx).
	var md map[string]any
	if b, err := os.ReadFile(meta); err != nil || json.Unmarshal(b, &md) != nil {
		t.Fatalf("metadata: %v", err)
	}
	if md["containerimage.digest"] != res.Descriptor.Digest.String() || md["containerimage.config.digest"] != nil {
		t.Errorf("metadata %v", md)
	}
	// The store was not asked to hold the index.
	if _, err := e.st.Lookup("cross:1"); err == nil {
		t.Error("the index was named in the store")
	}

	// Rebuilt, everything is cached and the index is the same.
	evs2 := &events{}
	res2, err := Build(context.Background(), e.st, Options{
		ContextDir:          dir,
		Platforms:           []string{"linux/amd64,linux/arm64"},
		Outputs:             []output.Spec{{Type: output.TypeOCI, Dest: lay}},
		Progress:            evs2,
		Annotations:         map[string]string{"all": "every manifest"},
		PlatformAnnotations: map[string]map[string]string{"linux/arm64": {"arm": "only arm64's"}},
		IndexAnnotations:    map[string]string{"org.opencontainers.image.description": "the index"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ran := evs2.executed("RUN"); len(ran) != 0 {
		t.Errorf("a rebuild ran %q", ran)
	}
	if res2.Descriptor.Digest != res.Descriptor.Digest {
		t.Errorf("rebuilt index %s, first %s", res2.Descriptor.Digest, res.Descriptor.Digest)
	}
}

// TestIndexAnnotationSinglePlatform: a single-platform image has no index
// to annotate; the build refuses before it runs, as BuildKit does.
func TestIndexAnnotationSinglePlatform(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": crossDockerfile})
	_, evs, err := e.build(dir, Options{IndexAnnotations: map[string]string{"k": "v"}})
	if err == nil || !strings.Contains(err.Error(), "no index to annotate") {
		t.Fatalf("got %v, want a refusal", err)
	}
	if ran := evs.executed(""); len(ran) != 0 {
		t.Errorf("steps ran before the refusal: %q", ran)
	}
}

// TestMultiPlatformCheck: --check lints every platform's plan and needs
// no output that holds an index (nothing is built).
func TestMultiPlatformCheck(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch AS Build\nCOPY Dockerfile /\n"})
	evs := &events{}
	res, err := Build(context.Background(), e.st, Options{ContextDir: dir, Check: true, Platforms: []string{"linux/amd64,linux/arm64"}, Progress: evs})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) != 1 || !strings.Contains(res.Violations[0], "StageNameCasing") {
		t.Errorf("violations %q, want StageNameCasing once", res.Violations)
	}
	if ran := evs.executed("COPY"); len(ran) != 0 {
		t.Errorf("--check ran %q", ran)
	}
}

// TestMultiPlatformStore: the store names a multi-platform result's index;
// a later build FROM it takes its platform's image.
func TestMultiPlatformStore(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the busybox fixture is for the host; the test names linux/amd64 as the build platform")
	}
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": crossDockerfile})
	res, _ := e.mustBuildDesc(dir, Options{Platforms: []string{"linux/amd64,linux/arm64"}, Tags: []string{"cross:1"}})
	if d, err := e.st.Lookup("cross:1"); err != nil || d.Digest != res.Digest || !d.MediaType.IsIndex() {
		t.Fatalf("the store names %v (%v), want the index %s", d.Digest, err, res.Digest)
	}
	from := contextDir(t, map[string]string{"Dockerfile": "FROM cross:1\nCOPY Dockerfile /from\n"})
	for _, p := range []string{"", "linux/arm64"} {
		o := Options{}
		want := "amd64 linux/amd64 on linux/amd64\n"
		if p != "" {
			o.Platforms, want = []string{p}, "arm64 linux/arm64 on linux/amd64\n"
		}
		img, _ := e.mustBuild(from, o)
		if got := filesystem(t, img)["/arch"].content; got != want {
			t.Errorf("FROM the index for %q: /arch %q, want %q", p, got, want)
		}
	}
}

// TestMultiPlatformRefusals: outputs that cannot hold an index, and
// --cache-to, are refused before anything runs.
func TestMultiPlatformRefusals(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": crossDockerfile})
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"docker", Options{Outputs: []output.Spec{{Type: output.TypeDocker, Dest: filepath.Join(t.TempDir(), "d.tar")}}}, "docker load takes single-platform images"},
		{"cache-to", Options{Outputs: []output.Spec{{Type: output.TypeOCI, Dest: t.TempDir()}}, CacheTo: []remotecache.Spec{{Type: remotecache.TypeLocal, Dir: t.TempDir()}}}, "--cache-to"},
		{"annotation of a platform not built", Options{PlatformAnnotations: map[string]map[string]string{"linux/s390x": {"k": "v"}}}, "the build makes no linux/s390x image"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "-"), func(t *testing.T) {
			tc.o.Platforms = []string{"linux/amd64,linux/arm64"}
			_, evs, err := e.build(dir, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--platform linux/amd64,linux/arm64") {
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
			if ran := evs.executed(""); len(ran) != 0 {
				t.Errorf("steps ran before the refusal: %q", ran)
			}
		})
	}
}

// archContext is a context whose Dockerfile runs the stand-in shell of
// the target architecture.
func archContext(t *testing.T, arches ...string) string {
	t.Helper()
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nARG TARGETARCH\nCOPY sh-$TARGETARCH /bin/sh\nRUN record the architecture\n"})
	for _, a := range arches {
		b, err := os.ReadFile(testutil.ArchProgram(t, a))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "sh-"+a), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestMultiPlatformEmulated: RUN steps of another architecture run
// through the emulator registered with binfmt_misc (.ci/run registers
// Debian's qemu-user-static for aarch64), each platform's in its image.
func TestMultiPlatformEmulated(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("emulates arm64 on an amd64 host")
	}
	if !testutil.Emulates("aarch64") {
		testutil.Unavailable(t, "no aarch64 emulator registered with binfmt_misc (.ci/run registers qemu-user-static's)")
	}
	e := newEnv(t)
	dir := archContext(t, "amd64", "arm64")
	lay := filepath.Join(t.TempDir(), "oci")
	evs := &events{}
	res, err := Build(context.Background(), e.st, Options{ContextDir: dir, Platforms: []string{"linux/amd64,linux/arm64"}, Outputs: []output.Spec{{Type: output.TypeOCI, Dest: lay}}, Progress: evs})
	if err != nil {
		t.Fatalf("%v\n%s", err, evs.output())
	}
	n := 0
	for d, img := range e.platformImages(res.Descriptor) {
		n++
		if got := filesystem(t, img)["/arch"].content; got != d.Platform.Architecture+"\n" {
			t.Errorf("%s: the RUN ran as %q", d.Platform, got)
		}
	}
	if n != 2 {
		t.Errorf("%d images, want 2", n)
	}
}

// TestForeignProgram: a RUN whose programs this host cannot execute (no
// emulator for them) says so and what to do.
func TestForeignProgram(t *testing.T) {
	if runtime.GOARCH == "s390x" {
		t.Skip("needs a foreign architecture")
	}
	if testutil.Emulates("s390x") {
		t.Skip("an s390x emulator is registered with binfmt_misc")
	}
	e := newEnv(t)
	dir := archContext(t, "s390x")
	_, _, err := e.build(dir, Options{Platforms: []string{"linux/s390x"}})
	if err == nil {
		t.Fatal("an s390x RUN ran on this host")
	}
	for _, want := range []string{"exec format error", "the stage is for linux/s390x", "binfmt_misc", "qemu-user-static", "--platform=$BUILDPLATFORM"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestMultiPlatformAsksOnce: what the platforms share is resolved once for
// the build: an ADD URL of a stage FROM --platform=$BUILDPLATFORM is
// fetched for the first platform and not asked again for the next.
func TestMultiPlatformAsksOnce(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprintln(w, "fetched once")
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM --platform=$BUILDPLATFORM busybox AS fetch\nADD " + srv.URL + "/data /data\nFROM scratch\nCOPY --from=fetch /data /data\n"})
	desc, _ := e.mustBuildDesc(dir, Options{Platforms: []string{"linux/amd64,linux/arm64"}, Outputs: []output.Spec{{Type: output.TypeOCI, Dest: t.TempDir()}}})
	n := 0
	for d, img := range e.platformImages(desc) {
		n++
		if got := filesystem(t, img)["/data"].content; got != "fetched once\n" {
			t.Errorf("%s: /data %q", d.Platform, got)
		}
	}
	if n != 2 {
		t.Errorf("%d images, want 2", n)
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("the URL was asked %d times, want once for both platforms", got)
	}
}

// TestMultiPlatformStepNames: in a Dockerfile of one stage, progress names
// a step by its platform alone ("[linux/amd64 2/2]", as BuildKit does) and
// an error names the platform and the stage.
func TestMultiPlatformStepNames(t *testing.T) {
	e := newEnv(t)
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM --platform=$BUILDPLATFORM busybox AS only\nRUN exit 3\n"})
	evs := &events{}
	_, err := Build(context.Background(), e.st, Options{ContextDir: dir, Platforms: []string{"linux/amd64,linux/arm64"}, Progress: evs})
	if err == nil || !strings.Contains(err.Error(), "[linux/amd64 only 2/2] RUN exit 3") {
		t.Errorf("error %v, want it to name [linux/amd64 only 2/2]", err)
	}
	if ran := evs.executed("RUN exit 3"); len(ran) == 0 || !strings.HasPrefix(ran[0], "[linux/amd64 2/2] ") {
		t.Errorf("progress named the step %q, want [linux/amd64 2/2]", ran)
	}
}
