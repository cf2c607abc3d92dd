package compat

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"

	"github.com/whittle-build/whittle/internal/build"
	"github.com/whittle-build/whittle/internal/output"
	"github.com/whittle-build/whittle/internal/progress"
	"github.com/whittle-build/whittle/internal/secrets"
	"github.com/whittle-build/whittle/internal/sshforward"
	"github.com/whittle-build/whittle/internal/step"
	"github.com/whittle-build/whittle/internal/store"
)

// buildSpec is one build of a case by one builder.
type buildSpec struct {
	// id names the build uniquely among concurrent ones (tags, directories).
	id         string
	contextDir string
	dockerfile string
	target     string
	buildArgs  map[string]string
	labels     map[string]string
	hosts      []string
	// secrets are --secret values (id=ID,src=FILE); ssh are --ssh values
	// (ID=SOCKET).
	secrets []string
	ssh     []string
	// platform is the target platform (--platform); default the host's.
	platform string
	// layers asks buildah for a layer per instruction (--layers).
	layers bool
	// out is an empty directory the builder may write its output into.
	out string
	// log, when set, receives the build's progress in BuildKit's plain
	// format (whittle and BuildKit only).
	log io.Writer
}

// builder builds a Dockerfile into an image that the test can flatten.
type builder interface {
	name() string
	build(ctx context.Context, b buildSpec) (v1.Image, error)
}

// whittleBuilder builds in process, into a store, with an OCI layout output.
type whittleBuilder struct {
	st *store.Store
}

func (whittleBuilder) name() string { return "whittle" }

func (w whittleBuilder) build(ctx context.Context, b buildSpec) (v1.Image, error) {
	dest := filepath.Join(b.out, "oci")
	spec, err := output.Parse("type=oci,dest=" + dest)
	if err != nil {
		return nil, err
	}
	var hosts []step.Host
	for _, s := range b.hosts {
		h, err := step.ParseHost(s)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
	}
	var sink progress.Sink
	if b.log != nil {
		sink = progress.NewPlain(b.log)
	}
	var srcs []secrets.Source
	for _, s := range b.secrets {
		src, err := secrets.ParseSource(s)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, src)
	}
	var agents []sshforward.Spec
	for _, s := range b.ssh {
		sp, err := sshforward.ParseSpec(s, os.Getenv)
		if err != nil {
			return nil, err
		}
		agents = append(agents, sp)
	}
	if _, err := build.Build(ctx, w.st, build.Options{
		ContextDir: b.contextDir,
		Dockerfile: b.dockerfile,
		Target:     b.target,
		BuildArgs:  b.buildArgs,
		Labels:     b.labels,
		Hosts:      hosts,
		Secrets:    srcs,
		SSH:        agents,
		Platforms:  platformList(b.platform),
		Outputs:    []output.Spec{spec},
		Progress:   sink,
	}); err != nil {
		return nil, err
	}
	return layoutImage(dest)
}

// buildahBuilder runs `buildah build` in docker format (its OCI format
// drops HEALTHCHECK, ONBUILD and SHELL), with the fixture bases from the
// loopback registry through a registries.conf of the test's own, then
// `buildah push` to a docker-archive (which keeps the docker config as is).
// Builds commit one layer unless the case asks for --layers (a commit per
// instruction costs buildah about a second here); the images are removed
// when the test ends (removing one while another build looks for cached
// layers fails that build).
type buildahBuilder struct {
	bin  string
	env  []string
	tags *tagList
}

// tagList collects the tags buildah made, to remove them at the end.
type tagList struct {
	mu   sync.Mutex
	tags []string
}

func (l *tagList) add(tag string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tags = append(l.tags, tag)
}

// remove removes the tagged images, in one buildah call.
func (bb buildahBuilder) remove() error {
	bb.tags.mu.Lock()
	defer bb.tags.mu.Unlock()
	if len(bb.tags.tags) == 0 {
		return nil
	}
	_, err := run(context.Background(), bb.env, bb.bin, append([]string{"rmi", "--force"}, bb.tags.tags...)...)
	bb.tags.tags = nil
	return err
}

func (buildahBuilder) name() string { return "buildah" }

func (bb buildahBuilder) build(ctx context.Context, b buildSpec) (v1.Image, error) {
	tag := "localhost/whittle-compat/" + b.id + ":latest"
	args := []string{"build", "--quiet", "--layers=" + strconv.FormatBool(b.layers), "--format", "docker",
		"--pull=always", "--network", "host", "-f", b.dockerfile, "-t", tag}
	if b.target != "" {
		args = append(args, "--target", b.target)
	}
	for _, kv := range buildArgList(b.buildArgs) {
		args = append(args, "--build-arg", kv)
	}
	for _, kv := range buildArgList(b.labels) {
		args = append(args, "--label", kv)
	}
	for _, h := range b.hosts {
		args = append(args, "--add-host", h)
	}
	for _, s := range b.secrets {
		args = append(args, "--secret", s)
	}
	for _, s := range b.ssh {
		args = append(args, "--ssh", s)
	}
	if b.platform != "" {
		args = append(args, "--platform", b.platform)
	}
	args = append(args, b.contextDir)
	if _, err := run(ctx, bb.env, bb.bin, args...); err != nil {
		return nil, err
	}
	bb.tags.add(tag)
	archive := filepath.Join(b.out, "image.tar")
	if _, err := run(ctx, bb.env, bb.bin, "push", "--quiet", tag, "docker-archive:"+archive+":"+tag); err != nil {
		return nil, err
	}
	return tarball.ImageFromPath(archive, nil)
}

