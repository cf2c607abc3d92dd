package resolve

import (
	"fmt"
	"strings"

	"github.com/whittle-build/whittle/internal/store"
)

// NotFoundError is returned when a docker name is neither in the local
// store (for the platform asked for) nor could be pulled from its
// registry. It matches store.ErrNotFound with errors.Is, and unwraps to the
// cause of the failed pull.
type NotFoundError struct {
	// Ref is the name, normalized ("golang:bookworm").
	Ref string
	// Registry is the registry the pull was tried from ("index.docker.io");
	// empty when it was not tried.
	Registry string
	// Platform is the platform asked for.
	Platform string
	// StorePlatforms are the platforms the store has the name for, when it
	// has it but not for Platform.
	StorePlatforms []string
	// Pull is set when the store was not consulted (Options.Pull).
	Pull bool
	// Err is why the pull failed.
	Err error
}

func (e *NotFoundError) Error() string {
	switch {
	case e.Pull:
		return fmt.Sprintf("pulling image %s from %s failed (--pull always asks the registry): %v; "+
			"drop --pull to use the local store's copy, or check the name", e.Ref, e.Registry, e.Err)
	case len(e.StorePlatforms) > 0:
		return fmt.Sprintf("image %s is in the local store for %s, not %s, and pulling it for %s from %s failed: %v; "+
			"build or load it for %s, or choose another platform with --platform",
			e.Ref, strings.Join(e.StorePlatforms, ", "), e.Platform, e.Platform, e.Registry, e.Err, e.Platform)
	}
	return fmt.Sprintf("image %s is not in the local store (whittle images) and pulling it from %s failed: %v; "+
		"make it with `whittle base ...`, load it with `whittle load`, or check the name", e.Ref, e.Registry, e.Err)
}

// Unwrap returns the pull's cause and store.ErrNotFound.
func (e *NotFoundError) Unwrap() []error { return []error{e.Err, store.ErrNotFound} }
