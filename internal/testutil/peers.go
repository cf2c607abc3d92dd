package testutil

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Defaults of where .ci/run and bench/peers.sh put BuildKit.
const (
	DefaultBuildctl     = "/var/tmp/bk/bin/buildctl"
	DefaultBuildkitAddr = "unix:///run/bk/buildkitd.sock"
)

// Tool returns the path of a host program that a test uses as an oracle
// (skopeo, umoci, runc, buildah, ...), skipping the test when it is not
// installed (failing when CI=true, where .ci/run installs them all).
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "%s is not installed (.ci/run installs it with apt-get): %v", name, err)
	}
	return path
}

// Buildkit returns the buildctl binary and the buildkitd address of the
// current BuildKit that .ci/run starts as the reference for Dockerfile
// semantics ($WHITTLE_TEST_BUILDCTL, $WHITTLE_TEST_BUILDKIT_ADDR, or the
// defaults of bench/peers.sh). Run builds with
//
//	buildctl --addr ADDR build --frontend dockerfile.v0 --local context=DIR --local dockerfile=DIR --output type=local,dest=OUT
//
// The test is skipped when buildkitd does not answer (failed when CI=true,
// unless WHITTLE_CI_NO_BUILDKIT is set, as .ci/run then starts none).
func Buildkit(t testing.TB) (buildctl, addr string) {
	t.Helper()
	buildctl = envOr("WHITTLE_TEST_BUILDCTL", DefaultBuildctl)
	addr = envOr("WHITTLE_TEST_BUILDKIT_ADDR", DefaultBuildkitAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, buildctl, "--addr", addr, "debug", "workers").CombinedOutput()
	if err != nil {
		if os.Getenv("WHITTLE_CI_NO_BUILDKIT") != "" {
			t.Skipf("BuildKit not started (WHITTLE_CI_NO_BUILDKIT is set)")
		}
		Unavailable(t, "no BuildKit at %s with %s (bench/peers.sh build-buildkit, then start): %v %s", addr, buildctl, err, out)
	}
	return buildctl, addr
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
