package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/whittle-build/whittle/internal/output"
	"github.com/whittle-build/whittle/internal/registry"
)

func newPush(g *globals) *cobra.Command {
	var (
		regFlags registryFlags
		jobs     int
	)
	cmd := &cobra.Command{
		Use:   "push [flags] NAME [DESTINATION]",
		Short: "Push an image from the local store to a registry",
		Long: `Push an image from the local store to a registry: to NAME itself (a name like
registry.example/team/app:1.0), or to DESTINATION. The manifest is pushed
byte for byte, so the digest stays the same. Blobs the registry has are
skipped, layers it holds in another repository are mounted instead of
uploaded, uploads run in parallel, and a push that was interrupted uploads
only what is missing when run again. Credentials come from
~/.docker/config.json and its credential helpers (whittle login writes them).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.open()
			if err != nil {
				return err
			}
			defer st.Close()
			desc, err := st.Lookup(args[0])
			if err != nil {
				return err
			}
			dest := args[0]
			if len(args) == 2 {
				dest = args[1]
			}
			if err := output.Push(cmd.Context(), st, desc, dest, output.Options{Insecure: regFlags.insecure, CAFile: regFlags.caFile, Jobs: jobs}); err != nil {
				return err
			}
			fmt.Printf("%s: pushed %s\n", dest, desc.Digest)
			return nil
		},
	}
	regFlags.add(cmd)
	cmd.Flags().IntVar(&jobs, "jobs", 0, "how many blobs to upload at once (default 4)")
	return cmd
}

func newLogin(g *globals) *cobra.Command {
	var (
		user, password string
		passwordStdin  bool
		regFlags       registryFlags
	)
	cmd := &cobra.Command{
		Use:   "login [flags] [REGISTRY]",
		Short: "Log in to a registry (writes ~/.docker/config.json as docker login does)",
		Long: `Check a user name and password against a registry and, when it accepts them,
store them as docker login does: in the credential helper configured in
~/.docker/config.json, else in the file itself (base64, not encrypted).
REGISTRY defaults to Docker Hub.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := "docker.io"
			if len(args) == 1 {
				reg = args[0]
			}
			if passwordStdin {
				if password != "" {
					return fmt.Errorf("--password and --password-stdin are mutually exclusive")
				}
				b, err := io.ReadAll(os.Stdin)
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			in := bufio.NewReader(os.Stdin)
			if user == "" {
				if passwordStdin || !term.IsTerminal(int(os.Stdin.Fd())) {
					return fmt.Errorf("no user name: give --username")
				}
				fmt.Fprint(os.Stderr, "Username: ")
				line, err := in.ReadString('\n')
				if err != nil {
					return err
				}
				user = strings.TrimSpace(line)
			}
			if password == "" {
				if !term.IsTerminal(int(os.Stdin.Fd())) {
					return fmt.Errorf("no password: give --password-stdin and pipe it in")
				}
				fmt.Fprint(os.Stderr, "Password: ")
				b, err := term.ReadPassword(int(os.Stdin.Fd()))
				fmt.Fprintln(os.Stderr)
				if err != nil {
					return err
				}
				password = string(b)
			}
			if password != "" && !passwordStdin && cmd.Flags().Changed("password") {
				fmt.Fprintln(os.Stderr, "WARNING! Using --password on the command line is insecure. Use --password-stdin.")
			}
			if err := registry.Login(cmd.Context(), reg, user, password, registry.Options{Insecure: regFlags.insecure, CAFile: regFlags.caFile}); err != nil {
				return err
			}
			fmt.Println("Login Succeeded")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&user, "username", "u", "", "user name")
	fl.StringVarP(&password, "password", "p", "", "password (prefer --password-stdin)")
	fl.BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	regFlags.add(cmd)
	return cmd
}
