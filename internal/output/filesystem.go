package output

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
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
// set (archive.Flatten). Each layer blob is checked against its digest as
// it is read.
func flattenImage(ctx context.Context, tw *tar.Writer, img v1.Image, dir string) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("flattening the image: %w", err)
	}
	open := make([]archive.Opener, len(layers))
	for i, l := range layers {
		open[i] = verifiedBlob(l)
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
// running as root. Every layer blob is checked against its digest.
func writeFilesystemDir(ctx context.Context, dir string, img v1.Image) error {
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
	_, _, err := archive.Apply(ctx, dir, pr, opts)
	pr.CloseWithError(err) // a failed Apply stops the writer
	<-done
	if err != nil {
		return fmt.Errorf("writing %s: %w", dir, err)
	}
	return nil
}

// verifiedBlob opens l's blob so that closing it fails when the blob
// does not have l's digest: the store is damaged. Close reads what the
// reader left (a gzip trailer) before it checks.
func verifiedBlob(l v1.Layer) archive.Opener {
	return func() (io.ReadCloser, error) {
		want, err := l.Digest()
		if err != nil {
			return nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", want, err)
		}
		return &verifyingReader{rc: rc, h: sha256.New(), want: want}, nil
	}
}

type verifyingReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want v1.Hash
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	return n, err
}

func (v *verifyingReader) Close() error {
	_, err := io.Copy(v.h, v.rc)
	if cerr := v.rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("layer %s: %w", v.want, err)
	}
	if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex {
		return fmt.Errorf("layer %s has digest sha256:%s: the store is damaged", v.want, got)
	}
	return nil
}
