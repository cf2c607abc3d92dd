// Package compat holds the compatibility proof of whittle build: the
// Dockerfiles of examples/ and the feature cases of testdata/compat are built
// by whittle, by buildah and by a current BuildKit, and the final
// filesystems and image configs must compare equal apart from the
// differences that testdata/compat/README.md documents.
//
// The package has no code of its own: everything is in its tests, which
// need root, buildah, a registry on loopback that both peers pull the
// fixture bases from, and (when it runs) buildkitd. See compat_test.go.
package compat
