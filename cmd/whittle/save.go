package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/whittle-build/whittle/internal/output"
)

func newSave(g *globals) *cobra.Command {
	var file, format string
	cmd := &cobra.Command{
		Use:   "save NAME... -o FILE",
		Short: "Write images to a tar archive (docker-archive or OCI layout)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.open()
			if err != nil {
				return err
			}
			defer st.Close()
			var w io.Writer = os.Stdout
			if file != "" && file != "-" {
				f, err := os.Create(file)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			if err := output.Save(cmd.Context(), st, args, w, format); err != nil {
				if file != "" && file != "-" {
					os.Remove(file)
				}
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "output", "o", "", "the archive to write (default standard output)")
	cmd.Flags().StringVar(&format, "format", "docker", "archive format: docker (docker load) or oci (OCI image layout)")
	return cmd
}

func newLoad(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "load -i FILE",
		Short: "Load images from a docker-archive or OCI layout tar into the local store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.open()
			if err != nil {
				return err
			}
			defer st.Close()
			var r io.Reader = os.Stdin
			if file != "" && file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			names, err := output.Load(cmd.Context(), st, r)
			if err != nil {
				return err
			}
			for _, n := range names {
				fmt.Println("Loaded image:", n)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "input", "i", "", "the archive to read (default standard input)")
	return cmd
}
