package debian

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/singleflight"
)

// Client fetches and verifies InRelease files, Packages indexes and .deb
// files, caching verified indexes and .debs by SHA256. A Client is safe for
// concurrent use.
type Client struct {
	http         *http.Client
	cache        *blobCache
	now          func() time.Time
	concurrency  int
	retries      int
	backoff      time.Duration
	idleTimeout  time.Duration
	verifyCached bool
	flight       singleflight.Group
}

// Option configures a Client.
type Option func(*Client) error

// WithCacheDir sets the cache directory. Default: "whittle/debian" under
// os.UserCacheDir() ($XDG_CACHE_HOME or ~/.cache).
func WithCacheDir(dir string) Option {
	return func(c *Client) error {
		if dir == "" {
			return fmt.Errorf("empty cache directory")
		}
		c.cache = &blobCache{dir: dir}
		return nil
	}
}

// WithHTTPClient sets the HTTP client. Default: a client that takes its
// proxy from the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), dials
// with a 30 s timeout, waits at most 60 s for response headers, and
// serves file:// URLs from the local file system.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) error {
		c.http = h
		return nil
	}
}

// WithClock sets the clock used to check Valid-Until, Date and key
// expiry. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *Client) error {
		c.now = now
		return nil
	}
}

// WithConcurrency bounds parallel downloads. Default 4.
func WithConcurrency(n int) Option {
	return func(c *Client) error {
		if n < 1 {
			return fmt.Errorf("concurrency %d: want at least 1", n)
		}
		c.concurrency = n
		return nil
	}
}

// WithRetries sets how many times a transient failure (connection error,
// timeout, HTTP 5xx, 408 or 429, a truncated body) is retried, with
// exponential backoff from 500 ms. Verification failures are never
// retried. Default 3.
func WithRetries(n int) Option {
	return func(c *Client) error {
		if n < 0 {
			return fmt.Errorf("retries %d: want at least 0", n)
		}
		c.retries = n
		return nil
	}
}

// WithIdleTimeout aborts a download that receives no bytes for d. Default
// 60 s.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *Client) error {
		c.idleTimeout = d
		return nil
	}
}

// WithVerifyCached makes Fetch re-hash cached .debs before reusing them.
// Default false: a cached .deb is reused when its size matches (it was
// hashed when it was written, and the cache is content-addressed and
// written atomically).
func WithVerifyCached(full bool) Option {
	return func(c *Client) error {
		c.verifyCached = full
		return nil
	}
}

// withBackoff sets the first retry delay (a test seam).
func withBackoff(d time.Duration) Option {
	return func(c *Client) error {
		c.backoff = d
		return nil
	}
}

// New returns a Client configured by opts.
func New(opts ...Option) (*Client, error) {
	c := &Client{
		now:         time.Now,
		concurrency: 4,
		retries:     3,
		backoff:     500 * time.Millisecond,
		idleTimeout: 60 * time.Second,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("configuring debian client: %w", err)
		}
	}
	if c.cache == nil {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("configuring debian client: no cache directory given and %w", err)
		}
		c.cache = &blobCache{dir: filepath.Join(base, "whittle", "debian")}
	}
	if c.http == nil {
		c.http = defaultHTTPClient()
	}
	return c, nil
}

// defaultHTTPClient is net/http with explicit timeouts, proxies from the
// environment, and file:// support for local mirrors.
func defaultHTTPClient() *http.Client {
	t := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	t.RegisterProtocol("file", http.NewFileTransport(http.Dir("/")))
	return &http.Client{Transport: t}
}

// CacheDir returns the cache directory.
func (c *Client) CacheDir() string { return c.cache.dir }
