// Package cachemount keeps the directories of RUN --mount=type=cache:
// persistent across builds in the store, and handed out with BuildKit's
// sharing modes.
//
// A cache mount is named by its identity (the mount's id and what seeds
// it); the store maps an identity to a directory (store.CacheMountDir).
// Beside that main directory, <dir>.lock is its flock(2) file and <dir>.<n>/
// (with <dir>.<n>.lock) are extra instances made for sharing=private. The
// locks work across goroutines and processes alike, so two whittle builds
// on one store share cache mounts as safely as two stages of one build.
//
// Sharing modes:
//
//   - shared: any number of users at once (a shared lock on the main
//     directory, so that a locked user waits for them and they for it).
//   - locked: one user at a time; others wait (an exclusive lock).
//   - private: a directory no one else uses meanwhile: the main one when it
//     is free, else the first free extra instance, made when all are busy.
//     Instances persist and are reused, as BuildKit's are.
//
// A directory is created complete or not at all: it is prepared (seeded)
// in the store's staging area and renamed into place. A step run with the
// cache ignored (--no-cache) gets it anew (AcquireFresh; the solver asks
// once per build): the old one is renamed into the staging area and
// deleted, under the exclusive lock.
package cachemount
