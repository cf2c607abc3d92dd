//go:build !linux

package mountns

import "errors"

// Ensure reports that mount namespaces need Linux.
func Ensure() error { return errors.New("whittle builds need Linux") }
