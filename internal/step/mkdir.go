package step

import (
	"fmt"
	"time"

	"github.com/whittle-build/whittle/internal/plan"
)

// Mkdir creates m.Path and its missing parents in rootfs (mode 0755, owned
// by m.User), as BuildKit does for WORKDIR. Existing directories are left
// as they are.
func Mkdir(rootfs string, m *plan.Mkdir, epoch *time.Time) error {
	owner, err := copyOwner(rootfs, m.User)
	if err != nil {
		return fmt.Errorf("WORKDIR %s: %w", m.Path, err)
	}
	cp := &copier{rootfs: rootfs, owner: owner, epoch: epoch}
	if _, err := cp.mkdirAll(m.Path); err != nil {
		return fmt.Errorf("WORKDIR %s: %w", m.Path, err)
	}
	return cp.finish()
}
