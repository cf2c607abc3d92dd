package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/build"
	"github.com/whittle-build/whittle/internal/distroless"
	"github.com/whittle-build/whittle/internal/mountns"
	"github.com/whittle-build/whittle/internal/output"
)

type baseFlags struct {
	file, suite, arch, lock, mirror, keyring, sbom, progress, compression, iidfile string
	include, tags, outputs                                                         []string
	nonroot, debug, locked, explain, noCache, quiet                                bool
	registry                                                                       registryFlags
}

func newBase(g *globals) *cobra.Command {
	f := &baseFlags{}
	cmd := &cobra.Command{
		Use:   "base RECIPE | base -f RECIPE.yaml",
		Short: "Build a distroless base image from signed Debian packages",
		Long: `Build a base image from Debian's signed archive, without Docker or Bazel.

Recipes: ` + strings.Join(distroless.BuiltinNames(), ", ") + `. The distroless ones
(static ... java) hold only packages' files, replay what their maintainer scripts
would do (CA bundle, alternatives), have no shell and no package manager, and list
their packages for scanners in /var/lib/dpkg/status.d; "debian" is a normal Debian
(apt, dpkg, maintainer scripts run) for build stages. -f reads a recipe file
(packages, prune list, users, files, env; "base:" extends a built-in).

The mirror and keys come from the host's apt sources unless --mirror/--keyring say
otherwise. --lock writes the package set; --lock FILE --locked builds exactly that
set again, so the image digest stays the same. The image goes to the local store
(named distroless/RECIPE-debianN:TAG unless -t) and to any --output, like
'whittle build', so FROM <name> works in the next build. The SBOM (SPDX 2.3 and
CycloneDX 1.5) is attached to the image and written to --sbom DIR.`,
		Example: `  whittle base static -t gcr.io/distroless/static-debian12
  whittle base base --nonroot --lock base.lock && whittle base base --lock base.lock --locked
  whittle base debian --include golang-go,ca-certificates -t golang:bookworm
  whittle base python3 --sbom sbom/ --output type=oci,dest=py3
  whittle base -f recipe.yaml -t app-base`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			recipe, o, err := f.options(args)
			if err != nil {
				return err
			}
			if recipe.Bootstrap() {
				// dpkg runs in the sandbox, whose mounts must die with us.
				if err := mountns.Ensure(); err != nil {
					return err
				}
			}
			st, err := g.open()
			if err != nil {
				return err
			}
			defer st.Close()
			sink := progressSink(f.progress, f.quiet)
			o.Progress = sink
			res, err := distroless.Build(cmd.Context(), st, recipe, o)
			sink.Close()
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(os.Stderr, "WARNING:", w)
			}
			if f.iidfile != "" {
				if err := os.WriteFile(f.iidfile, []byte(res.Descriptor.Digest.String()), 0o644); err != nil {
					return fmt.Errorf("writing --iidfile: %w", err)
				}
			}
			if f.quiet {
				printDigest(os.Stdout, os.Stderr, o.Outputs, res.Descriptor.Digest)
				return nil
			}
			fmt.Fprintf(os.Stderr, "%s %s: %d packages, %d layers, %s (%s compressed)\n",
				strings.Join(res.Names, ", "), res.Descriptor.Digest, len(res.Lock.Packages), len(res.Layers),
				humanSize(res.Size), humanSize(res.CompressedSize))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "a recipe file (YAML) instead of a built-in recipe")
	fl.StringVar(&f.suite, "suite", distroless.DefaultSuite, "Debian release: "+strings.Join(distroless.SuiteNames(), " or "))
	fl.StringVar(&f.arch, "arch", "", "Debian architecture, e.g. amd64 or arm64 (default the host's)")
	fl.StringSliceVar(&f.include, "include", nil, "more packages (with their dependencies), comma-separated; repeatable")
	fl.BoolVar(&f.nonroot, "nonroot", false, "run as nonroot (uid 65532) in /home/nonroot")
	fl.BoolVar(&f.debug, "debug", false, "add busybox at /busybox (on PATH, /busybox/sh as entrypoint)")
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name the image (name:tag); repeatable")
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "where the result goes: type=image|oci|docker|tar|local|registry[,dest=PATH][,name=NAME][,push=true]; repeatable")
	fl.StringVar(&f.lock, "lock", "", "write the resolved package set to this lock file (read it with --locked)")
	fl.BoolVar(&f.locked, "locked", false, "build exactly the packages of --lock FILE")
	fl.StringVar(&f.mirror, "mirror", "", "Debian archive root URL to use instead of the host's apt sources")
	fl.StringVar(&f.keyring, "keyring", "", "OpenPGP keyring (binary or armored) that must have signed the archive")
	fl.BoolVar(&f.explain, "explain", false, "print why each package is in the image")
	fl.StringVar(&f.sbom, "sbom", "", "write the SBOM (sbom.spdx.json, sbom.cdx.json) into this directory")
	fl.StringVar(&f.compression, "compression", "gzip", "compression of the layers: gzip, zstd or none")
	fl.BoolVar(&f.noCache, "no-cache", false, "resolve and make every layer again, ignoring the store's cache")
	fl.StringVar(&f.progress, "progress", "auto", "progress output: auto, plain, tty, json or quiet")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image digest")
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image's digest to this file")
	f.registry.add(cmd)
	return cmd
}

// options turns the flags into a recipe and build options.
func (f *baseFlags) options(args []string) (*distroless.Recipe, distroless.Options, error) {
	o := distroless.Options{
		Suite: f.suite, Arch: f.arch, Include: f.include, NonRoot: f.nonroot, Debug: f.debug,
		Mirror: f.mirror, Keyring: f.keyring, LockFile: f.lock, Locked: f.locked,
		SBOMDir: f.sbom, NoCache: f.noCache, Tags: f.tags,
		OutputOptions: output.Options{Insecure: f.registry.insecure, CAFile: f.registry.caFile},
	}
	// Mistakes that 'whittle build' refuses up front fail before any
	// package is downloaded too.
	if err := checkProgress(f.progress); err != nil {
		return nil, o, err
	}
	if err := checkTags(f.tags); err != nil {
		return nil, o, err
	}
	var recipe *distroless.Recipe
	switch {
	case f.file != "" && len(args) > 0:
		return nil, o, errors.New("give a recipe name or -f FILE, not both")
	case f.file != "":
		r, err := distroless.ReadRecipeFile(f.file)
		if err != nil {
			return nil, o, err
		}
		recipe = r
	case len(args) == 1:
		suite, err := distroless.LookupSuite(f.suite)
		if err != nil {
			return nil, o, err
		}
		r, err := distroless.Builtin(args[0], suite)
		if err != nil {
			return nil, o, err
		}
		recipe = r
	default:
		return nil, o, fmt.Errorf("which recipe? one of %s, or -f FILE", strings.Join(distroless.BuiltinNames(), ", "))
	}
	if f.locked && f.lock == "" {
		return nil, o, errors.New("--locked needs --lock FILE")
	}
	if f.explain {
		o.Explain = os.Stdout
	}
	for _, s := range f.outputs {
		spec, err := output.Parse(s)
		if err != nil {
			return nil, o, err
		}
		o.Outputs = append(o.Outputs, spec)
	}
	c, err := archive.ParseCompression(f.compression)
	if err != nil {
		return nil, o, fmt.Errorf("--compression: %w", err)
	}
	o.Compression = c
	if o.Epoch, err = build.EpochFromEnv(); err != nil {
		return nil, o, err
	}
	return recipe, o, nil
}
