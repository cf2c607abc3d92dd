// Package build is the library behind `whittle build`: it reads the
// Dockerfile and the build context, lowers the Dockerfile into a plan
// (frontend), resolves base images (resolve), runs the plan (solver),
// writes the image into the store (export) and delivers it to the
// requested outputs (output).
package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/buildcontext"
	"github.com/whittle-build/whittle/internal/export"
	"github.com/whittle-build/whittle/internal/frontend"
	"github.com/whittle-build/whittle/internal/output"
	"github.com/whittle-build/whittle/internal/plan"
	"github.com/whittle-build/whittle/internal/progress"
	"github.com/whittle-build/whittle/internal/remotecache"
	"github.com/whittle-build/whittle/internal/resolve"
	"github.com/whittle-build/whittle/internal/secrets"
	"github.com/whittle-build/whittle/internal/solver"
	"github.com/whittle-build/whittle/internal/sshforward"
	"github.com/whittle-build/whittle/internal/step"
	"github.com/whittle-build/whittle/internal/store"
)

// Options are the inputs of a build, as `whittle build` flags give them.
type Options struct {
	// ContextDir is the build context directory. Required.
	ContextDir string
	// Dockerfile is the Dockerfile's path; default ContextDir/Dockerfile.
	Dockerfile string
	// DockerfileData, when not nil, is the Dockerfile (read from standard
	// input: -f -, or `whittle build -`); Dockerfile is then unused, and
	// only the context's .dockerignore applies.
	DockerfileData []byte
	// TempContext, when set, says where ContextDir, a temporary directory,
	// came from ("standard input", a URL): the checksums of its files are
	// not kept, and messages name the source.
	TempContext string
	// Tags name the image in the store (and in docker/oci outputs).
	Tags []string
	// Target is the stage to build; default the last.
	Target string
	// BuildArgs are --build-arg values.
	BuildArgs map[string]string
	// BuildContexts are --build-context NAME=VALUE pairs.
	BuildContexts map[string]string
	// NoCache runs every step.
	NoCache bool
	// NoCacheFilter runs every step of these stages (AS names), and of the
	// stages built on them, without the cache (--no-cache-filter).
	NoCacheFilter []string
	// Pull asks registries for base images even when the store has them.
	Pull bool
	// Platforms are the target platforms (--platform, each may be a
	// comma-separated list); default the host's. With more than one the
	// result is an image index, one image per platform, built one
	// platform after the other.
	Platforms []string
	// Outputs are where the image goes; default the store (type=image).
	Outputs []output.Spec
	// IIDFile receives the image's manifest digest.
	IIDFile string
	// Network is RUN's default network: "host" (default) or "none".
	Network string
	// Hosts are added to every RUN's /etc/hosts (--add-host).
	Hosts []step.Host
	// ShmSize is the size of every RUN's /dev/shm in bytes (--shm-size);
	// 0 is 64 MiB.
	ShmSize int64
	// Ulimits are every RUN's resource limits (--ulimit).
	Ulimits []step.Ulimit
	// AllowInsecure lets RUN --security=insecure run, with every
	// capability and the host's devices (--allow security.insecure);
	// without it such a build fails before any step runs, as in BuildKit.
	AllowInsecure bool
	// Labels are set in the image config, over the Dockerfile's (--label).
	Labels map[string]string
	// Annotations are set on the image manifest (of every platform), over
	// whittle's own (--annotation K=V, manifest:K=V).
	Annotations map[string]string
	// PlatformAnnotations are set on one platform's manifest, over
	// Annotations: platform ("linux/arm64") → key → value
	// (--annotation manifest[PLATFORM]:K=V). A platform the build does not
	// make is an error.
	PlatformAnnotations map[string]map[string]string
	// IndexAnnotations are set on the index of a multi-platform build
	// (--annotation index:K=V); a single-platform build, which has no
	// index, refuses them, as BuildKit does.
	IndexAnnotations map[string]string
	// Check only lowers the Dockerfile and runs the build checks (docker
	// build --check): nothing is built; Result.Violations has the findings.
	Check bool
	// MetadataFile receives the build result's metadata as JSON, as
	// `docker buildx build --metadata-file` writes it.
	MetadataFile string
	// Jobs bounds concurrent steps; default GOMAXPROCS.
	Jobs int
	// Compression of new layers; default gzip.
	Compression archive.Compression
	// Epoch is SOURCE_DATE_EPOCH.
	Epoch *time.Time
	// Insecure registries may be reached over plain HTTP.
	Insecure []string
	// RegistryCA is a PEM file of extra registry CAs.
	RegistryCA string
	// Progress receives build events; default discard.
	Progress progress.Sink
	// CacheFrom are shared caches to import step records from (--cache-from).
	CacheFrom []remotecache.Spec
	// CacheTo are where the build's step records are exported (--cache-to).
	CacheTo []remotecache.Spec
	// Secrets are what RUN --mount=type=secret may read (--secret).
	Secrets []secrets.Source
	// SSH are the agents RUN --mount=type=ssh may forward (--ssh).
	SSH []sshforward.Spec
}

