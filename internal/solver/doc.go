// Package solver runs a plan: it schedules the stages as a DAG (independent
// stages concurrently, bounded by Jobs), derives a cache key for every
// operation from its parent's key, the operation as expanded and the
// content of what it reads, skips operations whose key the store has a
// record for, and carries out the rest on snapshots of the stage's layers,
// turning each one's changes into a new layer named by its diffID.
//
// Besides the operations themselves it provides what they read: RUN's
// mounts (mounts.go: bind views of stages, images and build contexts,
// persistent cache directories, tmpfs, secrets and forwarded ssh agents,
// none of which leaves anything in the layer), ADD's http(s) sources
// (url.go: keyed by the content the server holds now), and the stage that
// starts FROM a build-context directory (contextbase.go).
//
// It knows nothing of Dockerfile syntax (that is the frontend's job) nor of
// how a single instruction touches a filesystem (that is package step's).
package solver
