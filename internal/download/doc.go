// Package download fetches the http(s) sources of ADD as BuildKit's http
// source does: the content is kept in the store as a blob named by its
// sha256, the server's ETag is remembered so that a later build asks with
// If-None-Match and downloads only what changed, the Last-Modified time is
// kept for the file's mtime, and an expected digest (ADD --checksum) is
// verified before anything is used.
//
// What a URL resolved to last is a store cache record under a key derived
// from the URL (never a step key), holding the URL, ETag, Last-Modified
// and digest and referencing the blob, so that Prune keeps the blob as
// long as the record and drops both with the build cache.
package download
