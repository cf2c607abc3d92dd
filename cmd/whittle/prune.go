package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/whittle-build/whittle/internal/step"
	"github.com/whittle-build/whittle/internal/store"
)

func newPrune(g *globals) *cobra.Command {
	var all bool
	var filters []string
	var keep string
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Free blobs, snapshots and leftovers no image or cache record needs",
		Long: `Free the space of blobs and unpacked layers that no named image and no
build cache record needs, and of what crashed builds left behind. With
--all, the build cache goes too (cache records and RUN --mount=type=cache
directories), so only named images are kept. With --filter unused-for=D
(or until=D, docker's name), only the cache records no build has used for
the duration D (24h, 90m, 7d) go, with what only they kept: the cache of a
CI runner stays bounded by what its recent builds need. With --keep-storage
SIZE (10g, 500m), the least recently used cache records go until the blobs
and unpacked layers that images and the remaining records need fit in SIZE
(named images always stay; cache mounts are not counted).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := store.PruneOptions{Cache: all}
			for _, f := range filters {
				k, v, _ := strings.Cut(f, "=")
				if k != "until" && k != "unused-for" {
					return fmt.Errorf("--filter %s: want unused-for=DURATION (or until=DURATION)", f)
				}
				d, err := parseDuration(v)
				if err != nil {
					return fmt.Errorf("--filter %s: %w", f, err)
				}
				opts.UnusedFor = d
			}
			if keep != "" {
				n, err := step.ParseSize(keep)
				if err != nil {
					return fmt.Errorf("--keep-storage: %w", err)
				}
				opts.KeepStorage = n
			}
			st, err := g.open()
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := st.Prune(cmd.Context(), opts)
			if err != nil {
				return err
			}
			fmt.Printf("Removed %d blobs, %d snapshots, %d cache records; freed %s\n", rep.Blobs, rep.Snapshots, rep.CacheRecords, humanSize(rep.Bytes))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "also remove the build cache")
	cmd.Flags().StringVar(&keep, "keep-storage", "", "drop the least recently used cache until images and cache fit in this size (e.g. 10g)")
	cmd.Flags().StringVar(&keep, "max-used-space", "", "the same as --keep-storage (buildx's newer name)")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "unused-for=DURATION (or until=DURATION): remove the cache records unused for that long")
	return cmd
}

// parseDuration reads a Go duration (90m, 24h) or a number of days (7d).
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil && n > 0 {
			return time.Duration(n * 24 * float64(time.Hour)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration (like 90m, 24h or 7d)", s)
	}
	return d, nil
}
