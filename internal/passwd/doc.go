// Package passwd resolves a Dockerfile USER value ("name", "uid", "name:group",
// "uid:gid" and mixes) to numeric ids by reading /etc/passwd and /etc/group
// inside a root filesystem, the way runc and BuildKit do. The files are opened
// through filepath-securejoin, so a symlink in the image cannot make the lookup
// read a file outside the root filesystem.
package passwd