// Result is a finished build.
type Result struct {
	// Descriptor is the image manifest's descriptor in the store.
	Descriptor v1.Descriptor
	// Warnings are the frontend's warnings.
	Warnings []string
	// Violations are the build checks' findings among them.
	Violations []string
}

// EpochFromEnv reads SOURCE_DATE_EPOCH (seconds since 1970) from the
// environment; nil when unset.
func EpochFromEnv() (*time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", v)
	}
	t := time.Unix(n, 0).UTC()
	return &t, nil
}

// Build runs a build against the store st.
func Build(ctx context.Context, st *store.Store, o Options) (*Result, error) {
	if o.Dockerfile == "" {
		o.Dockerfile = filepath.Join(o.ContextDir, "Dockerfile")
	}
	platforms, err := targetPlatforms(o)
	if err != nil {
		return nil, err
	}
	rec := progress.NewRecorder(o.Progress)
	dockerfile, err := readDockerfile(o)
	if err != nil {
		return nil, err
	}
	secretStore, err := secrets.NewStore(o.Secrets)
	if err != nil {
		return nil, err
	}
	agents, err := sshforward.NewAgents(o.SSH)
	if err != nil {
		return nil, err
	}
	contexts, err := openContexts(st, o)
	if err != nil {
		return nil, err
	}

	name := displayPath(o.Dockerfile)
	switch {
	case o.DockerfileData != nil:
		name = "Dockerfile"
	case o.TempContext != "":
		// A file of a context from stdin, a URL or Git: named as there.
		if rel, err := filepath.Rel(o.ContextDir, o.Dockerfile); err == nil && !strings.HasPrefix(rel, "..") {
			name = rel
		}
	}
	// One plan per target platform; the warnings of all, each once.
	v := rec.Start("[internal] load build definition from " + filepath.Base(name))
	// The frontend names the platform of every image it resolves, so one
	// resolver serves all plans (and pulls each image once).
	resolver := resolve.New(resolve.Options{Store: st, Pull: o.Pull, Insecure: o.Insecure, CAFile: o.RegistryCA})
	plans := make([]*plan.Plan, len(platforms))
	var warnings, violations []string
	for i, pf := range platforms {
		plans[i], err = frontend.Lower(ctx, dockerfile, frontend.Options{
			Filename:      name,
			Target:        o.Target,
			BuildArgs:     o.BuildArgs,
			Platform:      pf,
			BuildContexts: o.BuildContexts,
			Resolver:      resolver,
		})
		if err != nil {
			break
		}
		for _, w := range plans[i].Warnings {
			if !slices.Contains(warnings, w) {
				warnings = append(warnings, w)
			}
		}
		for _, w := range plans[i].Violations {
			if !slices.Contains(violations, w) {
				violations = append(violations, w)
			}
		}
	}
	if err == nil {
		// Written before Done: a vertex's output is timed from its start.
		for _, w := range warnings {
			v.Write([]byte(w + "\n"))
		}
	}
	v.Done(err, ctx.Err() != nil)
	if err != nil {
		return nil, err
	}
	if o.Check {
		return &Result{Warnings: warnings, Violations: violations}, nil
	}
	if !o.AllowInsecure {
		for _, p := range plans {
			if err := checkInsecure(p); err != nil {
				return nil, err
			}
		}
	}

	snap, err := newSnapshotter(st)
	if err != nil {
		return nil, err
	}
	cacheFrom, err := remotecache.OpenAll(ctx, st, o.CacheFrom, cacheOptions(o, rec))
	if err != nil {
		return nil, err
	}
	sv, err := solver.New(solver.Options{
		Store:         st,
		Snapshotter:   snap,
		Sandbox:       sandboxRunner{},
		Images:        storeImages{st: st, r: resolver},
		Contexts:      contexts,
		Progress:      rec,
		NoCache:       o.NoCache,
		NoCacheStages: o.NoCacheFilter,
		CacheFrom:     cacheFrom,
		Jobs:          o.Jobs,
		Epoch:         o.Epoch,
		Network:       o.Network,
		RunSettings:   step.Settings{Hosts: o.Hosts, ShmSize: o.ShmSize, Ulimits: o.Ulimits},
		Compression:   exportCompression(o),
		Secrets:       secretStore,
		SSH:           agents,
		PlatformNames: len(platforms) > 1,
	})
	if err != nil {
		return nil, err
	}
	// The platforms one after the other, by one solver: steps they share
	// (stages FROM --platform=$BUILDPLATFORM) run once and are cache hits
	// after, and what ADD's URLs and Git refs resolve to is asked once.
	results := make([]*solver.Result, len(platforms))
	for i := range platforms {
		results[i], err = sv.Solve(ctx, plans[i])
		if err != nil {
			// The checksums learned are good whether or not the build succeeded.
			saveContexts(contexts)
			return nil, err
		}
	}
	saveContexts(contexts)

	v = rec.Start("exporting to image")
	desc, err := exportAll(ctx, st, v, plans, results, o)
	if err == nil {
		err = deliver(ctx, st, desc, o)
	}
	v.Done(err, ctx.Err() != nil)
	if err != nil {
		return nil, err
	}
	if len(platforms) == 1 {
		if err := remotecache.WriteAll(ctx, st, o.CacheTo, results[0], plans[0].Target.Index, cacheOptions(o, rec)); err != nil {
			return nil, err
		}
	}
	if o.IIDFile != "" {
		if err := os.WriteFile(o.IIDFile, []byte(desc.Digest.String()), 0o644); err != nil {
			return nil, fmt.Errorf("writing --iidfile: %w", err)
		}
	}
	if o.MetadataFile != "" {
		if err := writeMetadata(st, desc, o); err != nil {
			return nil, err
		}
	}
	return &Result{Descriptor: desc, Warnings: warnings}, nil
}

