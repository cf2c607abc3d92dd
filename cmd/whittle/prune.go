package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/whittle-build/whittle/internal/store"
)

func newPrune(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Free blobs, snapshots and leftovers no image or cache record needs",
		Long: `Free the space of blobs and unpacked layers that no named image and no
build cache record needs, and of what crashed builds left behind. With
--all, the build cache goes too (cache records and RUN --mount=type=cache
directories), so only named images are kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.open()
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := st.Prune(cmd.Context(), store.PruneOptions{Cache: all})
			if err != nil {
				return err
			}
			fmt.Printf("Removed %d blobs, %d snapshots, %d cache records; freed %s\n", rep.Blobs, rep.Snapshots, rep.CacheRecords, humanSize(rep.Bytes))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "also remove the build cache")
	return cmd
}
