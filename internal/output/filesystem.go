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

// writeFilesystemDir extracts img's final filesystem into dir, as
// BuildKit's local exporter does: the layers flattened first (Flatten), so
// that what a layer deletes or replaces wholesale (whiteouts, opaque
// directories) is never deleted from dir, which may hold the user's own
// files; an entry of the image replaces what is in its way. Every file is
// owned by the user running whittle; device nodes are made only when
// running as root. Every layer blob is checked against its digest first.
func writeFilesystemDir(ctx context.Context, dir string, img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("writing %s: %w", dir, err)
	}
	for _, l := range layers {
		if err := verifyBlob(l); err != nil {
			return fmt.Errorf("writing %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", dir, err)
	}
	// Files are the user's, whatever the image says, as BuildKit's local
	// exporter writes them (docker buildx -o type=local gives root's files
	// to root and a user's to that user); modes, times and extended
	// attributes are kept. Devices are made only by root.
	root := !userns.Current().Rootless()
	opts := archive.ApplyOptions{NoChown: true, NoDevices: !root}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeFilesystemTar(ctx, pw, img))
	}()
	_, _, err = archive.Apply(ctx, dir, pr, opts)
	pr.CloseWithError(err) // a failed Apply stops the writer
	<-done
	if err != nil {
		return fmt.Errorf("writing %s: %w", dir, err)
	}
	return nil
}

// verifyBlob reads l's blob and checks it against its digest.
func verifyBlob(l v1.Layer) error {
	want, err := l.Digest()
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("layer %s: %w", want, err)
	}
	defer rc.Close()
	got, _, err := v1.SHA256(rc)
	if err != nil {
		return fmt.Errorf("layer %s: %w", want, err)
	}
	if got != want {
		return fmt.Errorf("layer %s has digest %s: the store is damaged", want, got)
	}
	return nil
}
