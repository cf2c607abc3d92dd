package debian

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// Fetch returns the path of p's .deb in the cache, downloading it from
// p.DownloadURL() when it is not cached. The download is checked against
// p.Size and p.SHA256 while it streams and only renamed into the cache
// when both match; a mismatch is a *VerifyError. A cached .deb is reused
// when its size matches (re-hashed with WithVerifyCached). Concurrent
// fetches of one digest share a single download.
func (c *Client) Fetch(ctx context.Context, p *Package) (string, error) {
	if err := checkSHA256(p.SHA256); err != nil {
		return "", fmt.Errorf("fetching %s: %w", p, err)
	}
	if err := checkPoolPath(p.Filename); err != nil {
		return "", fmt.Errorf("fetching %s: filename: %w", p, err)
	}
	if p.Size <= 0 {
		return "", fmt.Errorf("fetching %s: unknown size", p)
	}
	want := FileHash{Size: p.Size, SHA256: p.SHA256}
	if path, ok, err := c.cache.lookup(want, c.verifyCached); err != nil || ok {
		return path, err
	}
	if p.URL == "" {
		return "", fmt.Errorf("fetching %s: not cached and no archive URL to download it from", p)
	}
	v, err, _ := c.flight.Do(p.SHA256, func() (any, error) {
		if path, ok, err := c.cache.lookup(want, false); err != nil || ok {
			return path, err
		}
		return c.download(ctx, p.DownloadURL(), want, p.Filename)
	})
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", p, err)
	}
	return v.(string), nil
}

// FetchAll fetches pkgs with at most the client's concurrency in flight
// and returns their cache paths in the same order. The first error cancels
// the rest.
func (c *Client) FetchAll(ctx context.Context, pkgs []*Package) ([]string, error) {
	paths := make([]string, len(pkgs))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency)
	for i, p := range pkgs {
		g.Go(func() error {
			path, err := c.Fetch(ctx, p)
			if err != nil {
				return err
			}
			paths[i] = path
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return paths, nil
}

// download streams url into the cache, verified against want, retrying
// transient failures (including truncated bodies).
func (c *Client) download(ctx context.Context, url string, want FileHash, what string) (string, error) {
	var path string
	err := c.retry(ctx, url, func(ctx context.Context) error {
		body, err := c.get(ctx, url)
		if err != nil {
			return err
		}
		defer body.Close()
		path, err = c.cache.store(body, want, what)
		if ve, ok := err.(*VerifyError); ok && ve.Where == "" {
			ve.Where = url
		}
		return err
	})
	return path, err
}

// Open fetches p (see Fetch) and opens the verified .deb with OpenDebFile.
// The caller closes the Deb.
func (c *Client) Open(ctx context.Context, p *Package) (*Deb, error) {
	path, err := c.Fetch(ctx, p)
	if err != nil {
		return nil, err
	}
	return OpenDebFile(path)
}
