package frontend

import (
	"errors"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/whittle-build/whittle/internal/plan"
)

// Error is a Dockerfile mistake at a place in the file. Its message starts
// with the place: "Dockerfile:7: unknown instruction: RUNN (did you mean RUN?)".
type Error struct {
	// Location is where the mistake is; Line is 0 when it concerns the whole
	// file (an empty Dockerfile, an unknown target).
	Location plan.Location
	// Err is what is wrong.
	Err error
}

// Error returns the location, a colon and what is wrong.
func (e *Error) Error() string { return e.Location.String() + ": " + e.Err.Error() }

// Unwrap returns what is wrong.
func (e *Error) Unwrap() error { return e.Err }

// location converts BuildKit's source ranges to a plan location. The first
// range gives the line, the last one the end line.
func location(file string, ranges []parser.Range) plan.Location {
	loc := plan.Location{File: file}
	if len(ranges) == 0 {
		return loc
	}
	loc.Line = ranges[0].Start.Line
	loc.EndLine = ranges[len(ranges)-1].End.Line
	if loc.EndLine < loc.Line {
		loc.EndLine = loc.Line
	}
	return loc
}

// fromBuildKit turns an error of BuildKit's parser or instructions package
// into an *Error. BuildKit attaches lines as a *parser.LocationError and
// prefixes "dockerfile parse error on line N:"; the prefix is dropped since
// the location already says it.
func fromBuildKit(file string, err error) error {
	var own *Error
	if errors.As(err, &own) {
		return err
	}
	var le *parser.LocationError
	if !errors.As(err, &le) {
		return &Error{Location: plan.Location{File: file}, Err: err}
	}
	var ranges []parser.Range
	if len(le.Locations) > 0 {
		ranges = le.Locations[0]
	}
	inner := le.Unwrap()
	if inner == nil {
		inner = err
	}
	return &Error{Location: location(file, ranges), Err: inner}
}

// at wraps err with the location of ranges unless it already has one.
func at(file string, ranges []parser.Range, err error) error {
	if err == nil {
		return nil
	}
	var own *Error
	if errors.As(err, &own) {
		return err
	}
	return &Error{Location: location(file, ranges), Err: err}
}
