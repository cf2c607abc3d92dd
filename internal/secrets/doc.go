// Package secrets holds the secrets of a build (`whittle build --secret`)
// and puts one where a RUN --mount=type=secret reads it: a file in a
// private directory on a memory filesystem, so that its bytes never reach
// the disk, a layer, a cache key or a log.
package secrets
