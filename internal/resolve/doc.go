// Package resolve turns an image reference, as written in a FROM line, a
// --build-context or on the command line, into an image.
//
// It picks a source and nothing more:
//
//   - a name the local store has, for the platform asked for, is used
//     without touching the network;
//   - any other docker name ("golang:bookworm", "127.0.0.1:5000/x/y:t",
//     "x@sha256:...") is pulled from its registry: the manifest for the
//     platform is chosen from an index, its blobs are written into the
//     store and the name is tagged there;
//   - "oci-layout://DIR[:TAG|@DIGEST]" (BuildKit's form), "oci:DIR[:TAG]"
//     (skopeo's) and "docker-archive:FILE[:NAME|:@N]" are read from disk
//     and imported into the store without a name, so the store can find
//     them by digest;
//   - "docker-image://REF" and "docker://REF" are docker names.
//
// Open gives the same images without writing them into the store, reading
// registry blobs lazily, for commands that only look (whittle analyze).
//
// Registry access (TLS, plain HTTP, credentials) follows internal/registry.
package resolve
