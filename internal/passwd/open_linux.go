package passwd

import (
	"fmt"
	"os"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// openInRoot opens name inside rootfs for reading, resolving symlinks as if
// rootfs were "/" and never leaving it (openat2 RESOLVE_IN_ROOT where the
// kernel has it). Errors name the path inside the root filesystem.
func openInRoot(rootfs, name string) (*os.File, error) {
	h, err := pathrs.OpenInRoot(rootfs, name)
	if err != nil {
		return nil, rootError(name, err)
	}
	defer h.Close()
	// Check the type on the O_PATH handle: reopening a FIFO would block.
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return nil, rootError(name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil, rootError(name, err)
	}
	return f, nil
}
