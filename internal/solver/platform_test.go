package solver

import "testing"

func TestPlatformName(t *testing.T) {
	for _, tc := range []struct{ stage, target, want string }{
		{"linux/arm64", "linux/arm64", "linux/arm64"},
		{"linux/amd64", "linux/arm64", "linux/amd64->arm64"},
		{"linux/amd64", "linux/arm/v7", "linux/amd64->arm/v7"},
		{"linux/amd64", "windows/amd64", "linux/amd64->windows/amd64"},
	} {
		if got := platformName(tc.stage, tc.target); got != tc.want {
			t.Errorf("platformName(%q, %q) = %q, want %q", tc.stage, tc.target, got, tc.want)
		}
	}
}
