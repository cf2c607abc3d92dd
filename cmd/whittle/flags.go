package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/whittle-build/whittle/internal/resolve"
	"github.com/whittle-build/whittle/internal/store"
)

// registryFlags are the flags of every command that talks to registries,
// declared once so that their names, help and defaults stay the same.
type registryFlags struct {
	insecure []string
	caFile   string
}

// add declares --insecure-registry and --registry-ca on cmd. (It takes the
// command, not its *pflag.FlagSet, so that pflag stays an indirect module.)
func (r *registryFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&r.insecure, "insecure-registry", nil, "a registry that may be reached over plain HTTP; repeatable")
	fl.StringVar(&r.caFile, "registry-ca", "", "a PEM file of extra CA certificates for registries")
}

// openFlags are how analyze, diff and inspect open images: the registry
// flags, and the platform read from a multi-platform image.
type openFlags struct {
	registryFlags
	platform string
}

func (o *openFlags) add(cmd *cobra.Command) {
	o.registryFlags.add(cmd)
	cmd.Flags().StringVar(&o.platform, "platform", "", "the platform to read from a multi-platform image (default the host's, e.g. linux/arm64)")
}

// resolver opens images as the flags say, with st for store names.
func (o *openFlags) resolver(st *store.Store) *resolve.Resolver {
	return resolve.New(resolve.Options{Store: st, Platform: o.platform, Insecure: o.insecure, CAFile: o.caFile})
}

// checkProgress rejects a --progress mode that progressSink does not know,
// so that a typo fails before any work rather than falling back to auto.
func checkProgress(mode string) error {
	switch mode {
	case "auto", "plain", "tty", "json", "rawjson", "quiet":
		return nil
	}
	return fmt.Errorf("--progress=%s: want auto, plain, tty, json or quiet", mode)
}

// checkTags rejects a -t name the store cannot record, so that it fails
// now, not after the whole build.
func checkTags(tags []string) error {
	for _, t := range tags {
		if _, err := store.NormalizeName(t); err != nil {
			return fmt.Errorf("-t %s: %w (a name is [registry/]repository[:tag], lower case)", t, err)
		}
	}
	return nil
}