// exportAll writes the image of each platform's result into the store and,
// for more than one, the index of them; it returns what the outputs get.
func exportAll(ctx context.Context, st *store.Store, v io.Writer, plans []*plan.Plan, results []*solver.Result, o Options) (v1.Descriptor, error) {
	descs := make([]v1.Descriptor, len(results))
	for i, res := range results {
		target := res.Target
		if len(o.Labels) > 0 {
			// As BuildKit does: the target's config only, no history entry.
			cfg := &target.Config.Config
			cfg.Labels = maps.Clone(cfg.Labels)
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			maps.Copy(cfg.Labels, o.Labels)
		}
		user := o.Annotations
		if pa := platformAnnotations(o, plans[i].Platform); len(pa) > 0 {
			user = maps.Clone(user)
			if user == nil {
				user = map[string]string{}
			}
			maps.Copy(user, pa)
		}
		desc, err := export.Image(ctx, st, target.Layers, &target.Config, export.Options{
			Compression: o.Compression,
			Epoch:       o.Epoch,
			Annotations: annotations(target, user),
		})
		if err != nil {
			return v1.Descriptor{}, err
		}
		if len(results) == 1 {
			fmt.Fprintf(v, "image %s\n", desc.Digest)
			return desc, nil
		}
		p, err := v1.ParsePlatform(plans[i].Platform)
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("platform %q: %w", plans[i].Platform, err)
		}
		desc.Platform = p
		fmt.Fprintf(v, "image %s for %s\n", desc.Digest, p)
		descs[i] = desc
	}
	idx, err := st.WriteIndex(descs, o.IndexAnnotations)
	if err != nil {
		return v1.Descriptor{}, err
	}
	fmt.Fprintf(v, "index %s\n", idx.Digest)
	return idx, nil
}