// buildkitBuilder runs BuildKit's Dockerfile frontend through buildctl, with
// an OCI layout directory as the output. buildkitd finds the fixture bases
// through the registry mirrors of its configuration (bench/peers.sh).
type buildkitBuilder struct {
	buildctl, addr string
}

func (buildkitBuilder) name() string { return "buildkit" }

func (bk buildkitBuilder) build(ctx context.Context, b buildSpec) (v1.Image, error) {
	dest := filepath.Join(b.out, "oci")
	args := []string{"--addr", bk.addr, "build", "--progress=plain", "--frontend", "dockerfile.v0",
		"--local", "context=" + b.contextDir,
		"--local", "dockerfile=" + filepath.Dir(b.dockerfile),
		"--opt", "filename=" + filepath.Base(b.dockerfile),
		"--output", "type=oci,dest=" + dest + ",tar=false"}
	if b.target != "" {
		args = append(args, "--opt", "target="+b.target)
	}
	if b.platform != "" {
		args = append(args, "--opt", "platform="+b.platform)
	}
	for _, kv := range buildArgList(b.buildArgs) {
		args = append(args, "--opt", "build-arg:"+kv)
	}
	for _, kv := range buildArgList(b.labels) {
		args = append(args, "--opt", "label:"+kv)
	}
	for _, s := range b.secrets {
		args = append(args, "--secret", s)
	}
	for _, s := range b.ssh {
		args = append(args, "--ssh", s)
	}
	if len(b.hosts) > 0 {
		// The frontend's add-hosts: NAME=IP pairs, comma-separated.
		var pairs []string
		for _, h := range b.hosts {
			name, ip, _ := strings.Cut(h, ":")
			pairs = append(pairs, name+"="+ip)
		}
		args = append(args, "--opt", "add-hosts="+strings.Join(pairs, ","))
	}
	out, err := run(ctx, nil, bk.buildctl, args...)
	if err != nil {
		return nil, err
	}
	if b.log != nil {
		if _, err := b.log.Write(out); err != nil {
			return nil, err
		}
	}
	return layoutImage(dest)
}

// layoutImage returns the one image of the OCI layout in dir.
func layoutImage(dir string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the OCI layout %s: %w", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the index of %s: %w", dir, err)
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("the OCI layout %s holds %d manifests, want 1", dir, len(m.Manifests))
	}
	return idx.Image(m.Manifests[0].Digest)
}

// platformList is build.Options.Platforms for one platform ("": none).
func platformList(p string) []string {
	if p == "" {
		return nil
	}
	return []string{p}
}

func buildArgList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// run runs a peer's command and returns its output; the error carries the
// command line and the last lines of its output.
func run(ctx context.Context, env []string, bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("running %s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, tail(out.String(), 40))
	}
	return out.Bytes(), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// timings records how long each builder took per case, for the summary.
type timings struct {
	mu sync.Mutex
	d  map[string]map[string]time.Duration // builder → case → time
}

func (t *timings) add(builder, name string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.d == nil {
		t.d = map[string]map[string]time.Duration{}
	}
	if t.d[builder] == nil {
		t.d[builder] = map[string]time.Duration{}
	}
	t.d[builder][name] = d
}

func (t *timings) report(tb testing.TB) {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, 0, len(t.d))
	for b := range t.d {
		names = append(names, b)
	}
	sort.Strings(names)
	for _, b := range names {
		var sum time.Duration
		for _, d := range t.d[b] {
			sum += d
		}
		tb.Logf("%-8s %2d builds, %v in all", b, len(t.d[b]), sum.Round(10*time.Millisecond))
	}
}

// buildahEnv writes the configuration buildah runs with into dir and
// returns the environment that points buildah at it: runc as the runtime
// (crun fails on these hosts' hybrid cgroups), open-file limits no higher
// than the hard limit (no CAP_SYS_RESOURCE), and docker.io and gcr.io
// served by the loopback registry, over plain HTTP, as bench/peers.sh does.
func buildahEnv(dir, registry string) ([]string, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return nil, fmt.Errorf("reading the open-file limit: %w", err)
	}
	containers := fmt.Sprintf(`# Written by whittle's compat test.
[containers]
default_ulimits = ["nofile=%d:%d", "nproc=32768:32768"]

[engine]
runtime = "runc"
`, lim.Max, lim.Max)
	registries := fmt.Sprintf(`# Written by whittle's compat test.
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"

[[registry]]
prefix = "docker.io"
location = %[1]q
insecure = true

[[registry]]
prefix = "gcr.io"
location = %[1]q
insecure = true

[[registry]]
location = %[1]q
insecure = true
`, registry)
	cc, rc := filepath.Join(dir, "containers.conf"), filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(cc, []byte(containers), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(rc, []byte(registries), 0o644); err != nil {
		return nil, err
	}
	return []string{"CONTAINERS_CONF=" + cc, "CONTAINERS_REGISTRIES_CONF=" + rc}, nil
}

// lchtimes sets the access and modification times of p, not of what a
// symlink at p points to.
func lchtimes(p string, t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}
