package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/whittle-build/whittle/internal/store"
)

func newImages(g *globals) *cobra.Command {
	var quiet, all bool
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List the images in the local store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.open()
			if err != nil {
				return err
			}
			defer st.Close()
			listed, err := st.List()
			if err != nil {
				return err
			}
			// Indexes tagged <repo>:sha256-<hex> list an image's SBOMs
			// (OCI referrers); they are not images to show by default.
			var entries []store.Entry
			for _, e := range listed {
				if all || !e.Descriptor.MediaType.IsIndex() || !isReferrersTag(e.Name) {
					entries = append(entries, e)
				}
			}
			if quiet {
				for _, e := range entries {
					fmt.Println(e.Name)
				}
				return nil
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tCREATED\tSIZE")
			for _, e := range entries {
				repo, tag := splitName(e.Name)
				created, size := describe(st, e)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", repo, tag, e.Descriptor.Digest.Hex[:12], created, size)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only names")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "also list the indexes of SBOMs attached to images (tags sha256-<digest>)")
	return cmd
}

// isReferrersTag reports whether the name's tag is of the referrers tag
// scheme, "sha256-<64 hex digits>".
func isReferrersTag(name string) bool {
	_, tag := splitName(name)
	hex, ok := strings.CutPrefix(tag, "sha256-")
	return ok && len(hex) == 64 && strings.Trim(hex, "0123456789abcdef") == ""
}

func splitName(n string) (repo, tag string) {
	if i := strings.LastIndex(n, "@"); i >= 0 {
		return n[:i], n[i+1:]
	}
	if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
		return n[:i], n[i+1:]
	}
	return n, ""
}

// describe returns an image's creation time and compressed size for
// display (of the host's image, for a multi-platform one).
func describe(st *store.Store, e store.Entry) (string, string) {
	img, _, err := st.PlatformImage(e.Descriptor, nil)
	if err != nil {
		return "?", "?"
	}
	created := "?"
	if cfg, err := img.ConfigFile(); err == nil && !cfg.Created.IsZero() {
		created = cfg.Created.UTC().Format("2006-01-02 15:04")
	}
	var size int64
	if m, err := img.Manifest(); err == nil {
		for _, l := range m.Layers {
			size += l.Size
		}
	}
	return created, humanSize(size)
}

func humanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.3g%cB", float64(n)/float64(div), "kMGTPE"[exp])
}

func newRmi(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rmi NAME...",
		Short: "Remove image names from the local store (prune frees the space)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.open()
			if err != nil {
				return err
			}
			defer st.Close()
			for _, n := range args {
				if err := st.Untag(n); err != nil {
					return err
				}
				fmt.Println("Untagged:", n)
			}
			return nil
		},
	}
}

func newTag(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE TARGET",
		Short: "Give an image in the local store another name",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.open()
			if err != nil {
				return err
			}
			defer st.Close()
			d, err := st.Lookup(args[0])
			if err != nil {
				return err
			}
			return st.Tag(args[1], d)
		},
	}
}
