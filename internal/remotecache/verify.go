package remotecache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/store"
)

// readVerified reads the small blob desc from r whole and checks its size
// and digest.
func readVerified(r io.Reader, desc v1.Descriptor) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, desc.Size+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", desc.Digest, err)
	}
	if int64(len(b)) != desc.Size {
		return nil, fmt.Errorf("blob %s has %d bytes, the manifest says %d: it was tampered with or damaged", desc.Digest, len(b), desc.Size)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); desc.Digest.Algorithm != "sha256" || got != desc.Digest.Hex {
		return nil, fmt.Errorf("blob %s has digest sha256:%s: it was tampered with or damaged", desc.Digest, got)
	}
	return b, nil
}

// storeLayer writes the compressed layer read from r into st as the blob
// desc, checking both its digest and that it decompresses to content with
// the given diffID; on any mismatch nothing is recorded for the layer. The
// decompression runs alongside the copy. The store then knows the blob as
// a compressed form of the layer (Store.AddLayerBlob).
func storeLayer(st *store.Store, r io.Reader, desc v1.Descriptor, diffID v1.Hash) error {
	pr, pw := io.Pipe()
	sums := make(chan error, 1)
	go func() {
		sums <- checkDiffID(pr, diffID)
	}()
	_, _, err := st.WriteBlob(io.TeeReader(r, pw), desc.Digest)
	pw.CloseWithError(err)
	derr := <-sums
	if err != nil {
		return fmt.Errorf("fetching layer %s: %w", diffID, err)
	}
	if derr != nil {
		// WriteBlob does not read r when the blob appeared meanwhile
		// (another build fetched it): check the stored copy.
		if derr = verifyStored(st, desc, diffID); derr != nil {
			return derr
		}
	}
	return st.AddLayerBlob(diffID, desc)
}

// checkDiffID decompresses r and checks the content's digest; it reads r
// to its end whatever happens, so the writer never blocks.
func checkDiffID(r *io.PipeReader, diffID v1.Hash) (err error) {
	defer func() {
		if err != nil {
			r.CloseWithError(err)
		} else {
			_, err = io.Copy(io.Discard, r)
		}
	}()
	zr, _, err := archive.Decompress(r)
	if err != nil {
		return fmt.Errorf("layer %s: %w", diffID, err)
	}
	defer zr.Close()
	h, _, err := v1.SHA256(zr)
	if err != nil {
		return fmt.Errorf("layer %s: decompressing: %w", diffID, err)
	}
	if h != diffID {
		return fmt.Errorf("layer %s: its content has digest %s: the cache was tampered with or damaged", diffID, h)
	}
	return nil
}

// verifyStored checks that the stored blob desc decompresses to diffID.
func verifyStored(st *store.Store, desc v1.Descriptor, diffID v1.Hash) error {
	f, err := st.OpenBlob(desc.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- checkDiffID(pr, diffID) }()
	_, err = io.Copy(pw, f)
	pw.CloseWithError(err)
	if derr := <-done; derr != nil {
		return derr
	}
	return err
}
