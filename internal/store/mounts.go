package store

import (
	"crypto/sha256"
	"encoding/hex"
)

// CacheMountDir returns the directory of the RUN --mount=type=cache whose
// identity is key (its id and what seeds it): mounts/<hex>, hex being the
// sha256 of key, so that any string is a safe name and one identity maps
// to the same name on every machine. The directory may not exist yet.
// Package cachemount owns what is inside it and the lock and private
// instance files beside it (mounts/<hex>.lock, mounts/<hex>.<n>/).
func (s *Store) CacheMountDir(key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.path("mounts", hex.EncodeToString(sum[:]))
}
