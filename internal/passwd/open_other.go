//go:build !linux

package passwd

import (
	"os"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// openInRoot opens name inside rootfs for reading, resolving symlinks as if
// rootfs were "/". Errors name the path inside the root filesystem.
func openInRoot(rootfs, name string) (*os.File, error) {
	p, err := securejoin.SecureJoin(rootfs, name)
	if err != nil {
		return nil, rootError(name, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, rootError(name, err)
	}
	return f, nil
}
