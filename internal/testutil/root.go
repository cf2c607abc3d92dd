// Package testutil holds helpers shared by whittle's tests: skip rules for
// tests that need root or the network, and fixtures the tests make themselves.
package testutil

import (
	"os"
	"testing"
)

// RequireRoot skips t unless the process runs as root. When WHITTLE_TEST_ROOT
// is set (CI sets it), a missing root fails the test instead: CI must never
// pass by skipping.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("WHITTLE_TEST_ROOT") != "" {
		t.Fatal("WHITTLE_TEST_ROOT is set but the test is not running as root")
	}
	t.Skip("needs root (namespaces, mounts, ownership); run as root or in CI")
}

// RequireNetwork skips t when WHITTLE_TEST_OFFLINE is set, for tests that
// reach the Debian mirror or another remote service.
func RequireNetwork(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("WHITTLE_TEST_OFFLINE") != "" {
		t.Skipf("needs the network (%s) and WHITTLE_TEST_OFFLINE is set", what)
	}
}
