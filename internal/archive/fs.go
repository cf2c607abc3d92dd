package archive

import "time"

// fileKind is the type of a file, as tar and overlayfs see it.
type fileKind uint8

const (
	kindRegular fileKind = iota
	kindDir
	kindSymlink
	kindChar
	kindBlock
	kindFifo
	kindSocket
)

// fileStat is what WriteDir needs to know of a file, read without
// following symlinks.
type fileStat struct {
	kind         fileKind
	perm         uint32 // permission bits with setuid, setgid and sticky (07777)
	uid, gid     uint32
	size         int64
	mtime        time.Time
	dev, ino     uint64
	nlink        uint64
	major, minor uint32 // of a device node
}

// isWhiteout reports whether s is an overlayfs whiteout: a character
// device 0/0.
func (s fileStat) isWhiteout() bool {
	return s.kind == kindChar && s.major == 0 && s.minor == 0
}

// xattr is one extended attribute of a file.
type xattr struct {
	name  string
	value []byte
}
