package testutil

import (
	"os"
	"testing"
	"time"
)

// FixtureTime is the modification time of every file in the fixture images and
// their config's creation time, so that their digests never change.
var FixtureTime = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// DefaultPath is the PATH set in the config of the fixture images (Docker's default).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Unavailable stops t because a fixture that lives outside the test (a host
// binary, a tarball made by .ci/fixtures, a service started by .ci/run) is
// missing: a skip with the reason, or a failure when CI=true, where every
// fixture must be present and a skip would hide a broken setup.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but a test fixture is missing: "+format, args...)
		return
	}
	t.Skipf("test fixture missing: "+format, args...)
}