// targetPlatforms are the platforms --platform names (comma-separated,
// repeatable), each once ("linux/arm64" and "linux/arm64/v8" are one), in
// order; [""] (the host's) when none. More than one needs outputs that
// hold an index.
func targetPlatforms(o Options) ([]string, error) {
	var out []string
	for _, p := range o.Platforms {
		for _, f := range strings.Split(p, ",") {
			f = strings.TrimSpace(f)
			if f != "" && !slices.ContainsFunc(out, func(t string) bool { return t == f || samePlatform(t, f) }) {
				out = append(out, f)
			}
		}
	}
	made := "--platform " + strings.Join(out, ",")
	if len(out) == 0 {
		out, made = []string{""}, "the host's platform"
	}
	for p := range o.PlatformAnnotations {
		if !slices.ContainsFunc(out, func(t string) bool { return samePlatform(p, t) }) {
			return nil, fmt.Errorf("--annotation manifest[%s]: the build makes no %s image (%s)", p, p, made)
		}
	}
	if len(out) == 1 && len(o.IndexAnnotations) > 0 {
		return nil, errors.New("--annotation index:...: a single-platform image has no index to annotate (as in BuildKit): build several --platform, or annotate the manifest")
	}
	if len(out) == 1 || o.Check {
		return out, nil
	}
	outs := o.Outputs
	if len(outs) == 0 {
		outs = []output.Spec{{Type: output.TypeImage}}
	}
	for _, spec := range outs {
		if err := spec.TakesIndex(); err != nil {
			return nil, fmt.Errorf("--platform %s: %w", strings.Join(out, ","), err)
		}
	}
	if len(o.CacheTo) > 0 {
		return nil, fmt.Errorf("--platform %s: --cache-to exports the cache of single-platform builds only: export it from one build per platform", strings.Join(out, ","))
	}
	return out, nil
}

// platformAnnotations are the --annotation manifest[PLATFORM] values for
// the plan's platform p.
func platformAnnotations(o Options, p string) map[string]string {
	for k, v := range o.PlatformAnnotations {
		if samePlatform(k, p) {
			return v
		}
	}
	return nil
}

// samePlatform says whether the platform strings a and b ("" being the
// host's) name one platform (store.SamePlatform).
func samePlatform(a, b string) bool {
	parse := func(s string) (v1.Platform, bool) {
		if s == "" {
			return store.HostPlatform(), true
		}
		p, err := v1.ParsePlatform(s)
		if err != nil {
			return v1.Platform{}, false
		}
		return *p, true
	}
	pa, okA := parse(a)
	pb, okB := parse(b)
	return okA && okB && store.SamePlatform(pa, pb)
}

func saveContexts(contexts map[string]*buildcontext.Context) {
	for _, c := range contexts {
		c.Save()
	}
}

// checkInsecure fails when a step the build needs is RUN
// --security=insecure: that needs --allow security.insecure.
func checkInsecure(p *plan.Plan) error {
	for _, st := range p.Stages {
		for _, op := range st.Ops {
			if op.Run != nil && op.Run.Security == plan.SecurityInsecure {
				return fmt.Errorf("%s: %s: needs --allow security.insecure (the step runs with every capability and the host's devices)", op.Location, op.Instruction)
			}
		}
	}
	return nil
}

// readDockerfile reads the build's Dockerfile; its errors say which of the
// context and the Dockerfile is missing and what to do.
func readDockerfile(o Options) ([]byte, error) {
	if fi, err := os.Stat(o.ContextDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("the build context %s is not a directory: give the directory whose files COPY and ADD read", o.ContextDir)
	}
	if o.DockerfileData != nil {
		return o.DockerfileData, nil
	}
	b, err := os.ReadFile(o.Dockerfile)
	switch {
	case errors.Is(err, fs.ErrNotExist) && o.TempContext != "":
		rel, _ := filepath.Rel(o.ContextDir, o.Dockerfile)
		return nil, fmt.Errorf("the build context read from %s has no %s: add it to the archive, or name another file of it with -f", o.TempContext, rel)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no Dockerfile at %s: add one, or name another with -f", o.Dockerfile)
	case err != nil:
		return nil, fmt.Errorf("reading the Dockerfile %s: %w", o.Dockerfile, err)
	}
	return b, nil
}

// exportCompression is the compression the solver may apply to the target
// stage's layers as it makes them: the image's, when an output will hold
// compressed layers (every output but type=tar and type=local).
func exportCompression(o Options) archive.Compression {
	c := o.Compression
	if c == "" {
		c = archive.Gzip
	}
	if len(o.Outputs) == 0 {
		return c
	}
	for _, spec := range o.Outputs {
		if spec.Type != "tar" && spec.Type != "local" {
			return c
		}
	}
	return ""
}

