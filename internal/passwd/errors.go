package passwd

import (
	"errors"
	"io/fs"
)

// rootError reports err with the path as the image sees it (name) rather
// than the host path of the root filesystem.
func rootError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
	}
	return &fs.PathError{Op: "open", Path: name, Err: err}
}
