package store

import "golang.org/x/sys/unix"

// errNotEmpty is what rename(2) returns when the destination is a non-empty directory.
var errNotEmpty error = unix.ENOTEMPTY
