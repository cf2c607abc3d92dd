package testutil

import (
	"fmt"
	"testing"
)

// recordTB records Skipf and Fatalf instead of stopping the test.
type recordTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recordTB) Helper() {}
func (r *recordTB) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
}
func (r *recordTB) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
}

func TestUnavailable(t *testing.T) {
	tests := []struct {
		ci              string
		skipped, failed bool
	}{
		{"", true, false},
		{"false", true, false},
		{"true", false, true},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recordTB{TB: t}
			Unavailable(r, "thing %d", 7)
			if r.skipped != tt.skipped || r.failed != tt.failed {
				t.Errorf("skipped=%v failed=%v, want %v %v", r.skipped, r.failed, tt.skipped, tt.failed)
			}
			if r.msg != "test fixture missing: thing 7" && r.msg != "CI=true but a test fixture is missing: thing 7" {
				t.Errorf("message %q", r.msg)
			}
		})
	}
}
