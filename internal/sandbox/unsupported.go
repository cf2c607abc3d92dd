//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// errUnsupported is what Run returns where Linux namespaces do not exist.
var errUnsupported = errors.New("namespaces are only available on Linux")

func run(context.Context, *specs.Spec, Stdio) error {
	return fmt.Errorf("running sandbox on %s: %w", runtime.GOOS, errUnsupported)
}

func childMain() {}

func heldCapabilities() ([]string, error) {
	return nil, fmt.Errorf("reading capabilities on %s: %w", runtime.GOOS, errUnsupported)
}

func privilegedDevices() []specs.LinuxDevice { return nil }
