package main

import (
	"github.com/spf13/cobra"

	"github.com/whittle-build/whittle/internal/store"
)

// globals are the flags every command shares.
type globals struct {
	root string
}

func newRoot() *cobra.Command {
	g := &globals{}
	cmd := &cobra.Command{
		Use:   "whittle",
		Short: "Build small, secure container images without a daemon",
		Long: `whittle builds ordinary multi-stage Dockerfiles into OCI images without a
daemon, assembles distroless base images from signed Debian packages, and
shows where an image's bytes and attack surface come from.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.PersistentFlags().StringVar(&g.root, "root", store.DefaultRoot(), "directory of the local image store")
	cmd.AddCommand(
		newBuild(g),
		newBase(g),
		newImages(g),
		newInspect(g),
		newRmi(g),
		newTag(g),
		newSave(g),
		newLoad(g),
		newRun(g),
		newPrune(g),
		newAnalyze(g),
		newDiff(g),
		newInfo(g),
		newPush(g),
		newLogin(g),
		newVersion(),
	)
	return cmd
}

func (g *globals) open() (*store.Store, error) {
	return store.Open(g.root)
}
