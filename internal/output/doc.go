// Package output writes a built image where the user asked for it: names
// in the local store, a registry, an OCI image layout (directory or tar), a
// docker-archive tar, or the image's final filesystem as a tar or a
// directory. It parses docker buildx's --output syntax (Parse), and also
// holds `whittle save`, `whittle load` and `whittle push`.
//
// The archives that Save and the docker/oci outputs write are OCI image
// layouts in a tar (oci-layout, index.json, blobs/sha256/...). The docker
// format adds docker's manifest.json pointing at the same blobs, the
// layout `docker save` uses since Docker 25 (layers stay compressed as
// stored, which docker load accepts; no legacy "repositories" file), so
// one file is read by docker load, skopeo (docker-archive: and
// oci-archive:) and Load alike, and a save/load round trip keeps every
// digest: blobs are copied byte for byte, never recompressed.
//
// In index.json each image's entry carries its full name in
// io.containerd.image.name and its tag in org.opencontainers.image.ref.name,
// as containerd, BuildKit and docker write them, so `skopeo inspect
// oci:DIR:TAG` finds it.
package output
