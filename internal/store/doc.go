// Package store is whittle's local image store: an OCI image layout that
// skopeo, umoci and crane read directly, plus the build engine's own state
// beside it.
//
// On disk, under the root directory:
//
//	oci-layout                  {"imageLayoutVersion": "1.0.0"}
//	index.json                  the named images: one manifest descriptor per name,
//	                            the name in org.opencontainers.image.ref.name
//	blobs/sha256/<hex>          manifests, configs and compressed layers
//	layers/sha256/<hex>.json    per diffID: the compressed blobs known for that layer
//	snapshots/sha256/<hex>/     a layer unpacked in overlayfs format, named by diffID;
//	                            present means complete (its files are not synced)
//	snapshots/unsynced/<boot>   the snapshots committed in boot <boot> (the kernel's
//	                            boot_id) since the last syncfs; in a later boot, Open
//	                            removes them (see unsynced.go); flock unsynced.lock
//	cache/sha256/<hex>.json     build cache records, named by step cache key
//	contexts/<hex>.sums         per build-context directory: file digests by stat (one line per file)
//	mounts/<hex>/               a RUN --mount=type=cache directory, hex the sha256 of
//	                            its identity (see CacheMountDir); beside it its flock
//	                            file <hex>.lock and private instances <hex>.<n>/
//	tmp/                        staging; every write starts here and is renamed in
//	gc.lock, index.lock,         flock(2) files
//	layers.lock
//
// Every write is atomic: a file or directory is prepared under tmp/ (same
// filesystem), synced where it matters, and renamed into place. A name that
// exists is therefore complete, and a process killed at any point leaves at
// worst garbage under tmp/, which the next Open sweeps. Writers of the same
// content race harmlessly: the first rename wins and the loser discards its
// copy. index.json is rewritten whole under index.lock. Builds hold gc.lock
// shared for their whole run; Prune takes it exclusively, so it never removes
// what a running build uses.
package store
