package output

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/store"
)

// TakesIndex says whether the output can hold a multi-platform result (an
// image index), with what to do instead when it cannot, so that a build
// can refuse before it runs: docker archives hold single-platform images.
func (s Spec) TakesIndex() error {
	if s.Type == TypeDocker {
		return errors.New("docker load takes single-platform images: write a multi-platform build with --output type=oci,dest=DIR (or ...,tar=true), or build one --platform")
	}
	return nil
}

// platformDir is the directory (or tar prefix) of one platform's files in
// a multi-platform type=local or type=tar output: "linux_arm64",
// "linux_arm_v7", as BuildKit names them.
func platformDir(p v1.Platform) string {
	return strings.ReplaceAll(p.String(), "/", "_")
}

// writeIndex is Write for an image index: the result of a multi-platform
// build.
func writeIndex(ctx context.Context, st *store.Store, desc v1.Descriptor, names []string, spec Spec, o Options) error {
	if err := spec.TakesIndex(); err != nil {
		return fmt.Errorf("writing output %s: %w", spec, err)
	}
	idx, err := st.Index(desc)
	if err != nil {
		return fmt.Errorf("writing output %s: %w", spec, err)
	}
	switch spec.Type {
	case TypeImage, TypeRegistry:
		return writeImage(ctx, st, desc, names, spec, o)
	case TypeOCI:
		if spec.Bool("tar") || spec.Dest == "-" {
			return writeFile(spec.Dest, o, func(w io.Writer) error {
				return writeArchive(ctx, w, []archiveImage{{idx: idx, names: names}}, false)
			})
		}
		return writeLayoutDir(spec.Dest, idx, names)
	case TypeTar:
		return writeFile(spec.Dest, o, func(w io.Writer) error {
			tw := tar.NewWriter(w)
			err := eachPlatform(idx, func(p v1.Platform, img v1.Image) error {
				return writeFilesystemTarPrefixed(ctx, tw, img, platformDir(p))
			})
			if err != nil {
				return err
			}
			return tw.Close()
		})
	case TypeLocal:
		return eachPlatform(idx, func(p v1.Platform, img v1.Image) error {
			return writeFilesystemDir(ctx, filepath.Join(spec.Dest, platformDir(p)), img)
		})
	}
	return fmt.Errorf("writing output %s: unknown type", spec)
}

// eachPlatform calls fn with each image of idx and its platform.
func eachPlatform(idx v1.ImageIndex, fn func(v1.Platform, v1.Image) error) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		if d.Platform == nil || !d.MediaType.IsImage() {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		if err := fn(*d.Platform, img); err != nil {
			return err
		}
	}
	return nil
}

// writeFilesystemTarPrefixed adds img's final filesystem to tw under dir/.
func writeFilesystemTarPrefixed(ctx context.Context, tw *tar.Writer, img v1.Image, dir string) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: archiveTime, Format: tar.FormatPAX}); err != nil {
		return err
	}
	return flattenImage(ctx, tw, img, dir)
}
