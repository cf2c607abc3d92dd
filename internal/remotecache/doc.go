// Package remotecache shares whittle's build cache between machines: it
// exports step cache records, the layers they need and, on request, the
// store's RUN --mount=type=cache directories as one OCI artifact, to a
// registry (--cache-to type=registry,ref=R) or an OCI layout directory
// (type=local,dest=DIR), and imports them back (--cache-from).
//
// The artifact is an OCI image manifest whose artifactType is ArtifactType.
// Its config blob (ConfigMediaType) holds the records, keyed by the same
// machine-independent step keys the solver computes; its layers are the
// compressed layers the records need, each annotated with its diffID, and
// the tars of the cache mounts. docs/cache-format.md describes the format
// for other tools.
//
// Export (Write) names the records to export by key: the solver reports
// which keys a build used (solver.Result.Keys), and Keys picks them by
// mode: min, the target stage's chain, or max, every step of every stage.
// Layers that come from a base image are left out: a build resolves its
// bases itself. Import is lazy: Open reads the manifest and the config
// only, and a Source, as the solver's CacheSource, fetches a record's
// layers when the solver looks up its key and the local store misses.
// Every blob fetched is verified against its digest, and every layer
// against its diffID, before the store records it; a blob that fails is
// refused, the record stays a miss, and the step runs.
package remotecache
