package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/whittle-build/whittle/internal/analyze"
)

type analyzeFlags struct {
	format, out, maxSize, maxWasted, maxCompressed string
	forbid                                         []string
	top                                            int
	minEfficiency                                  float64
	registry                                       openFlags
}

func newAnalyze(g *globals) *cobra.Command {
	f := &analyzeFlags{}
	var rules strings.Builder
	for _, r := range analyze.Rules() {
		fmt.Fprintf(&rules, "  %-18s %s\n", r.Name, r.Description)
	}
	cmd := &cobra.Command{
		Use:   "analyze [flags] IMAGE",
		Short: "Show where an image's bytes and attack surface come from",
		Long: `Analyze an image without a daemon: per-layer sizes and the instruction that
made each layer, whether it belongs to the base or the build, the largest files
and directories, bytes per package, wasted bytes (what squashing would
reclaim), and the attack surface left in the final filesystem.

IMAGE is a name in the local store, oci:DIR[:TAG], docker-archive:FILE, or a
registry reference (pulled without a daemon, only the blobs read).

The gates (--max-size, --max-wasted, --forbid, ...) make the command exit with
status 2 and say which rule failed, for CI.

Attack-surface rules (for --forbid):
` + rules.String(),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options()
			if err != nil {
				return err
			}
			opts.ReadCompressed = !strings.HasPrefix(args[0], "docker-archive:")
			img, closeStore, err := openImage(cmd, g, args[0], f.registry)
			if err != nil {
				return err
			}
			defer closeStore()
			rep, err := analyze.Analyze(cmd.Context(), img, args[0], opts)
			if err != nil {
				return err
			}
			w, done, err := outputFile(f.out)
			if err != nil {
				return err
			}
			switch f.format {
			case "json":
				err = analyze.WriteJSON(w, rep)
			case "html":
				err = analyze.WriteHTML(w, rep)
			default:
				err = analyze.WriteText(w, rep, useColor(f.out))
			}
			if cerr := done(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if fails := rep.Gates(opts); len(fails) > 0 {
				for _, g := range fails {
					fmt.Fprintf(os.Stderr, "FAILED %s: %s\n", g.Gate, g.Message)
				}
				return exitCode(2)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "text", "report format: text, json or html")
	fl.StringVarP(&f.out, "output", "o", "", "write the report to this file (default standard output)")
	fl.IntVar(&f.top, "top", 20, "how many of the largest files and directories to list")
	fl.StringVar(&f.maxSize, "max-size", "", "fail when the uncompressed image is larger (e.g. 50MB, 1.5GiB)")
	fl.StringVar(&f.maxCompressed, "max-compressed-size", "", "fail when the compressed layers are larger")
	fl.StringVar(&f.maxWasted, "max-wasted", "", "fail when more bytes than this are wasted")
	fl.Float64Var(&f.minEfficiency, "min-efficiency", 0, "fail when the efficiency (0..1) is lower")
	fl.StringSliceVar(&f.forbid, "forbid", nil, "fail when findings of these rules exist (comma-separated, see above)")
	f.registry.add(cmd)
	return cmd
}

func (f *analyzeFlags) options() (analyze.Options, error) {
	o := analyze.Options{Top: f.top, Forbid: f.forbid, MinEfficiency: f.minEfficiency}
	switch f.format {
	case "text", "json", "html":
	default:
		return o, fmt.Errorf("--format=%s: want text, json or html", f.format)
	}
	for _, s := range []struct {
		flag, v string
		dst     *int64
	}{{"max-size", f.maxSize, &o.MaxSize}, {"max-compressed-size", f.maxCompressed, &o.MaxCompressedSize}, {"max-wasted", f.maxWasted, &o.MaxWasted}} {
		if s.v == "" {
			continue
		}
		n, err := analyze.ParseSize(s.v)
		if err != nil {
			return o, fmt.Errorf("--%s: %w", s.flag, err)
		}
		*s.dst = n
	}
	if err := analyze.ValidateRules(f.forbid); err != nil {
		return o, fmt.Errorf("--forbid: %w", err)
	}
	return o, nil
}

func newDiff(g *globals) *cobra.Command {
	var format string
	var registry openFlags
	cmd := &cobra.Command{
		Use:   "diff [flags] IMAGE_A IMAGE_B",
		Short: "Compare two images: files, packages and attack surface",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("--format=%s: want text or json", format)
			}
			a, closeA, err := openImage(cmd, g, args[0], registry)
			if err != nil {
				return err
			}
			defer closeA()
			b, closeB, err := openImage(cmd, g, args[1], registry)
			if err != nil {
				return err
			}
			defer closeB()
			d, err := analyze.Diff(cmd.Context(), a, b, args[0], args[1])
			if err != nil {
				return err
			}
			if format == "json" {
				return analyze.WriteDiffJSON(os.Stdout, d)
			}
			return analyze.WriteDiffText(os.Stdout, d, useColor(""))
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "report format: text or json")
	registry.add(cmd)
	return cmd
}

// openImage opens ref from the store, a layout, an archive or a registry,
// without writing it into the store.
func openImage(cmd *cobra.Command, g *globals, ref string, o openFlags) (v1.Image, func(), error) {
	st, err := g.open()
	if err != nil {
		return nil, nil, err
	}
	img, err := o.resolver(st).Open(cmd.Context(), ref)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return img, func() { st.Close() }, nil
}

// outputFile opens the report destination; done closes it.
func outputFile(path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return os.Stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

// useColor: colours only on a terminal, and never with NO_COLOR set.
func useColor(out string) bool {
	if out != "" && out != "-" {
		return false
	}
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	return term.IsTerminal(int(os.Stdout.Fd()))
}
