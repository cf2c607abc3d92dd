package sandbox

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// lookPath finds file the way a shell would in the PATH of env (or
// DefaultPathEnv when env has none), reading the filesystem as the calling
// process sees it: the child calls it after pivot_root and after dropping
// privileges, so "/" is the sandbox's root and access checks are the
// command's. A name with a slash is used as is.
//
// The error is an *exec.Error wrapping exec.ErrNotFound when nothing
// matched, or the error of the best candidate (e.g. permission denied) when
// a file was found that cannot be executed.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
			return "", &exec.Error{Name: file, Err: err}
		}
		return file, nil
	}
	pathEnv, ok := "", false
	for _, e := range env {
		if v, found := strings.CutPrefix(e, "PATH="); found {
			pathEnv, ok = v, true
		}
	}
	if !ok {
		pathEnv = DefaultPathEnv
	}
	var firstErr error
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		err := executable(p)
		if err == nil {
			if !filepath.IsAbs(p) {
				// A relative PATH entry resolves against the working
				// directory, as in a shell.
				p = "./" + p
			}
			return p, nil
		}
		// Like a shell, skip directories and missing entries; remember
		// the first file that exists but cannot be executed.
		if firstErr == nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) && !errors.Is(err, syscall.EISDIR) {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", &exec.Error{Name: file, Err: firstErr}
	}
	return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}

// executable reports whether p is a regular file the process may execute.
func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return syscall.EISDIR
	}
	if st.Mode()&0o111 == 0 {
		return fs.ErrPermission
	}
	return accessExec(p)
}
