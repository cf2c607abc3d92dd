package debian

import (
	"fmt"
	"strings"
)

// VerifyError says that data from an archive failed verification (a missing
// or bad signature, an expired Release, a size or digest mismatch). It is
// never retried: the data is refused.
type VerifyError struct {
	// What names the data: "InRelease", an index path, a .deb file name.
	What string
	// Where is the URL or repository it came from, when known.
	Where string
	// Reason says what is wrong.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

// Error implements error.
func (e *VerifyError) Error() string {
	s := "verifying " + e.What
	if e.Where != "" {
		s += " from " + e.Where
	}
	return s + ": refused: " + e.Reason
}

// Unwrap returns the underlying error.
func (e *VerifyError) Unwrap() error { return e.Err }

// UnsatisfiableError says a relation could not be satisfied while resolving.
type UnsatisfiableError struct {
	// Relation is the relation as written, e.g. "libc6 (>= 2.36)".
	Relation string
	// Field is the control field it came from ("Depends", "Pre-Depends"),
	// or "request" for a requested package.
	Field string
	// Package is the package whose field holds the relation ("" for a
	// request).
	Package string
	// Chain is the path from a requested package to Package.
	Chain []string
	// Reason says why no candidate fits.
	Reason string
}

// Error implements error.
func (e *UnsatisfiableError) Error() string {
	if e.Package == "" {
		return fmt.Sprintf("cannot satisfy requested %q: %s", e.Relation, e.Reason)
	}
	return fmt.Sprintf("cannot satisfy %q (%s of %s; needed by %s): %s",
		e.Relation, e.Field, e.Package, strings.Join(e.Chain, " → "), e.Reason)
}

// Conflict is one Conflicts or Breaks relation that the chosen set violates.
type Conflict struct {
	// Package declares the relation (as "name version").
	Package string
	// Field is "Conflicts" or "Breaks".
	Field string
	// Relation is the violated relation as written.
	Relation string
	// With is the chosen package that matches the relation.
	With string
}

// ConflictError lists the Conflicts and Breaks relations that the chosen
// set of packages violates.
type ConflictError struct {
	Conflicts []Conflict
}

// Error implements error.
func (e *ConflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the chosen packages conflict (%d):", len(e.Conflicts))
	for _, c := range e.Conflicts {
		fmt.Fprintf(&b, "\n  %s %s %q, and %s is chosen", c.Package, c.Field, c.Relation, c.With)
	}
	b.WriteString("\n  prune one side or request a different alternative")
	return b.String()
}

// HTTPError is a non-success HTTP response from an archive.
type HTTPError struct {
	URL        string
	StatusCode int
	Status     string
}

// Error implements error.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("fetching %s: %s", e.URL, e.Status)
}

// Temporary reports whether retrying may help (5xx, 408, 429).
func (e *HTTPError) Temporary() bool {
	return e.StatusCode >= 500 || e.StatusCode == 408 || e.StatusCode == 429
}
