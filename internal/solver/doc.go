// Package solver runs a plan: it schedules the stages as a DAG (independent
// stages concurrently, bounded by Jobs), derives a cache key for every
// operation from its parent's key, the operation as expanded and the
// content of what it reads, skips operations whose key the store has a
// record for, and carries out the rest on snapshots of the stage's layers,
// turning each one's changes into a new layer named by its diffID.
//
// It knows nothing of Dockerfile syntax (that is the frontend's job) nor of
// how a single instruction touches a filesystem (that is package step's).
package solver
