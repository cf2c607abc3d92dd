package step

import (
	"fmt"
	"time"

	"github.com/whittle-build/whittle/internal/passwd"
	"github.com/whittle-build/whittle/internal/plan"
)

// Mkdir creates m.Path and its missing parents in rootfs (mode 0755, owned
// by m.User by BuildKit's rules: passwd.LookupOwnerOrRoot), as BuildKit
// does for WORKDIR. Existing directories are left as they are. Errors do
// not repeat the instruction: the caller names the step.
func Mkdir(rootfs string, m *plan.Mkdir, epoch *time.Time) error {
	var owner *passwd.IDs
	if m.User != "" {
		ids, err := passwd.LookupOwnerOrRoot(rootfs, m.User)
		if err != nil {
			return fmt.Errorf("the owner of %s (USER %s): %w", m.Path, m.User, err)
		}
		owner = &ids
	}
	cp := &copier{rootfs: rootfs, owner: owner, epoch: epoch}
	if _, err := cp.mkdirAll(m.Path); err != nil {
		return err
	}
	return cp.finish()
}
