package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/whittle-build/whittle/internal/mountns"
	"github.com/whittle-build/whittle/internal/snapshot"
	"github.com/whittle-build/whittle/internal/userns"
)

func newInfo(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Say how whittle runs here: root or rootless, snapshotter, store",
		Long: `Say how builds run on this machine and why: as root or rootless (in a user
namespace, and with which id mappings), which snapshotter is used (overlayfs,
or the copying fallback and the reason overlayfs is not usable), where the
store is, and the kernel.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Probe from inside the namespaces builds run in.
			if err := mountns.Ensure(); err != nil {
				return err
			}
			st, err := g.open()
			if err != nil {
				return err
			}
			defer st.Close()
			ns := userns.Current()
			mode := "root"
			if ns.Rootless() {
				mode = "rootless"
			}
			fmt.Printf("mode:         %s (%s)\n", mode, ns.Describe())
			if ns.Rootless() {
				if ns.CanChown() {
					fmt.Println("owners:       kept (subordinate id ranges are mapped)")
				} else {
					fmt.Println("owners:       files written by builds are owned by root; add a range for this user to /etc/subuid and /etc/subgid (and install uidmap) to keep other owners")
				}
			}
			dir, err := st.TempDir("info-")
			if err != nil {
				return err
			}
			if err := snapshot.Supported(dir); err != nil {
				fmt.Printf("snapshotter:  copy (overlayfs is not usable here: %v)\n", err)
			} else if os.Getenv("WHITTLE_SNAPSHOTTER") == "copy" {
				fmt.Println("snapshotter:  copy (WHITTLE_SNAPSHOTTER=copy)")
			} else {
				fmt.Println("snapshotter:  overlayfs")
			}
			fmt.Printf("store:        %s\n", st.Root())
			fmt.Printf("opaque xattr: %s\n", st.OpaqueXattr())
			var u unix.Utsname
			if unix.Uname(&u) == nil {
				fmt.Printf("kernel:       %s %s\n", unix.ByteSliceToString(u.Release[:]), runtime.GOARCH)
			}
			return nil
		},
	}
}
