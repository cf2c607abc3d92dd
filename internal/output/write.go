package output

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/store"
)

// Write puts the image desc (in st) where spec says, named names unless
// spec has name=:
//
//   - image: tags the names in the store; with push=true also pushes each;
//   - registry: pushes to each name;
//   - oci: adds the image to the OCI image layout directory dest (other
//     images there are kept; an image of the same name is replaced), or
//     writes an OCI layout tar with tar=true;
//   - docker: writes a tar that `docker load` accepts, names as RepoTags;
//   - tar: writes the final filesystem (layers flattened, whiteouts
//     applied) as a tar;
//   - local: extracts the final filesystem into the directory dest.
//
// desc may be an image index (a multi-platform build, its images with
// their platforms): the store, registry pushes and OCI layouts (directory
// or tar) get the index; tar and local get each platform's filesystem
// under platformDir(platform), as BuildKit writes them; docker refuses it
// (Spec.TakesIndex).
//
// Files are written to a temporary name and renamed, so a failed write
// leaves no partial file; dest "-" writes to o.Stdout.
func Write(ctx context.Context, st *store.Store, desc v1.Descriptor, names []string, spec Spec, o Options) error {
	if err := spec.validate(); err != nil {
		return fmt.Errorf("writing output %s: %w", spec, err)
	}
	names = spec.Names(names)
	if spec.Bool("registry.insecure") {
		for _, n := range names {
			if ref, err := name.ParseReference(n); err == nil {
				o.Insecure = append(o.Insecure, ref.Context().RegistryStr())
			}
		}
	}
	if desc.MediaType.IsIndex() {
		return writeIndex(ctx, st, desc, names, spec, o)
	}
	switch spec.Type {
	case TypeImage, TypeRegistry:
		return writeImage(ctx, st, desc, names, spec, o)
	}
	img, err := st.Image(desc)
	if err != nil {
		return fmt.Errorf("writing output %s: %w", spec, err)
	}
	switch spec.Type {
	case TypeOCI:
		if spec.Bool("tar") || spec.Dest == "-" {
			return writeFile(spec.Dest, o, func(w io.Writer) error {
				return writeArchive(ctx, w, []archiveImage{{img: img, names: names}}, false)
			})
		}
		return writeLayoutDir(spec.Dest, img, names)
	case TypeDocker:
		return writeFile(spec.Dest, o, func(w io.Writer) error {
			return writeArchive(ctx, w, []archiveImage{{img: img, names: names}}, true)
		})
	case TypeTar:
		return writeFile(spec.Dest, o, func(w io.Writer) error { return writeFilesystemTar(ctx, w, img) })
	case TypeLocal:
		return writeFilesystemDir(ctx, spec.Dest, img)
	}
	return fmt.Errorf("writing output %s: unknown type", spec)
}

// writeImage names desc (an image or an index) in the store and, for
// type=registry or push=true, pushes it to each name.
func writeImage(ctx context.Context, st *store.Store, desc v1.Descriptor, names []string, spec Spec, o Options) error {
	push := spec.Type == TypeRegistry || spec.Bool("push")
	if push && len(names) == 0 {
		return fmt.Errorf("writing output %s: pushing needs an image name (-t or name=)", spec)
	}
	tag := st.Tag
	if o.KeepPlatforms {
		tag = st.TagPlatform
	}
	for _, n := range names {
		if err := tag(n, desc); err != nil {
			return fmt.Errorf("naming the image %s: %w", n, err)
		}
	}
	if push {
		for _, n := range names {
			if err := Push(ctx, st, desc, n, o); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFile runs fn on dest, "-" being o's standard output. A file is
// written under a temporary name beside dest, synced and renamed into
// place; on error nothing is left. A dest that is there and is not a
// regular file (/dev/null, a named pipe, /dev/stdout) is written in place,
// since a rename would replace it (a device node of the host with a
// file); a symlink to a file is followed, so that the link stays.
func writeFile(dest string, o Options, fn func(io.Writer) error) error {
	if dest == "-" {
		if err := buffered(o.stdout(), fn); err != nil {
			return fmt.Errorf("writing to standard output: %w", err)
		}
		return nil
	}
	if st, err := os.Stat(dest); err == nil {
		switch {
		case st.IsDir():
			return fmt.Errorf("writing %s: it is a directory (give a file name)", dest)
		case !st.Mode().IsRegular():
			return writeInPlace(dest, fn)
		}
		if real, err := filepath.EvalSymlinks(dest); err == nil {
			dest = real
		}
	}
	dir := filepath.Dir(dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := buffered(f, fn); err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	if err := os.Rename(f.Name(), dest); err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	ok = true
	return nil
}

// writeInPlace runs fn on dest, opened for writing as it is: a device, a
// named pipe or a socket's path that writeFile must not replace.
func writeInPlace(dest string, fn func(io.Writer) error) error {
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	err = buffered(f, fn)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	return nil
}

// buffered runs fn on a 1 MiB buffer in front of w, then flushes it.
func buffered(w io.Writer, fn func(io.Writer) error) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := fn(bw); err != nil {
		return err
	}
	return bw.Flush()
}
