package solver

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/download"
	"github.com/whittle-build/whittle/internal/plan"
	"github.com/whittle-build/whittle/internal/step"
)

// urlFile returns the file an ADD source URL stands for: with a checksum,
// the content that has it (no request when the store has it from this
// URL); else what the server holds now (a conditional request).
func (s *Solver) urlFile(ctx context.Context, u, checksum string) (*download.File, error) {
	return s.urls.get(u+"\x00"+checksum, func() (*download.File, error) {
		if checksum == "" {
			return s.downloads.Resolve(ctx, u)
		}
		want, err := v1.NewHash(checksum)
		if err != nil || want.Algorithm != "sha256" {
			return nil, fmt.Errorf("--checksum=%s: want sha256:<64 hex digits>", checksum)
		}
		return s.downloads.Fetch(ctx, u, want)
	})
}

// urlInput identifies what ADD of u puts in the layer, as BuildKit's http
// source keys it: the file name, the content's digest and its time.
func (s *Solver) urlInput(ctx context.Context, u, checksum string) (string, error) {
	f, err := s.urlFile(ctx, u, checksum)
	if err != nil {
		return "", err
	}
	in := fmt.Sprintf("url %q %s", download.Name(u), f.Digest)
	if !f.LastModified.IsZero() {
		in += " " + f.LastModified.UTC().Format(time.RFC3339)
	}
	return in, nil
}

// copyURL adds the download of u to rootfs as ADD does: a file named after
// the URL's last path element, mode 0600 (before --chmod), owned by root
// (before --chown), with the server's Last-Modified time (else the epoch
// 1970), not unpacked unless --unpack=true.
func (s *Solver) copyURL(ctx context.Context, rootfs string, c *plan.Copy, u string, o step.CopyOptions) error {
	f, err := s.urlFile(ctx, u, c.Checksum)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(o.Scratch, "url-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	name := download.Name(u)
	if err := s.writeDownload(f, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("ADD %s: %w", u, err)
	}
	one := *c
	one.Sources = []string{name}
	one.Add = c.Unpack != nil && *c.Unpack
	one.From = plan.Source{}
	return step.Copy(ctx, rootfs, &one, step.Source{Root: dir}, o)
}

func (s *Solver) writeDownload(f *download.File, dst string) error {
	in, err := s.downloads.Open(f)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	mtime := time.Unix(0, 0)
	if !f.LastModified.IsZero() {
		mtime = f.LastModified
	}
	return os.Chtimes(dst, mtime, mtime)
}
