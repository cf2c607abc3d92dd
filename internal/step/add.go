package step

import (
	"archive/tar"
	"bufio"
	"fmt"
	"os"
	"path"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/userns"
)

// addArchive unpacks srcPath into the directory dst when it is a tar
// archive, plain or compressed (gzip, bzip2, xz, zstd), as ADD does with
// local files. It reports whether srcPath was an archive.
func (cp *copier) addArchive(srcPath, dst string) (bool, error) {
	ok, err := isTar(srcPath)
	if err != nil || !ok {
		return false, err
	}
	f, err := os.Open(srcPath)
	if err != nil {
		return true, err
	}
	defer f.Close()
	r, _, err := archive.Decompress(f)
	if err != nil {
		return true, fmt.Errorf("unpacking %s: %w", path.Base(srcPath), err)
	}
	defer r.Close()
	// Unpack beside the root filesystem, then copy in: the copy applies
	// --chown/--chmod and resolves the destination safely like any COPY.
	tmp, err := os.MkdirTemp(cp.scratch, "add-")
	if err != nil {
		return true, err
	}
	defer os.RemoveAll(tmp)
	ns := userns.Current()
	if _, _, err := archive.Apply(cp.ctx, tmp, r, archive.ApplyOptions{NoDevices: ns.Rootless(), NoChown: !ns.CanChown()}); err != nil {
		return true, fmt.Errorf("unpacking %s: %w", path.Base(srcPath), err)
	}
	keep := cp.keepOwner
	cp.keepOwner = cp.owner == nil
	defer func() { cp.keepOwner = keep }()
	return true, cp.copyTree(Source{Root: tmp}, ".", dst)
}

// isTar reports whether the file holds a tar archive, possibly compressed.
func isTar(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r, _, err := archive.Decompress(bufio.NewReader(f))
	if err != nil {
		return false, nil
	}
	defer r.Close()
	_, err = tar.NewReader(r).Next()
	return err == nil, nil
}