// The manifest annotations that record the base image.
const (
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
	AnnotationBaseLayers = "dev.whittle.base.layers"
)

// annotations are the manifest's: the base image's, then the user's.
func annotations(s *solver.State, user map[string]string) map[string]string {
	if s.Base == nil && len(user) == 0 {
		return nil
	}
	out := map[string]string{}
	if s.Base != nil {
		out[AnnotationBaseName] = s.Base.Name
		out[AnnotationBaseDigest] = s.Base.Digest.String()
		out[AnnotationBaseLayers] = strconv.Itoa(s.Base.Layers)
	}
	maps.Copy(out, user)
	return out
}

// deliver writes the image to its outputs; the default is the store,
// named by the tags.
func deliver(ctx context.Context, st *store.Store, desc v1.Descriptor, o Options) error {
	outs := o.Outputs
	if len(outs) == 0 {
		outs = []output.Spec{{Type: "image"}}
	}
	for _, spec := range outs {
		if err := output.Write(ctx, st, desc, o.Tags, spec, output.Options{Insecure: o.Insecure, CAFile: o.RegistryCA}); err != nil {
			return err
		}
	}
	return nil
}

// openContexts opens the main build context and the named directory ones.
func openContexts(st *store.Store, o Options) (map[string]*buildcontext.Context, error) {
	dockerfile := o.Dockerfile
	if o.DockerfileData != nil {
		dockerfile = ""
	}
	ignore, err := buildcontext.LoadIgnore(o.ContextDir, dockerfile)
	if err != nil {
		return nil, err
	}
	var state buildcontext.StateStore
	if o.TempContext == "" {
		state = contextState(st, o.ContextDir)
	}
	main, err := buildcontext.Open(o.ContextDir, buildcontext.Options{Ignore: ignore, State: state})
	if err != nil {
		return nil, err
	}
	out := map[string]*buildcontext.Context{"": main}
	for name, val := range o.BuildContexts {
		if strings.Contains(val, "://") {
			continue // images, handled by the frontend and the resolver
		}
		ig, err := buildcontext.LoadIgnore(val, filepath.Join(val, "Dockerfile"))
		if err != nil {
			return nil, err
		}
		c, err := buildcontext.Open(val, buildcontext.Options{Ignore: ig, State: contextState(st, val)})
		if err != nil {
			return nil, fmt.Errorf("--build-context %s: %w", name, err)
		}
		out[name] = c
	}
	return out, nil
}

// contextState keeps a context directory's checksums in the store.
func contextState(st *store.Store, dir string) buildcontext.StateStore {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256([]byte(abs))
	return stateFile{st: st, id: hex.EncodeToString(sum[:16])}
}

type stateFile struct {
	st *store.Store
	id string
}

func (f stateFile) Load() ([]byte, error) { return os.ReadFile(f.st.ContextStatePath(f.id)) }
func (f stateFile) Save(b []byte) error   { return f.st.WriteState(f.id, b) }

func displayPath(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return p
}

// writeMetadata writes the --metadata-file: the keys `docker buildx build`
// writes for an image (BuildKit's exporter response), so that CI steps
// that read the digest from it work unchanged.
func writeMetadata(st *store.Store, desc v1.Descriptor, o Options) error {
	b, err := metadata(st, desc, o.Tags)
	if err == nil {
		err = os.WriteFile(o.MetadataFile, b, 0o644)
	}
	if err != nil {
		return fmt.Errorf("writing --metadata-file: %w", err)
	}
	return nil
}

func metadata(st *store.Store, desc v1.Descriptor, tags []string) ([]byte, error) {
	md := map[string]any{
		"containerimage.digest":     desc.Digest.String(),
		"containerimage.descriptor": v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, Annotations: desc.Annotations},
	}
	// An index (a multi-platform build) has no one config: buildx leaves
	// the key out then.
	if !desc.MediaType.IsIndex() {
		img, err := st.Image(desc)
		if err != nil {
			return nil, err
		}
		cfg, err := img.ConfigName()
		if err != nil {
			return nil, err
		}
		md["containerimage.config.digest"] = cfg.String()
	}
	if len(tags) > 0 {
		md["image.name"] = strings.Join(tags, ",")
	}
	b, err := json.MarshalIndent(md, "", "  ")
	return append(b, '\n'), err
}
