package main

import (
	"errors"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/whittle-build/whittle/internal/container"
	"github.com/whittle-build/whittle/internal/mountns"
	"github.com/whittle-build/whittle/internal/sandbox"
	"github.com/whittle-build/whittle/internal/snapshot"
	"github.com/whittle-build/whittle/internal/store"
)

func newRun(g *globals) *cobra.Command {
	var (
		o          container.Options
		entrypoint string
		rm, tty    bool
		interact   bool
		volumes    []string
		platform   string
	)
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE [COMMAND [ARG...]]",
		Short: "Run an image's command in the sandbox RUN steps use (for smoke tests)",
		Long: `Run an image from the local store in the same sandbox as RUN steps, on a
throw-away snapshot of its layers; changes are discarded (--rm is implied).
The exit status is the process's.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			want, err := runPlatform(platform)
			if err != nil {
				return err
			}
			for _, v := range volumes {
				vol, err := container.ParseVolume(v)
				if err != nil {
					return err
				}
				o.Volumes = append(o.Volumes, vol)
			}
			if err := mountns.Ensure(); err != nil {
				return err
			}
			st, err := g.open()
			if err != nil {
				return err
			}
			defer st.Close()
			d, err := st.Lookup(args[0])
			if err != nil {
				return err
			}
			// The host's image of a multi-platform one, or --platform's.
			img, _, err := st.PlatformImage(d, want)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if err := checkPlatform(args[0], img, want); err != nil {
				return err
			}
			dir, err := st.TempDir("run-")
			if err != nil {
				return err
			}
			snap, err := snapshot.New(dir, st.OverlayStamp())
			if err != nil {
				return err
			}
			o.Args = args[1:]
			if cmd.Flags().Changed("entrypoint") {
				o.Entrypoint = []string{}
				if entrypoint != "" {
					o.Entrypoint = []string{entrypoint}
				}
			}
			o.Terminal = tty && term.IsTerminal(int(os.Stdin.Fd()))
			if interact || o.Terminal {
				o.Stdin = os.Stdin
			}
			o.Stdout, o.Stderr = os.Stdout, os.Stderr
			err = container.Run(cmd.Context(), st, snap, img, o)
			// The process's status is the command's, as docker run's is:
			// 126 and 127 (not executable, not found) after saying why.
			var ee *sandbox.ExitError
			if errors.As(err, &ee) {
				if ee.Err != nil {
					fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
				}
				return exitCode(ee.Code)
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVar(&rm, "rm", true, "remove the container's changes when it exits (always)")
	fl.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-terminal")
	fl.BoolVarP(&interact, "interactive", "i", false, "keep standard input open")
	fl.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable (KEY=VALUE); repeatable")
	fl.StringVarP(&o.User, "user", "u", "", "user to run as (name or uid[:gid])")
	fl.StringVarP(&o.Workdir, "workdir", "w", "", "working directory")
	fl.StringArrayVarP(&volumes, "volume", "v", nil, "bind a host path into the container (HOST:CONTAINER[:ro|rw]); repeatable")
	fl.StringVar(&entrypoint, "entrypoint", "", "override the image's ENTRYPOINT")
	fl.StringVar(&o.Network, "network", "host", "network: host or none")
	fl.StringVar(&platform, "platform", "", "run this platform's image of a multi-platform one (default the host's); another architecture's runs through a binfmt_misc emulator")
	return cmd
}

// runPlatform parses --platform; nil when not given.
func runPlatform(s string) (*v1.Platform, error) {
	if s == "" {
		return nil, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return nil, fmt.Errorf("--platform %q: %w", s, err)
	}
	return p, nil
}

// checkPlatform refuses an image of another platform than --platform asks
// for, as docker run --platform does.
func checkPlatform(ref string, img v1.Image, want *v1.Platform) error {
	if want == nil {
		return nil
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	have := v1.Platform{} // an image that declares none is for no platform asked
	if p := cfg.Platform(); p != nil {
		have = *p
	}
	if !store.Satisfies(have, *want) {
		return fmt.Errorf("%s is an image for %s, not %s", ref, have, want)
	}
	return nil
}
