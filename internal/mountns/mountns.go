// Package mountns runs whittle in a private mount namespace of its own, so
// that every overlay and bind mount a build makes disappears with the
// process, even when it is killed with SIGKILL: a crashed build never leaves
// mounts behind on the host.
package mountns

// envMarker tells the re-executed child that it already runs in the
// namespace.
const envMarker = "_WHITTLE_MOUNTNS"
