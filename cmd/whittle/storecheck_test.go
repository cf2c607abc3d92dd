package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// checkStore reads the store at root as an outsider would and returns every
// inconsistency it finds: index.json and oci-layout parse; each manifest that
// index.json names, each manifest of a named index, and each config and layer
// those manifests reference exist as blobs whose size and sha256 match their
// descriptors; each config's diffIDs match its layers in number; each cache
// record parses; and no blob in blobs/sha256 has content other than its name
// says (a truncated or half-written blob that looks present).
func checkStore(root string) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if b, err := os.ReadFile(filepath.Join(root, "oci-layout")); err != nil {
		fail("oci-layout: %v", err)
	} else if !strings.Contains(string(b), `"imageLayoutVersion"`) {
		fail("oci-layout: %q", b)
	}
	raw, err := os.ReadFile(filepath.Join(root, "index.json"))
	if err != nil {
		return fmt.Errorf("index.json: %w", err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return fmt.Errorf("index.json does not parse: %w\n%s", err, raw)
	}
	for _, d := range idx.Manifests {
		if err := checkManifest(root, d); err != nil {
			fail("index.json entry %s (%s): %w", d.Annotations["org.opencontainers.image.ref.name"], d.Digest, err)
		}
	}

	blobs, err := os.ReadDir(filepath.Join(root, "blobs", "sha256"))
	if err != nil {
		fail("blobs: %v", err)
	}
	for _, e := range blobs {
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if err := verifyBlob(root, v1.Descriptor{Digest: h, Size: -1}); err != nil {
			fail("blob %s: %w", h, err)
		}
	}

	records, _ := os.ReadDir(filepath.Join(root, "cache", "sha256"))
	for _, e := range records {
		b, err := os.ReadFile(filepath.Join(root, "cache", "sha256", e.Name()))
		if err != nil {
			fail("cache record %s: %v", e.Name(), err)
			continue
		}
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(b, &rec); err != nil {
			fail("cache record %s does not parse: %v", e.Name(), err)
		}
	}
	return errors.Join(errs...)
}

// checkManifest verifies the manifest (or index) d and what it references.
func checkManifest(root string, d v1.Descriptor) error {
	if err := verifyBlob(root, d); err != nil {
		return err
	}
	b, err := os.ReadFile(blobPath(root, d.Digest))
	if err != nil {
		return err
	}
	if d.MediaType.IsIndex() {
		im, err := v1.ParseIndexManifest(strings.NewReader(string(b)))
		if err != nil {
			return fmt.Errorf("index does not parse: %w", err)
		}
		var errs []error
		for _, c := range im.Manifests {
			if _, err := os.Stat(blobPath(root, c.Digest)); err != nil {
				continue // a platform the store did not pull
			}
			errs = append(errs, checkManifest(root, c))
		}
		return errors.Join(errs...)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(b)))
	if err != nil {
		return fmt.Errorf("manifest does not parse: %w", err)
	}
	var errs []error
	if err := verifyBlob(root, m.Config); err != nil {
		errs = append(errs, fmt.Errorf("config %s: %w", m.Config.Digest, err))
	} else if cb, err := os.ReadFile(blobPath(root, m.Config.Digest)); err == nil {
		cf, err := v1.ParseConfigFile(strings.NewReader(string(cb)))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("config %s does not parse: %w", m.Config.Digest, err))
		case len(cf.RootFS.DiffIDs) != len(m.Layers):
			errs = append(errs, fmt.Errorf("config has %d diffIDs for %d layers", len(cf.RootFS.DiffIDs), len(m.Layers)))
		}
	}
	for _, l := range m.Layers {
		if err := verifyBlob(root, l); err != nil {
			errs = append(errs, fmt.Errorf("layer %s: %w", l.Digest, err))
		}
	}
	return errors.Join(errs...)
}

func blobPath(root string, h v1.Hash) string {
	return filepath.Join(root, "blobs", h.Algorithm, h.Hex)
}

// verifyBlob checks that the blob of d exists and has its digest and (when
// d.Size >= 0) its size.
func verifyBlob(root string, d v1.Descriptor) error {
	if d.Digest.Algorithm != "sha256" {
		return fmt.Errorf("digest %q is not sha256", d.Digest)
	}
	f, err := os.Open(blobPath(root, d.Digest))
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Digest.Hex {
		return fmt.Errorf("content has digest sha256:%s (%d bytes)", got, n)
	}
	if d.Size >= 0 && n != d.Size {
		return fmt.Errorf("%d bytes, the descriptor says %d", n, d.Size)
	}
	return nil
}
