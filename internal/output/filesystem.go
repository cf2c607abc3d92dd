package output

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/userns"
)

// writeFilesystemTar writes img's final filesystem, its layers flattened
// with whiteouts applied, as one tar.
func writeFilesystemTar(ctx context.Context, w io.Writer, img v1.Image) error {
	tw := tar.NewWriter(w)
	if err := flattenImage(ctx, tw, img, ""); err != nil {
		return err
	}
	return tw.Close()
}

// flattenImage adds img's final filesystem to tw, under dir/ when dir is
// set (archive.Flatten).
func flattenImage(ctx context.Context, tw *tar.Writer, img v1.Image, dir string) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("flattening the image: %w", err)
	}
	open := make([]archive.Opener, len(layers))
	for i, l := range layers {
		open[i] = l.Compressed
	}
	if err := archive.Flatten(ctx, tw, open, dir); err != nil {
		return fmt.Errorf("flattening the image: %w", err)
	}
	return nil
}

// writeFilesystemDir extracts img's final filesystem into dir: each layer
// applied in order with whiteouts deleting what lower layers put there.
// Every file is owned by the user running whittle (BuildKit's local
// exporter); device nodes are made only when running as root. Every
// layer's content is checked against its diffID.
func writeFilesystemDir(ctx context.Context, dir string, img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("writing %s: %w", dir, err)
	}
	// The diffIDs come from the config: asking a stored layer would
	// decompress it once more just to learn it.
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("writing %s: %w", dir, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return fmt.Errorf("writing %s: the config lists %d layers, the manifest %d", dir, len(cfg.RootFS.DiffIDs), len(layers))
	}
	// Files are the user's, whatever the image says, as BuildKit's local
	// exporter writes them (docker buildx -o type=local gives root's files
	// to root and a user's to that user); modes, times and extended
	// attributes are kept. Devices are made only by root.
	root := !userns.Current().Rootless()
	opts := archive.ApplyOptions{NoChown: true, NoDevices: !root}
	for i, l := range layers {
		diffID := cfg.RootFS.DiffIDs[i]
		got, err := applyLayer(ctx, dir, l, opts)
		if err != nil {
			return fmt.Errorf("writing %s: layer %s: %w", dir, diffID, err)
		}
		if got != diffID.String() {
			return fmt.Errorf("writing %s: layer %s has content digest %s: the store is damaged", dir, diffID, got)
		}
	}
	if len(layers) == 0 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", dir, err)
		}
	}
	return nil
}

// applyLayer unpacks l into dir and returns the digest of its uncompressed
// content. The blob is inflated by klauspost/compress (archive.Decompress),
// faster than the standard library's gzip behind l.Uncompressed.
func applyLayer(ctx context.Context, dir string, l v1.Layer, opts archive.ApplyOptions) (string, error) {
	rc, err := l.Compressed()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	dr, _, err := archive.Decompress(rc)
	if err != nil {
		return "", err
	}
	defer dr.Close()
	got, _, err := archive.Apply(ctx, dir, dr, opts)
	return got, err
}
