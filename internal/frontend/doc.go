// Package frontend lowers a Dockerfile into a plan: the stages a build target
// needs, each a list of fully expanded operations.
//
// It is pure. It reads no files and runs nothing; the only outside call is the
// ImageResolver it is given, which turns the images named in FROM, COPY --from
// and RUN --mount from= into digests and configs. The grammar is BuildKit's own
// (its parser, instructions and shell packages) and the semantics follow
// BuildKit's dockerfile2llb converter: argument scoping, variable expansion,
// image history (created_by) strings, ONBUILD triggers, target pruning and the
// linter's warnings.
package frontend
