//go:build unix

package sandbox

import "golang.org/x/sys/unix"

// accessExec checks execute permission with the process's credentials.
func accessExec(p string) error {
	return unix.Access(p, unix.X_OK)
}
