package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
)

// Entry is one entry of a layer tar, as Walk hands it over.
type Entry struct {
	// Header is the entry's tar header, unchanged.
	Header *tar.Header
	// Path is the entry's clean path relative to the layer root ("" for
	// the root). For a whiteout it is the path the whiteout acts on: the
	// deleted path, or the directory made opaque.
	Path string
	// Whiteout says whether the entry is a whiteout, and which kind.
	Whiteout Whiteout
}

// WalkFunc is called by Walk for each entry. content reads a regular
// file's data and is valid only during the call. An error stops the walk
// and is returned by Walk.
type WalkFunc func(e Entry, content io.Reader) error

// Walk reads a layer tar from r, compressed or not (see Decompress), and
// calls fn for each entry in order. It decodes whiteouts, skips aufs
// bookkeeping entries (".wh..wh.*" other than the opaque marker) and PAX
// global headers, and refuses an entry whose name leaves the root with an
// error wrapping ErrUnsafePath. It stops with ctx's error when ctx is done.
func Walk(ctx context.Context, r io.Reader, fn WalkFunc) error {
	dr, _, err := Decompress(ctxReader{ctx, r})
	if err != nil {
		return fmt.Errorf("walking layer: %w", err)
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("walking layer: reading tar: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		rel, err := CleanPath(hdr.Name)
		if err != nil {
			return fmt.Errorf("walking layer: %w", err)
		}
		kind, target, ok := classifyWhiteout(rel)
		if !ok {
			return fmt.Errorf("walking layer: entry %q: %w", hdr.Name, errors.New("whiteout names no file"))
		}
		if kind == WhiteoutMeta {
			continue
		}
		if err := fn(Entry{Header: hdr, Path: target, Whiteout: kind}, tr); err != nil {
			return err
		}
	}
}
