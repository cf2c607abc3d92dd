package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/whittle-build/whittle/internal/inspect"
)

func newInspect(g *globals) *cobra.Command {
	var format string
	var registry openFlags
	cmd := &cobra.Command{
		Use:   "inspect [flags] IMAGE...",
		Short: "Show an image's config and layers as docker image inspect does",
		Long: `Show images as docker image inspect does: a JSON array of their config,
platform, layers (diffIDs), size and manifest descriptor, or each through a
--format template ('{{.Id}}', '{{json .Config.Labels}}', '{{index
.Config.Labels "org.opencontainers.image.revision"}}'; functions json, join,
split, lower, upper, println).

IMAGE is a name in the local store, oci:DIR[:TAG], docker-archive:FILE, or a
registry reference (only the manifest and config are read).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "" && format != "json" {
				// A bad template is refused before any image is read.
				if _, err := inspect.Template(format); err != nil {
					return err
				}
			}
			st, err := g.open()
			if err != nil {
				return err
			}
			defer st.Close()
			entries, err := st.List()
			if err != nil {
				return err
			}
			r := registry.resolver(st)
			var out []*inspect.Image
			for _, ref := range args {
				img, err := r.Open(cmd.Context(), ref)
				if err != nil {
					return err
				}
				d, err := img.Digest()
				if err != nil {
					return err
				}
				var tags []string
				for _, e := range entries {
					if e.Descriptor.Digest == d && !isReferrersTag(e.Name) {
						tags = append(tags, e.Name)
					}
				}
				info, err := inspect.Of(img, tags)
				if err != nil {
					return err
				}
				out = append(out, info)
			}
			return inspect.Write(os.Stdout, out, format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "a Go template for each image (docker's), or json (the default)")
	registry.add(cmd)
	return cmd
}
