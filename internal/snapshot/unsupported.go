//go:build !linux

package snapshot

import (
	"errors"
	"fmt"
	"runtime"
)

// errUnsupported is what every constructor returns where layers in overlay
// format (whiteout devices, trusted attributes) cannot be handled.
var errUnsupported = errors.New("snapshots need Linux")

// NewOverlay reports that overlay snapshots need Linux.
func NewOverlay(string) (Snapshotter, error) {
	return nil, fmt.Errorf("overlay snapshots on %s: %w", runtime.GOOS, errUnsupported)
}

// NewCopy reports that snapshots need Linux.
func NewCopy(string) (Snapshotter, error) {
	return nil, fmt.Errorf("copy snapshots on %s: %w", runtime.GOOS, errUnsupported)
}

// Supported reports that overlay snapshots need Linux.
func Supported(string) error {
	return fmt.Errorf("overlay snapshots on %s: %w", runtime.GOOS, errUnsupported)
}

// New reports that snapshots need Linux.
func New(workDir, _ string) (Snapshotter, error) { return NewCopy(workDir) }
