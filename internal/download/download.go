package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/store"
)

// Fetcher downloads files into a store.
type Fetcher struct {
	st     *store.Store
	client *http.Client
}

// New returns a Fetcher that keeps files in st and downloads with client;
// nil means a client with the default transport (proxies from the
// environment, no overall timeout: ctx bounds each request).
func New(st *store.Store, client *http.Client) *Fetcher {
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport}
	}
	return &Fetcher{st: st, client: client}
}

// File is a downloaded file.
type File struct {
	// URL is where it came from.
	URL string
	// Digest is the sha256 of its content, a blob in the store.
	Digest v1.Hash
	// LastModified is the server's Last-Modified time; zero when it sent none.
	LastModified time.Time
}

// record is what the store keeps for a URL.
type record struct {
	Kind         string  `json:"kind"`
	URL          string  `json:"url"`
	ETag         string  `json:"etag,omitempty"`
	LastModified string  `json:"lastModified,omitempty"`
	Digest       v1.Hash `json:"digest"`
}

const recordKind = "whittle.download.v1"

// recordKey is the store key of a URL's record.
func recordKey(u string) v1.Hash {
	sum := sha256.Sum256([]byte(recordKind + "\x00" + u))
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func (f *Fetcher) load(u string) *record {
	rec, err := f.st.Cache(recordKey(u))
	if err != nil {
		return nil
	}
	var r record
	if err := json.Unmarshal(rec.Value, &r); err != nil || r.Kind != recordKind || r.URL != u || !f.st.HasBlob(r.Digest) {
		return nil
	}
	return &r
}

func (f *Fetcher) save(r *record) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return f.st.PutCache(recordKey(r.URL), &store.CacheRecord{Blobs: []v1.Hash{r.Digest}, Value: v})
}

func (r *record) file() *File {
	fl := &File{URL: r.URL, Digest: r.Digest}
	if r.LastModified != "" {
		if t, err := http.ParseTime(r.LastModified); err == nil {
			fl.LastModified = t.UTC()
		}
	}
	return fl
}

// Resolve returns what u holds now. When the store has an earlier download
// of u with an ETag, the request carries If-None-Match and a 304 answer
// costs no transfer; otherwise the content is downloaded into the store.
func (f *Fetcher) Resolve(ctx context.Context, u string) (*File, error) {
	prev := f.load(u)
	req, err := f.request(ctx, u)
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", redact(u), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		if prev == nil {
			return nil, fmt.Errorf("downloading %s: the server answered 304 Not Modified to an unconditional request", redact(u))
		}
		if et := etag(resp.Header.Get("ETag")); et == "" || et == etag(prev.ETag) {
			return prev.file(), nil
		}
		return nil, fmt.Errorf("downloading %s: the server answered 304 Not Modified for another ETag (%s)", redact(u), resp.Header.Get("ETag"))
	}
	return f.store(u, resp, v1.Hash{})
}

// Fetch returns u's content, which must have digest want (ADD --checksum):
// from the store when an earlier download of u had it, else downloaded and
// verified. A mismatch is an error and nothing is kept.
func (f *Fetcher) Fetch(ctx context.Context, u string, want v1.Hash) (*File, error) {
	if prev := f.load(u); prev != nil && prev.Digest == want {
		return prev.file(), nil
	}
	req, err := f.request(ctx, u)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", redact(u), unwrapURLError(err))
	}
	defer resp.Body.Close()
	return f.store(u, resp, want)
}

// Open opens the content of fl.
func (f *Fetcher) Open(fl *File) (*os.File, error) {
	return f.st.OpenBlob(fl.Digest)
}

func (f *Fetcher) request(ctx context.Context, u string) (*http.Request, error) {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return nil, fmt.Errorf("downloading %s: not an http(s) URL", redact(u))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", redact(u), err)
	}
	req.Header.Set("User-Agent", "whittle")
	return req, nil
}

// store writes a 2xx response's body into the store and records it.
func (f *Fetcher) store(u string, resp *http.Response, want v1.Hash) (*File, error) {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("downloading %s: %s", redact(u), resp.Status)
	}
	sum := sha256.New()
	body := &readErr{r: resp.Body}
	h, _, err := f.st.WriteBlob(io.TeeReader(body, sum), want)
	if err != nil {
		got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum.Sum(nil))}
		if body.err == nil && want != (v1.Hash{}) && got != want {
			return nil, fmt.Errorf("downloading %s: digest mismatch: got %s, expected %s (--checksum)", redact(u), got, want)
		}
		return nil, fmt.Errorf("downloading %s: %w", redact(u), err)
	}
	r := &record{Kind: recordKind, URL: u, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), Digest: h}
	if err := f.save(r); err != nil {
		return nil, err
	}
	return r.file(), nil
}

// etag drops the weak marker, for comparison.
func etag(v string) string { return strings.TrimPrefix(v, "W/") }

// redact hides a password in a URL.
func redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	return pu.Redacted()
}

// unwrapURLError drops net/http's *url.Error, whose message repeats the
// URL (with its password).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Name is the file name BuildKit gives a download: the last element of
// the URL's path, or "__unnamed__" when it has none. (ADD names the file
// itself, so a Content-Disposition header is not consulted.)
func Name(u string) string {
	if pu, err := url.Parse(u); err == nil {
		if base := path.Base(pu.Path); base != "." && base != "/" {
			return base
		}
	}
	return "__unnamed__"
}

// readErr remembers a read error other than EOF, to tell a broken
// transfer from a digest mismatch.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
