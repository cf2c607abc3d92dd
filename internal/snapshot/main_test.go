package snapshot

import (
	"os"
	"testing"

	"github.com/whittle-build/whittle/internal/sandbox"
)

func TestMain(m *testing.M) {
	// The sandbox test re-executes this binary as the sandbox's child.
	if sandbox.Init() {
		return
	}
	os.Exit(m.Run())
}
