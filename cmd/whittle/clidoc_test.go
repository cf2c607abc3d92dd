package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/cli.md from the commands")

// TestCLIReference: docs/cli.md is what the commands' own help says, so
// the reference cannot drift from the code. After changing a command:
//
//	go test ./cmd/whittle -run TestCLIReference -update
func TestCLIReference(t *testing.T) {
	got := cliReference(newRoot())
	path := filepath.Join("..", "..", "docs", "cli.md")
	if *updateDocs {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("docs/cli.md differs from the commands' help; run: go test ./cmd/whittle -run TestCLIReference -update")
	}
}

// cliReference renders every command's usage, description and flags.
func cliReference(root *cobra.Command) string {
	// The store's default depends on who runs the command.
	root.PersistentFlags().Lookup("root").DefValue = "/var/lib/whittle as root, $XDG_DATA_HOME/whittle otherwise"
	var b strings.Builder
	b.WriteString("# whittle command reference\n\n")
	b.WriteString("Generated from the commands' own help (`go test ./cmd/whittle -run TestCLIReference\n-update`); a test fails when this file and the code disagree.\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		fmt.Fprintf(&b, "\n## %s\n\n```\n%s\n```\n\n", c.CommandPath(), c.UseLine())
		desc := c.Long
		if desc == "" {
			desc = c.Short
		}
		b.WriteString(strings.TrimSpace(desc) + "\n")
		if flags := c.LocalFlags().FlagUsagesWrapped(100); flags != "" {
			fmt.Fprintf(&b, "\n```\n%s```\n", flags)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return b.String()
}
