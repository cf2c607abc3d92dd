package sandbox

import (
	"context"
	"testing"

	"github.com/whittle-build/whittle/internal/testutil"
)

// BenchmarkRun measures a sandboxed `true`: spec, mount stubs, re-exec,
// namespaces, mounts, pivot_root, exec, wait, cleanup.
func BenchmarkRun(b *testing.B) {
	testutil.RequireRoot(b)
	root := newRootfs(b)
	for _, network := range []string{NetworkHost, NetworkNone} {
		b.Run("network="+network, func(b *testing.B) {
			spec, err := NewSpec(root, Options{Args: []string{"true"}, Network: network})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := Run(context.Background(), spec, Stdio{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
