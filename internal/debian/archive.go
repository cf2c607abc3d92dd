package debian

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sync/errgroup"
)

// maxInRelease bounds the size of an InRelease file (Debian's are ~150 KB).
const maxInRelease = 64 << 20

// maxIndex bounds an uncompressed Packages index whose size the Release
// does not state.
const maxIndex = 2 << 30

// Release fetches dists/<suite>/InRelease from repo and verifies it with
// VerifyInRelease against repo.Keyring and the client's clock. The
// InRelease is always fetched (never cached), so Valid-Until protects
// against replayed old archives.
func (c *Client) Release(ctx context.Context, repo Repository) (*Release, error) {
	url := repo.URL + "/dists/" + repo.Suite + "/InRelease"
	data, err := c.fetchBytes(ctx, url, maxInRelease)
	if err != nil {
		return nil, fmt.Errorf("fetching release of %s: %w", repo, err)
	}
	rel, err := VerifyInRelease(data, repo.Keyring, repo.Suite, c.now())
	if err != nil {
		if ve, ok := err.(*VerifyError); ok {
			ve.Where = url
		}
		return nil, err
	}
	return rel, nil
}

// indexCompressions are the Packages index forms tried, fastest to
// decompress first.
var indexCompressions = []string{".gz", ".xz", ".zst", ".bz2", ""}

// Packages fetches the Packages index of one component and architecture
// that rel (a verified Release of repo) lists, checks it against the
// Release's size and SHA256, and parses it. With Acquire-By-Hash the index
// is fetched as by-hash/SHA256/<hex> (falling back to the plain name when
// the mirror lacks it). The uncompressed index is cached under its own
// SHA256 when the Release lists it, and re-hashed on every reuse. The
// packages carry repo's URL, suite and component.
func (c *Client) Packages(ctx context.Context, repo Repository, rel *Release, component, arch string) ([]*Package, IndexSource, error) {
	dir := component + "/binary-" + arch + "/"
	plain, hasPlain := rel.SHA256[dir+"Packages"]
	var (
		name string
		fh   FileHash
	)
	for _, ext := range indexCompressions {
		if h, ok := rel.SHA256[dir+"Packages"+ext]; ok {
			name, fh = dir+"Packages"+ext, h
			break
		}
	}
	if name == "" {
		return nil, IndexSource{}, fmt.Errorf("the Release of %s lists no Packages index for %s (components: %s; architectures: %s)",
			repo, strings.TrimSuffix(dir, "/"), strings.Join(rel.Components, " "), strings.Join(rel.Architectures, " "))
	}
	src := IndexSource{Suite: repo.Suite, Component: component, Path: name, SHA256: fh.SHA256, Size: fh.Size, ReleaseDate: rel.Date}
	what := "dists/" + repo.Suite + "/" + name

	var data []byte
	if hasPlain {
		if p, ok, err := c.cache.lookup(plain, true); err != nil {
			return nil, src, err
		} else if ok {
			if data, err = os.ReadFile(p); err != nil {
				return nil, src, fmt.Errorf("reading cached %s: %w", what, err)
			}
		}
	}
	if data == nil {
		blob, err := c.fetchIndex(ctx, repo, rel, name, fh)
		if err != nil {
			return nil, src, err
		}
		limit := int64(maxIndex)
		if hasPlain {
			limit = plain.Size
		}
		data, err = decompressFile(blob, path.Ext(name), limit)
		if err != nil {
			return nil, src, fmt.Errorf("decompressing %s: %w", what, err)
		}
		if hasPlain && path.Ext(name) != "" {
			sum := sha256.Sum256(data)
			if int64(len(data)) != plain.Size || hex.EncodeToString(sum[:]) != plain.SHA256 {
				return nil, src, &VerifyError{What: what, Where: repo.URL, Reason: "uncompressed content does not match the Release's Packages entry"}
			}
			if _, err := c.cache.store(bytes.NewReader(data), plain, what); err != nil {
				return nil, src, err
			}
			// The uncompressed copy is cached; the compressed one is no
			// longer needed.
			_ = os.Remove(blob)
		}
	}
	pkgs, err := ParsePackages(what, data)
	if err != nil {
		return nil, src, err
	}
	for _, p := range pkgs {
		p.Suite, p.Component, p.URL = repo.Suite, component, repo.URL
	}
	return pkgs, src, nil
}

// fetchIndex downloads an index file named in rel into the cache, verified
// against fh, and returns its path.
func (c *Client) fetchIndex(ctx context.Context, repo Repository, rel *Release, name string, fh FileHash) (string, error) {
	if p, ok, err := c.cache.lookup(fh, true); err != nil || ok {
		return p, err
	}
	base := repo.URL + "/dists/" + repo.Suite + "/"
	if rel.AcquireByHash {
		byHash := base + path.Dir(name) + "/by-hash/SHA256/" + fh.SHA256
		p, err := c.download(ctx, byHash, fh, "dists/"+repo.Suite+"/"+name)
		if err == nil {
			return p, nil
		}
		if he, ok := err.(*HTTPError); !ok || he.StatusCode != 404 {
			return "", err
		}
	}
	return c.download(ctx, base+name, fh, "dists/"+repo.Suite+"/"+name)
}

// decompressFile reads a cached index file, decompressing by extension,
// and refuses more than limit bytes of output.
func decompressFile(p, ext string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := decompressor(bufio.NewReaderSize(f, 1<<20), ext)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("more than %d bytes uncompressed", limit)
	}
	return data, nil
}

// Index fetches and verifies the Release and the Packages indexes of every
// repository that serves arch (and "all" packages, which Debian lists in
// each architecture's index), in parallel, and overlays them in
// repository order.
func (c *Client) Index(ctx context.Context, repos []Repository, arch string) (*Index, error) {
	type part struct {
		pkgs []*Package
		src  IndexSource
	}
	var use []Repository
	for _, r := range repos {
		if r.servesArch(arch) {
			use = append(use, r)
		}
	}
	if len(use) == 0 {
		return nil, fmt.Errorf("no repository serves architecture %s", arch)
	}
	rels := make([]*Release, len(use))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency)
	for i, r := range use {
		g.Go(func() error {
			rel, err := c.Release(gctx, r)
			if err != nil {
				return err
			}
			if len(rel.Architectures) > 0 && !contains(rel.Architectures, arch) {
				return fmt.Errorf("suite %s on %s does not carry architecture %s (it has %s)", r.Suite, r.URL, arch, strings.Join(rel.Architectures, " "))
			}
			rels[i] = rel
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	parts := make([][]part, len(use))
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency)
	for i, r := range use {
		parts[i] = make([]part, len(r.Components))
		for j, comp := range r.Components {
			g.Go(func() error {
				pkgs, src, err := c.Packages(gctx, r, rels[i], comp, arch)
				if err != nil {
					return err
				}
				parts[i][j] = part{pkgs, src}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var all []*Package
	var srcs []IndexSource
	for _, ps := range parts {
		for _, p := range ps {
			all = append(all, p.pkgs...)
			srcs = append(srcs, p.src)
		}
	}
	ix, err := NewIndex(arch, all)
	if err != nil {
		return nil, err
	}
	ix.Sources = srcs
	return ix, nil
}
