package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/docker/cli/cli/config"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/build"
	"github.com/whittle-build/whittle/internal/buildcontext"
	"github.com/whittle-build/whittle/internal/download"
	"github.com/whittle-build/whittle/internal/mountns"
	"github.com/whittle-build/whittle/internal/output"
	"github.com/whittle-build/whittle/internal/progress"
	"github.com/whittle-build/whittle/internal/registry"
	"github.com/whittle-build/whittle/internal/remotecache"
	"github.com/whittle-build/whittle/internal/secrets"
	"github.com/whittle-build/whittle/internal/sshforward"
	"github.com/whittle-build/whittle/internal/step"
	"github.com/whittle-build/whittle/internal/store"
)

type buildFlags struct {
	file, target, progress, iidfile, network, compression     string
	metadataFile, provenance, sbom, shmSize                   string
	tags, buildArgs, outputs, contexts, platforms             []string
	labels, annotations, hosts, noCacheFilter, allow, ulimits []string
	attest                                                    []string
	cacheTo, cacheFrom                                        []string
	secrets, ssh                                              []string
	noCache, pull, quiet, push, load, check                   bool
	jobs                                                      int
	registry                                                  registryFlags
}

func newBuild(g *globals) *cobra.Command {
	f := &buildFlags{}
	cmd := &cobra.Command{
		Use:   "build [flags] CONTEXT|URL|GIT-URL|-",
		Short: "Build an image from a Dockerfile",
		Long: `Build an image from a Dockerfile, with BuildKit's semantics: stages the
target needs run concurrently, RUN steps run in Linux namespaces, and every
step is cached by what it reads. The result goes to the local store (named
by -t) unless --output says otherwise.

As with docker build, a CONTEXT of "-" reads standard input, and an http(s)
URL is downloaded: a tar archive (plain, gzip, bzip2, xz or zstd) is the
context, anything else the Dockerfile of a build with an empty context; -f
then names a file in the archive. A Git URL (git@..., git://..., or
https://....git), with #REF:SUBDIR optionally, is checked out with the git
command (depth 1, submodules, no .git) and the context is SUBDIR. -f -
reads the Dockerfile from standard input and the context from CONTEXT.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(args[0])
			if err != nil {
				return err
			}
			if err := mountns.Ensure(); err != nil {
				return err
			}
			st, err := g.open()
			if err != nil {
				return err
			}
			defer st.Close()
			// Standard input and remote contexts are read only now, in the
			// process that builds (mountns.Ensure may have started it anew).
			cleanup, err := f.readInputs(cmd.Context(), cmd.InOrStdin(), st, &o)
			defer cleanup()
			if err != nil {
				return err
			}
			sink := progressSink(f.progress, f.quiet)
			o.Progress = sink
			res, err := build.Build(cmd.Context(), st, o)
			sink.Close()
			if err != nil {
				return err
			}
			if f.check {
				return checkReport(os.Stdout, res.Violations)
			}
			if f.quiet {
				printDigest(os.Stdout, os.Stderr, o.Outputs, res.Descriptor.Digest)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "the Dockerfile (default CONTEXT/Dockerfile)")
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name the image (name:tag); repeatable")
	fl.StringVar(&f.target, "target", "", "the stage to build (default the last)")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "set a build argument (KEY=VALUE, or KEY to take it from the environment); repeatable")
	fl.BoolVar(&f.noCache, "no-cache", false, "run every step, ignoring the build cache (and emptying the cache mounts)")
	fl.BoolVar(&f.check, "check", false, "only run the build checks (BuildKit's Dockerfile linter) and report; exit status 1 when they find something")
	fl.StringArrayVar(&f.noCacheFilter, "no-cache-filter", nil, "run the steps of this stage (AS name), and of the stages built on it, ignoring the build cache; repeatable")
	fl.StringArrayVar(&f.labels, "label", nil, "set an image label (KEY=VALUE); repeatable")
	fl.StringArrayVar(&f.annotations, "annotation", nil, "set an annotation: on every image manifest (KEY=VALUE, manifest:KEY=VALUE), one platform's (manifest[linux/arm64]:KEY=VALUE) or a multi-platform build's index (index:KEY=VALUE); repeatable")
	fl.StringArrayVar(&f.hosts, "add-host", nil, "add a line to RUN's /etc/hosts (NAME:IP, or NAME:host-gateway for the host); repeatable")
	fl.StringVar(&f.shmSize, "shm-size", "", "size of RUN's /dev/shm (bytes, or with k, m, g; default 64m)")
	fl.StringArrayVar(&f.ulimits, "ulimit", nil, "a resource limit of RUN steps (NAME=SOFT[:HARD], e.g. nofile=1024:4096); repeatable")
	fl.StringArrayVar(&f.allow, "allow", nil, "allow an entitlement: security.insecure (RUN --security=insecure) or network.host (RUN --network=host, always allowed); repeatable")
	fl.StringVar(&f.provenance, "provenance", "", "false: make no provenance attestation (whittle makes none; other values are refused)")
	fl.StringArrayVar(&f.attest, "attest", nil, "type=provenance|sbom,disabled=true: make no such attestation (whittle makes none; other forms are refused); repeatable")
	fl.StringVar(&f.sbom, "sbom", "", "false: make no SBOM attestation (whittle makes none; other values are refused)")
	fl.StringVar(&f.metadataFile, "metadata-file", "", "write the build result's metadata (image digest, config digest, names) to this JSON file")
	fl.BoolVar(&f.pull, "pull", false, "ask registries for base images even when the store has them")
	fl.StringVar(&f.progress, "progress", "auto", "progress output: auto, plain, tty, json or quiet")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image digest")
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "where the result goes: type=image|oci|docker|tar|local|registry[,dest=PATH][,name=NAME][,push=true]; repeatable")
	fl.BoolVar(&f.push, "push", false, "push the image to its registry (same as --output type=registry)")
	fl.BoolVar(&f.load, "load", false, "put the image in the local store, whittle's image store (same as --output type=image, the default)")
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image's digest to this file")
	fl.StringVar(&f.network, "network", "host", "network of RUN steps: host (default, also named default) or none")
	fl.StringArrayVar(&f.platforms, "platform", nil, "target platform (default the host's, e.g. linux/amd64); several (comma-separated or repeated) make a multi-platform image index")
	fl.IntVar(&f.jobs, "jobs", 0, "how many steps may run at once (default the number of CPUs)")
	fl.StringVar(&f.compression, "compression", "gzip", "compression of new layers: gzip, zstd or none")
	f.registry.add(cmd)
	fl.StringArrayVar(&f.cacheTo, "cache-to", nil, "export the build cache: type=registry,ref=REF or type=local,dest=DIR[,mode=min|max][,mounts=true]; repeatable")
	fl.StringArrayVar(&f.cacheFrom, "cache-from", nil, "import a build cache: type=registry,ref=REF (or just REF) or type=local,src=DIR; repeatable")
	fl.StringArrayVar(&f.secrets, "secret", nil, "a secret RUN --mount=type=secret may read: id=ID,src=FILE or id=ID,env=VAR (type=file|env); repeatable")
	fl.StringArrayVar(&f.ssh, "ssh", nil, "an ssh agent RUN --mount=type=ssh may use: default (the agent at $SSH_AUTH_SOCK) or ID=SOCKET|KEYFILE[,KEYFILE]; repeatable")
	fl.StringArrayVar(&f.contexts, "build-context", nil, "an extra named context: NAME=DIR, NAME=docker-image://REF or NAME=oci-layout://DIR; repeatable")
	return cmd
}

func (f *buildFlags) options(contextDir string) (build.Options, error) {
	o := build.Options{
		ContextDir: contextDir, Dockerfile: f.file, Tags: f.tags, Target: f.target,
		NoCache: f.noCache, Pull: f.pull, Platforms: f.platforms, IIDFile: f.iidfile,
		Network: f.network, Jobs: f.jobs, MetadataFile: f.metadataFile, Check: f.check, Insecure: f.registry.insecure, RegistryCA: f.registry.caFile,
		BuildArgs: map[string]string{}, BuildContexts: map[string]string{},
	}
	if f.file == "-" && contextDir == "-" {
		return o, fmt.Errorf("-f - and a context of -: standard input cannot be both the Dockerfile and the build context")
	}
	switch f.network {
	case "default":
		// docker buildx's name for the builder's default: here, host.
		o.Network = "host"
	case "host", "none":
	default:
		return o, fmt.Errorf("--network=%s: want host or none", f.network)
	}
	for _, a := range []struct{ flag, value string }{{"provenance", f.provenance}, {"sbom", f.sbom}} {
		// CI command lines often turn buildx's attestations off; whittle
		// makes none, so only "off" can be honoured.
		if on, err := strconv.ParseBool(a.value); a.value != "" && (err != nil || on) {
			return o, fmt.Errorf("--%s=%s: whittle makes no build attestations (provenance, SBOM); leave the flag out or give --%s=false", a.flag, a.value, a.flag)
		}
	}
	for _, a := range f.attest {
		// --attest type=provenance|sbom[,disabled=true][,...]: only the
		// disabled form can be honoured.
		if !strings.Contains(","+a+",", ",disabled=true,") {
			return o, fmt.Errorf("--attest %s: whittle makes no build attestations (provenance, SBOM); leave the flag out or add disabled=true", a)
		}
	}
	if err := checkProgress(f.progress); err != nil {
		return o, err
	}
	if err := checkTags(f.tags); err != nil {
		return o, err
	}
	for _, a := range f.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			// docker build --build-arg KEY takes the value from the environment.
			var set bool
			if v, set = os.LookupEnv(k); !set {
				continue
			}
		}
		o.BuildArgs[k] = v
	}
	addProxyArgs(o.BuildArgs)
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return o, fmt.Errorf("--label %q: want KEY=VALUE", l)
		}
		o.Labels = setKey(o.Labels, k, v)
	}
	for _, a := range f.annotations {
		an, err := parseAnnotation(a)
		if err != nil {
			return o, err
		}
		switch {
		case an.index:
			o.IndexAnnotations = setKey(o.IndexAnnotations, an.key, an.value)
		case an.platform != "":
			if o.PlatformAnnotations == nil {
				o.PlatformAnnotations = map[string]map[string]string{}
			}
			o.PlatformAnnotations[an.platform] = setKey(o.PlatformAnnotations[an.platform], an.key, an.value)
		default:
			o.Annotations = setKey(o.Annotations, an.key, an.value)
		}
	}
	for _, h := range f.hosts {
		host, err := step.ParseHost(h)
		if err != nil {
			return o, err
		}
		o.Hosts = append(o.Hosts, host)
	}
	if f.shmSize != "" {
		n, err := step.ParseSize(f.shmSize)
		if err != nil {
			return o, fmt.Errorf("--shm-size: %w", err)
		}
		o.ShmSize = n
	}
	for _, u := range f.ulimits {
		l, err := step.ParseUlimit(u)
		if err != nil {
			return o, err
		}
		o.Ulimits = append(o.Ulimits, l)
	}
	for _, a := range f.allow {
		for e := range strings.SplitSeq(a, ",") {
			switch strings.TrimSpace(e) {
			case "security.insecure":
				o.AllowInsecure = true
			case "network.host":
				// RUN steps share the host's network unless told otherwise.
			default:
				return o, fmt.Errorf("--allow %s: unknown entitlement (want security.insecure or network.host)", e)
			}
		}
	}
	for _, n := range f.noCacheFilter {
		for name := range strings.SplitSeq(n, ",") {
			if name = strings.TrimSpace(name); name != "" {
				o.NoCacheFilter = append(o.NoCacheFilter, name)
			}
		}
	}
	for _, s := range f.secrets {
		src, err := secrets.ParseSource(s)
		if err != nil {
			return o, err
		}
		o.Secrets = append(o.Secrets, src)
	}
	for _, s := range f.ssh {
		spec, err := sshforward.ParseSpec(s, os.Getenv)
		if err != nil {
			return o, err
		}
		o.SSH = append(o.SSH, spec)
	}
	for _, c := range f.contexts {
		k, v, ok := strings.Cut(c, "=")
		if !ok || k == "" || v == "" {
			return o, fmt.Errorf("--build-context %q: want NAME=VALUE", c)
		}
		o.BuildContexts[k] = v
	}
	for _, s := range f.outputs {
		spec, err := output.Parse(s)
		if err != nil {
			return o, err
		}
		o.Outputs = append(o.Outputs, spec)
	}
	if f.push {
		o.Outputs = append(o.Outputs, output.Spec{Type: "registry"})
	}
	if f.load {
		o.Outputs = append(o.Outputs, output.Spec{Type: output.TypeImage, Attrs: map[string]string{}})
	}
	for _, s := range f.cacheTo {
		spec, err := remotecache.ParseTo(s)
		if err != nil {
			return o, err
		}
		o.CacheTo = append(o.CacheTo, spec)
	}
	for _, s := range f.cacheFrom {
		spec, err := remotecache.ParseFrom(s)
		if err != nil {
			return o, err
		}
		o.CacheFrom = append(o.CacheFrom, spec)
	}
	c, err := archive.ParseCompression(f.compression)
	if err != nil {
		return o, fmt.Errorf("--compression: %w", err)
	}
	o.Compression = c
	if o.Epoch, err = build.EpochFromEnv(); err != nil {
		return o, err
	}
	return o, nil
}

// addProxyArgs adds, as docker build does, the proxies of the Docker
// client configuration (~/.docker/config.json, or $DOCKER_CONFIG: "proxies":
// {"default": {"httpProxy": ...}}) as the build args HTTP_PROXY, http_proxy,
// HTTPS_PROXY, ... that --build-arg did not set. Like any proxy build arg,
// they reach RUN steps without entering the cache key or the history.
func addProxyArgs(args map[string]string) {
	dir, err := registry.ConfigDir()
	if err != nil {
		return
	}
	cf, err := config.Load(dir)
	if err != nil || len(cf.Proxies) == 0 {
		return // an unreadable file is reported where credentials are read
	}
	given := map[string]*string{}
	for k, v := range args {
		given[k] = &v
	}
	for k, v := range cf.ParseProxyConfig("", given) {
		if _, set := args[k]; !set && v != nil {
			args[k] = *v
		}
	}
}

// checkReport prints what --check found as docker build --check sums it
// up; findings make the exit status 1.
func checkReport(w io.Writer, violations []string) error {
	for _, v := range violations {
		fmt.Fprintln(w, v)
	}
	switch n := len(violations); n {
	case 0:
		fmt.Fprintln(w, "Check complete, no warnings found.")
		return nil
	case 1:
		fmt.Fprintln(w, "Check complete, 1 warning has been found!")
	default:
		fmt.Fprintf(w, "Check complete, %d warnings have been found!\n", n)
	}
	return exitCode(1)
}

// setKey sets m[k] = v, making m when it is nil, and returns m.
func setKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// annotation is one --annotation.
type annotation struct {
	key, value string
	// index: on the index of a multi-platform build; else on the image
	// manifest, of platform only when it is set.
	index    bool
	platform string
}

// parseAnnotation reads an --annotation as docker buildx does:
// [TYPE[PLATFORM]:]KEY=VALUE, TYPE "manifest" (the default) or "index";
// descriptor annotations are refused (whittle's indexes carry none).
func parseAnnotation(s string) (annotation, error) {
	k, v, ok := strings.Cut(s, "=")
	var a annotation
	if typ, rest, typed := strings.Cut(k, ":"); typed {
		base, plat, hasPlat := strings.Cut(typ, "[")
		switch base {
		case "manifest", "index":
			if hasPlat {
				plat, closed := strings.CutSuffix(plat, "]")
				if base == "index" || !closed || plat == "" {
					return a, fmt.Errorf("--annotation %q: want manifest[PLATFORM]:KEY=VALUE (an index has no platform)", s)
				}
				if _, err := v1.ParsePlatform(plat); err != nil {
					return a, fmt.Errorf("--annotation %q: %w", s, err)
				}
				a.platform = plat
			}
			a.index = base == "index"
			k = rest
		case "manifest-descriptor", "index-descriptor":
			return a, fmt.Errorf("--annotation %q: descriptor annotations are not supported (manifest: and index: are)", s)
		}
	}
	if !ok || k == "" {
		return a, fmt.Errorf("--annotation %q: want KEY=VALUE, manifest[PLATFORM]:KEY=VALUE or index:KEY=VALUE", s)
	}
	a.key, a.value = k, v
	return a, nil
}

// readInputs reads what the build takes from elsewhere than a directory:
// the Dockerfile from standard input (-f -), and a remote context (a
// context of -, an http(s) URL or a Git URL), made into a directory of the
// store's that cleanup removes.
func (f *buildFlags) readInputs(ctx context.Context, in io.Reader, st *store.Store, o *build.Options) (cleanup func(), err error) {
	cleanup = func() {}
	if f.file == "-" {
		if o.DockerfileData, err = io.ReadAll(in); err != nil {
			return cleanup, fmt.Errorf("reading the Dockerfile from standard input: %w", err)
		}
	}
	if !buildcontext.IsRemote(o.ContextDir) {
		return cleanup, nil
	}
	fetcher := download.New(st, nil)
	r, err := buildcontext.FetchRemote(ctx, o.ContextDir, f.file, buildcontext.RemoteOptions{
		Stdin:   in,
		TempDir: st.TempDir,
		Download: func(ctx context.Context, url string) (io.ReadCloser, error) {
			fl, err := fetcher.Resolve(ctx, url)
			if err != nil {
				return nil, err
			}
			return fetcher.Open(fl)
		},
	})
	if r.Root != "" {
		cleanup = func() { os.RemoveAll(r.Root) }
	}
	if err != nil {
		return cleanup, err
	}
	o.ContextDir, o.TempContext = r.Dir, r.Source
	if r.DockerfileData != nil {
		o.DockerfileData = r.DockerfileData
	}
	if r.Dockerfile != "" {
		o.Dockerfile = r.Dockerfile
	}
	return cleanup, nil
}

// progressSink picks the renderer: a live view on a terminal, plain text
// otherwise (and in CI), JSON lines or nothing on request. The modes it
// knows are the ones checkProgress lets through.
func progressSink(mode string, quiet bool) progress.Sink {
	if quiet {
		mode = "quiet"
	}
	switch mode {
	case "quiet":
		return progress.Discard{}
	case "json", "rawjson":
		return progress.NewJSON(os.Stderr)
	case "plain":
		return progress.NewPlain(os.Stderr)
	case "tty":
		return progress.NewTTY(os.Stderr, termWidth())
	}
	if term.IsTerminal(int(os.Stderr.Fd())) && os.Getenv("CI") == "" && os.Getenv("TERM") != "dumb" {
		return progress.NewTTY(os.Stderr, termWidth())
	}
	return progress.NewPlain(os.Stderr)
}

func termWidth() int {
	w, _, err := term.GetSize(int(os.Stderr.Fd()))
	if err != nil {
		return 80
	}
	return w
}

// printDigest prints a --quiet command's image digest: on standard output,
// unless an output writes its archive there (-o -), which the digest must
// not trail; then on standard error.
func printDigest(stdout, stderr io.Writer, outputs []output.Spec, digest v1.Hash) {
	w := stdout
	for _, spec := range outputs {
		if spec.Dest == "-" {
			w = stderr
		}
	}
	fmt.Fprintln(w, digest)
}
