package frontend

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// warnings collects the non-fatal findings of one Lower call, formatted with
// their location: "Dockerfile:5: JSONArgsRecommended: JSON arguments ...".
// It is used from one goroutine only.
type warnings struct {
	file string
	list []string
	// violations are the linter's findings alone.
	violations []string
}

func newWarnings(file string) *warnings { return &warnings{file: file} }

// add records one finding at ranges.
func (w *warnings) add(ranges []parser.Range, msg string) {
	w.list = append(w.list, location(w.file, ranges).String()+": "+msg)
}

// warn is the linter's callback: one rule violation.
func (w *warnings) warn(rule, _, _, msg string, ranges []parser.Range) {
	w.add(ranges, rule+": "+msg)
	w.violations = append(w.violations, w.list[len(w.list)-1])
}

// linter builds BuildKit's linter as configured by a "# check=" directive,
// and notes the directives whittle accepts but does not act on in full.
func (w *warnings) linter(dt []byte) (*linter.Linter, error) {
	if syntax, _, loc, ok := parser.DetectSyntax(dt); ok {
		w.add(loc, fmt.Sprintf("syntax directive %q ignored: whittle uses its built-in Dockerfile frontend (BuildKit v0.34 grammar)", syntax))
	}
	check, _, loc, ok := parser.ParseDirective("check", dt)
	cfg, err := linter.ParseLintOptions(check)
	if err != nil {
		return nil, fmt.Errorf("parsing check directive: %w", err)
	}
	if ok {
		w.add(loc, fmt.Sprintf("check directive %q applied to the build checks below", check))
	}
	cfg.Warn = w.warn
	return linter.New(cfg), nil
}

// continuationWarnings reports the parser's empty continuation lines through
// the linter, as BuildKit does.
func (w *warnings) continuationWarnings(res *parser.Result, lint *linter.Linter) {
	for _, pw := range res.Warnings {
		if pw.URL == linter.RuleNoEmptyContinuation.URL && pw.Location != nil {
			lint.Run(&linter.RuleNoEmptyContinuation, []parser.Range{*pw.Location}, linter.RuleNoEmptyContinuation.Format())
		}
	}
}

// warnUnconsumedArgs reports --build-arg values no ARG declared, in the words
// of docker build.
func (l *lowering) warnUnconsumedArgs() {
	var unused []string
	for k := range l.buildArgs {
		if !l.consumed[k] && !predefinedArg(k) {
			unused = append(unused, k)
		}
	}
	if len(unused) == 0 {
		return
	}
	slices.Sort(unused)
	l.warns.list = append(l.warns.list, fmt.Sprintf("[Warning] One or more build-args [%s] were not consumed", strings.Join(unused, " ")))
}
